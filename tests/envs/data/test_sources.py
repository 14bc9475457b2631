"""Spec strings: every config mistake (format, option, option value, wrong type) is one ``ConfigError`` naming the
spec, the key, what was expected and what was given."""

from __future__ import annotations

import pytest

from facebox.config import ConfigError
from facebox.envs.data import open_dataset
from facebox.envs.data.sources import held_out, open_video_dataset, parse_spec
from facebox.envs.data.synthetic import SyntheticFaces


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "youtube:x",
            r"data spec 'youtube:x': unknown format 'youtube'; expected one of \['celeba', 'celeba_ids', 'coco'",
        ),
        ("synthetic?fps=3", r"'synthetic\?fps=3': unknown option 'fps'; expected one of \['animal_fraction'"),
        ("synthetic?seed=abc", r"'synthetic\?seed=abc': option 'seed' expects a whole number, got 'abc'"),
        ("synthetic?animal_fraction=lots", r"option 'animal_fraction' expects a number, got 'lots'"),
        ("synthetic?seed", r"'synthetic\?seed': expected options as key=value pairs joined by '&', got 'seed'"),
        ("wider:x?ignore_invalid=ture", r"option 'ignore_invalid' expects one of \('1', 'true'.*got 'ture'"),
        ("synthetic?size=16", "SyntheticFaces: size must be >= 32, got 16"),
        ("synthetic?box=hair", r"SyntheticFaces: box must be one of \('head', 'face'\), got 'hair'"),
    ],
)
def test_still_spec_mistakes_are_config_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_dataset(spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("youtube:x", r"unknown format 'youtube'; expected one of \['got10k', 'otb', 'stills', 'synthetic', 'video'\]"),
        ("synthetic?frames=0", "SyntheticVideos: frames must be >= 1, got 0"),
        ("synthetic?identities=1", "SyntheticVideos: identities must be >= 2, got 1"),
        ("otb:x?frame_ranges=David", "frame_ranges must map sequence names"),
    ],
)
def test_video_spec_mistakes_are_config_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_video_dataset(spec)


def test_options_convert_to_the_loader_parameter_types() -> None:
    loader, path, options = parse_spec("synthetic?seed=3&box=face", {"synthetic": SyntheticFaces})
    assert (loader, path, options) == (SyntheticFaces, None, {"seed": "3", "box": "face"})
    data = open_dataset("synthetic?seed=3&animal_fraction=0.5&box=face")
    assert (data.seed, data.animal_fraction, data.box) == (3, 0.5, "face")
    with pytest.raises(ConfigError, match="expected a data spec string or a FaceDataset, got int 3"):
        open_dataset(3)


def test_held_out_moves_the_synthetic_seed_and_refuses_real_data():
    assert held_out("synthetic", 1) == "synthetic?seed=1"
    assert held_out("synthetic?seed=4&size=96", 2) == "synthetic?seed=6&size=96"
    with pytest.raises(ConfigError, match="--eval-data"):
        held_out("csv:/nowhere.csv", 1)
    with pytest.raises(ConfigError, match=r"'synthetic\?seed=abc': option 'seed' expects a whole number, got 'abc'"):
        held_out("synthetic?seed=abc", 1)
