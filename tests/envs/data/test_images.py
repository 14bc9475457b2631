"""Image files at the door and at reset: the header and full checks chosen by ``validate``, JPEG corruption that
libjpeg only reports on stderr, trailing bytes that are not corruption, and the decoded pixels staying OpenCV's."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from facebox.config import ConfigError
from facebox.envs.data import open_dataset, read_image
from facebox.envs.data.formats import load_csv
from facebox.envs.data.images import check_image, image_size


def _jpeg(seed: int = 0) -> bytes:
    """A smooth 160x120 JPEG: noise blurred so that the scan data is dense with ordinary Huffman codes."""
    noise = np.random.default_rng(seed).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    return cv2.imencode(".jpg", cv2.GaussianBlur(noise, (7, 7), 0))[1].tobytes()


def _corrupt_scan(data: bytes, seed: int = 0) -> bytes:
    """20 bytes of the entropy-coded scan overwritten (the end-of-image marker untouched): libjpeg decodes it with
    a 'Corrupt JPEG data' warning and grey or garbled blocks."""
    sos = data.index(b"\xff\xda")
    start = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    rng = np.random.default_rng(seed)
    out = bytearray(data)
    for position in rng.integers(start, len(data) - 2, 20):
        out[position] = int(rng.integers(0, 256))
    return bytes(out)


def _table(tmp_path: Path, images: dict[str, bytes]) -> Path:
    """A CSV of one face per image, the images written beside it."""
    for name, data in images.items():
        (tmp_path / name).write_bytes(data)
    table = tmp_path / "faces.csv"
    table.write_text("image,x1,y1,x2,y2\n" + "".join(f"{name},1,1,10,10\n" for name in images))
    return table


def test_a_bad_image_fails_when_the_dataset_is_opened(tmp_path: Path) -> None:
    table = _table(tmp_path, {"a.jpg": _jpeg(), "b.jpg": b"this is not an image" * 10, "c.jpg": b""})
    with pytest.raises(ValueError, match=re.escape(f"{table}:3: {tmp_path / 'b.jpg'}: not an image")):
        open_dataset(f"csv:{table}")
    table = _table(tmp_path, {"a.jpg": _jpeg(), "c.jpg": b""})
    with pytest.raises(ValueError, match=re.escape(f"{table}:3: {tmp_path / 'c.jpg'}: an empty file")):
        load_csv(table)
    assert len(load_csv(table, validate="none")) == 2  # no check: the bad file is found when it is read
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'c.jpg'}: image file is empty")):
        load_csv(table, validate="none")[1]


def test_an_image_opencv_cannot_decode_fails_at_open(tmp_path: Path) -> None:
    Image.new("RGB", (16, 12)).save(tmp_path / "a.tga")  # Pillow reads TGA, OpenCV does not
    assert cv2.imread(str(tmp_path / "a.tga")) is None
    table = tmp_path / "faces.csv"
    table.write_text("image,x1,y1,x2,y2\na.tga,1,1,10,10\n")
    with pytest.raises(ValueError, match=re.escape(f"{table}:2: {tmp_path / 'a.tga'}: OpenCV cannot decode TGA")):
        load_csv(table)


def test_validate_option_values(tmp_path: Path) -> None:
    table = _table(tmp_path, {"a.jpg": _jpeg()})
    message = r"option 'validate' expects one of \('header', 'full', 'none'\), got 'fast'"
    with pytest.raises(ConfigError, match=re.escape(f"data spec 'csv:{table}?validate=fast': ") + message):
        open_dataset(f"csv:{table}?validate=fast")
    with pytest.raises(ConfigError, match=r"validate='fast': expected one of \('header', 'full', 'none'\)"):
        load_csv(table, validate="fast")  # called from Python, without a spec
    for mode in ("header", "full", "none"):
        assert len(open_dataset(f"csv:{table}?validate={mode}")) == 1


def test_full_check_finds_truncated_and_corrupt_jpegs_at_open(tmp_path: Path) -> None:
    jpeg = _jpeg()
    table = _table(tmp_path, {"a.jpg": jpeg, "cut.jpg": jpeg[: len(jpeg) // 2], "bad.jpg": _corrupt_scan(jpeg)})
    assert len(load_csv(table)) == 3  # intact headers: the header check cannot tell
    with pytest.raises(ValueError, match=re.escape(f"{table}:3: {tmp_path / 'cut.jpg'}: corrupt or truncated")):
        load_csv(table, validate="full")
    table = _table(tmp_path, {"a.jpg": jpeg, "bad.jpg": _corrupt_scan(jpeg)})
    with pytest.raises(ValueError, match=re.escape(f"{table}:3: {tmp_path / 'bad.jpg'}: corrupt JPEG data")):
        load_csv(table, validate="full")


def test_corrupt_and_truncated_jpegs_are_rejected_on_read(tmp_path: Path) -> None:
    jpeg = _jpeg()
    bad, cut = tmp_path / "bad.jpg", tmp_path / "cut.jpg"
    bad.write_bytes(_corrupt_scan(jpeg))
    cut.write_bytes(jpeg[: len(jpeg) * 2 // 3])
    assert cv2.imread(str(bad)) is not None and cv2.imread(str(cut)) is not None  # OpenCV alone decodes both
    with pytest.raises(ValueError, match=re.escape(f"{bad}: corrupt JPEG data (libjpeg: Corrupt JPEG data: ")):
        read_image(bad)
    with pytest.raises(ValueError, match=re.escape(f"{cut}: corrupt or truncated image (image file is truncated")):
        read_image(cut)
    with pytest.raises(ValueError, match="validate=full"):  # the error at reset says how to find them all first
        read_image(cut)


def test_valid_jpegs_with_trailing_bytes_keep_opencvs_pixels(tmp_path: Path) -> None:
    """Phones append data after the end-of-image marker; the decoded pixels are OpenCV's, as before, every read."""
    jpeg = _jpeg(2)
    clean, tail = tmp_path / "clean.jpg", tmp_path / "tail.jpg"
    clean.write_bytes(jpeg)
    tail.write_bytes(jpeg + b"\x00trailing garbage\xff" * 20)
    expected = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_UNCHANGED)[:, :, ::-1]
    for path in (clean, tail, tail):  # first read (checked) and a later one (decoded only)
        assert np.array_equal(read_image(path), expected)
    assert check_image(tail, "full") == (160, 120)


def test_benign_libjpeg_warnings_pass_to_stderr(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    data = bytearray(_jpeg(3))
    data[data.index(b"JFIF\x00") + 5] = 2  # JFIF version 2.01: libjpeg warns, the pixels are fine
    path = tmp_path / "v2.jpg"
    path.write_bytes(bytes(data))
    assert read_image(path).shape == (120, 160, 3)
    assert "unknown JFIF revision number 2.01" in capfd.readouterr().err


def test_image_size_reads_the_header(tmp_path: Path) -> None:
    assert cv2.imwrite(str(tmp_path / "a.png"), np.zeros((30, 70), np.uint16))
    assert image_size(tmp_path / "a.png") == (70, 30)
    assert check_image(tmp_path / "a.png", "none") is None
    with pytest.raises(FileNotFoundError, match=re.escape(f"x.txt:4: {tmp_path / 'b.png'}: no such image file")):
        image_size(tmp_path / "b.png", "x.txt:4")
