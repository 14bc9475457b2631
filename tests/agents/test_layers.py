"""Layer tables against hand-computed sizes, weights and neurons for a 32×32×3 input."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

pytest.importorskip("stable_baselines3")

from facebox.agents.encoders import SCRATCH_ENCODERS, encoder_policy_kwargs  # noqa: E402
from facebox.agents.layers import layer_table, main  # noqa: E402


def _summary(rows):
    return [(r.name.split(".")[-1], r.output, r.weights, r.neurons) for r in rows]


def test_cnn_table_on_32x32x3():
    # conv1 5×5, pad 1, stride 1: 32 - 5 + 2 + 1 = 30 -> 30×30×32; weights 5·5·3·32 + 32 = 2400 + 32 = 2432
    # pool1 2/2: 15×15×32
    # conv2 3×3, pad 1 keeps 15: 15×15×64; weights 3·3·32·64 + 64 = 18432 + 64 = 18496
    # pool2: floor(15 / 2) = 7 -> 7×7×64
    # conv3: 7×7×128; weights 3·3·64·128 + 128 = 73728 + 128 = 73856
    # pool3: 3×3×128 = 1152 features
    # fc: 1152·500 + 500 = 576000 + 500 = 576500
    expected = [
        ("conv1", (30, 30, 32), 2432, 30 * 30 * 32),  # 28800 neurons
        ("pool1", (15, 15, 32), 0, 15 * 15 * 32),  # 7200
        ("conv2", (15, 15, 64), 18496, 15 * 15 * 64),  # 14400
        ("pool2", (7, 7, 64), 0, 7 * 7 * 64),  # 3136
        ("conv3", (7, 7, 128), 73856, 7 * 7 * 128),  # 6272
        ("pool3", (3, 3, 128), 0, 3 * 3 * 128),  # 1152
        ("fc", (500,), 576500, 500),
    ]
    rows = layer_table("cnn", 32)
    assert _summary(rows) == expected
    # weights 2432 + 18496 + 73856 + 576500 = 671284
    assert sum(r.weights for r in rows) == 671_284
    # neurons 28800 + 7200 + 14400 + 3136 + 6272 + 1152 + 500 = 61460
    assert sum(r.neurons for r in rows) == 61_460
    assert rows[0].config == "32 × 5×5 /1 pad 1" and rows[2].config == "64 × 3×3 /1 pad 1"


def test_dwsep_table_on_32x32x3():
    # conv1 and pools as in the cnn.
    # conv2_dw 3×3 per channel: 3·3·32 + 32 = 288 + 32 = 320 -> 15×15×32
    # conv2_pw 1×1: 32·64 + 64 = 2048 + 64 = 2112 -> 15×15×64
    # conv3_dw: 3·3·64 + 64 = 576 + 64 = 640 -> 7×7×64
    # conv3_pw: 64·128 + 128 = 8192 + 128 = 8320 -> 7×7×128
    expected = [
        ("conv1", (30, 30, 32), 2432, 28800),
        ("pool1", (15, 15, 32), 0, 7200),
        ("conv2_dw", (15, 15, 32), 320, 7200),
        ("conv2_pw", (15, 15, 64), 2112, 14400),
        ("pool2", (7, 7, 64), 0, 3136),
        ("conv3_dw", (7, 7, 64), 640, 3136),
        ("conv3_pw", (7, 7, 128), 8320, 6272),
        ("pool3", (3, 3, 128), 0, 1152),
        ("fc", (500,), 576500, 500),
    ]
    rows = layer_table("dwsep", 32)
    assert _summary(rows) == expected
    # weights 2432 + 320 + 2112 + 640 + 8320 + 576500 = 590324
    assert sum(r.weights for r in rows) == 590_324
    # neurons 28800 + 7200 + 7200 + 14400 + 3136 + 3136 + 6272 + 1152 + 500 = 71796
    assert sum(r.neurons for r in rows) == 71_796
    assert rows[2].config == "32 × 3×3 /1 pad 1 groups 32"


def test_vit_table_on_32x32x3():
    # patch 8: 4×4 = 16 patches; patchify 8·8·3·64 + 64 = 12288 + 64 = 12352
    # one layer (width 64, MLP 256): qkv 3·64·64 + 3·64 = 12480, out 64·64 + 64 = 4160,
    # linear1 64·256 + 256 = 16640, linear2 256·64 + 64 = 16448, two LayerNorms 2·(64 + 64) = 256 -> 49984
    # 17 tokens (16 patches + CLS) × 64 = 1088 neurons per layer; final LayerNorm 128 weights; CLS 64
    rows = layer_table("vit", 32)
    assert _summary(rows) == [
        ("patchify", (4, 4, 64), 12352, 1024),
        ("0", (17, 64), 49984, 1088),
        ("1", (17, 64), 49984, 1088),
        ("norm", (17, 64), 128, 1088),
        ("cls", (1, 64), 64, 0),
    ]
    # 12352 + 2·49984 + 128 + 64 = 112512
    assert sum(r.weights for r in rows) == 112_512


@pytest.mark.parametrize("name", sorted(SCRATCH_ENCODERS))
@pytest.mark.parametrize(("size", "channels"), [(32, 3), (64, 4)])
def test_weight_total_is_the_parameter_count(name, size, channels):
    rows = layer_table(name, size, channels)
    kwargs = encoder_policy_kwargs(name)
    space = spaces.Dict({"image": spaces.Box(0, 255, (size, size, channels), np.uint8)})
    extractor = kwargs["features_extractor_class"](space)
    assert sum(r.weights for r in rows) == sum(p.numel() for p in extractor.parameters())


def test_options_change_the_table():
    # stride 2: floor((32 - 5 + 2) / 2) + 1 = 15 -> 15×15×16
    rows = layer_table("cnn", 32, channels=(16, 32, 64), fc=256, stride=2)
    assert rows[0].output == (15, 15, 16) and rows[0].config == "16 × 5×5 /2 pad 1"
    # pools 15 -> 7 -> 3 -> 1: 1·1·64 features; fc 64·256 + 256 = 16640
    assert rows[-1].weights == 16_640
    # keypoints 4 replace pool3 + flatten (conv3 map 3×3×64, any size works); scores 1×1: 64·4 + 4 = 260 weights;
    # out 4·(2 + 64) = 264 -> fc 264·256 + 256 = 67840
    rows = layer_table("cnn", 32, channels=(16, 32, 64), fc=256, stride=2, keypoints=4)
    assert [r.name for r in rows][-2:] == ["convs.keypoints", "head.fc"]
    assert (rows[-2].output, rows[-2].weights, rows[-2].config) == ((264,), 260, "4 keypoints (1×1 scores)")
    assert rows[-1].weights == 67_840


def test_cli_prints_every_encoder_with_totals(capsys):
    main(["--size", "32"])
    out = capsys.readouterr().out
    for name in SCRATCH_ENCODERS:
        assert f"{name} on 32×32×3" in out
    assert "671,284" in out and "590,324" in out and "112,512" in out
    main(["--encoder", "dwsep", "--size", "32", "--channels", "4"])
    out = capsys.readouterr().out
    assert "dwsep on 32×32×4" in out and "cnn on" not in out
    assert "3,232" in out  # conv1 on 4 channels: 5·5·4·32 + 32 = 3200 + 32 = 3232
