"""Property tests of the door: loaders over randomly mutated annotation files and images raise only clear errors.

Whatever bytes a broken download or a careless edit leaves, opening a dataset either gives records whose boxes lie
inside their images (and decode to the same boxes), or raises ``ValueError`` / ``FileNotFoundError`` (``ConfigError``
is a ``ValueError``) whose message names the annotation file -- never an ``IndexError``, ``TypeError``,
``struct.error``, ... from deep inside a parser, and never a box outside its image.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from facebox.envs.data.formats import load_csv, load_fddb, load_voc, load_wider

WIDTH, HEIGHT = 100, 80

# Fragments that reach the parsers' number and layout checks, beside random bytes that mostly break the text.
_TOKENS = [b"-", b"0", b"9", b"-1", b".", b"1e30", b"nan", b"inf", b" ", b"\n", b"\t", b",", b";", b"<", b"/>", b"\xff"]

ANNOTATIONS = {
    "wider": (
        "gt.txt",
        b"e/a.jpg\n2\n10 20 30 40 1 0 0 0 2 1\n5 5 60 10 0 0 0 1 0 0\ne/b.jpg\n1\n1 2 3 4 0 1 1 1 0 0\n",
        load_wider,
    ),
    "fddb": (
        "FDDB-fold-01-ellipseList.txt",
        b"e/a\n2\n20 10 1.57 50 40 1\n10 8 0 80 60 1\ne/b\n1\n9 6 0.1 20 20 1\n",
        load_fddb,
    ),
    "csv": (
        "faces.csv",
        b"image,x,y,w,h,kind\ne/a.jpg,10,20,30,40,human\ne/b.jpg,1,2,3,4,\ne/a.jpg,50,5,60,10,animal\n",
        load_csv,
    ),
    "voc": (
        "a.xml",
        b"<annotation><filename>e/a.jpg</filename><size><width>100</width><height>80</height></size>\n"
        b"<object><name>face</name><bndbox><xmin>11</xmin><ymin>21</ymin><xmax>40</xmax><ymax>60</ymax></bndbox>"
        b"</object>\n<object><name>face</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>100</xmax><ymax>80</ymax>"
        b"</bndbox></object>\n</annotation>\n",
        load_voc,
    ),
}


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` after 1-3 random edits: a byte overwritten, a few deleted or inserted, a token inserted (the most
    likely edit, since random bytes rarely get past the text decoding), or the file cut short."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        edit = draw(st.sampled_from(["overwrite", "delete", "insert", "token", "token", "token", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if edit == "overwrite" and data:
            data[at] = draw(st.integers(0, 255))
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif edit == "token":
            data[at:at] = draw(st.sampled_from(_TOKENS))
        else:
            del data[at:]
    return bytes(data)


def _jpeg() -> bytes:
    noise = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    return cv2.imencode(".jpg", cv2.GaussianBlur(noise, (5, 5), 0))[1].tobytes()


def _check_opened(ds) -> None:
    """Every record decodes, its boxes have area and lie inside its image, and decoding changes none of them."""
    for i, e in enumerate(ds.entries):
        face = ds[i]
        height, width = face.image.shape[:2]
        assert np.isfinite(e.boxes).all() and (e.boxes[:, 2:] > e.boxes[:, :2]).all()
        assert (e.boxes >= 0).all() and (e.boxes[:, 0::2] <= width).all() and (e.boxes[:, 1::2] <= height).all()
        assert np.array_equal(face.boxes, e.boxes)


def _names(error: Exception, *files: Path) -> bool:
    return isinstance(error, (ValueError, FileNotFoundError)) and any(str(f) in str(error) for f in files)


@pytest.mark.parametrize("fmt", sorted(ANNOTATIONS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_annotation_files_open_or_raise_naming_the_file(tmp_path: Path, fmt: str, data: st.DataObject):
    name, original, loader = ANNOTATIONS[fmt]
    jpeg = _jpeg()
    for image in ("a.jpg", "b.jpg"):
        (tmp_path / "images" / "e").mkdir(parents=True, exist_ok=True)
        (tmp_path / "images" / "e" / image).write_bytes(jpeg)
    folder = tmp_path / "images"  # FDDB, CSV and VOC look for images beside the annotation, WIDER in images/
    annotation = (tmp_path if fmt == "wider" else folder) / name
    annotation.write_bytes(data.draw(mutated(original), label="annotation"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # WIDER counts the zero-size boxes it drops
            ds = loader(annotation)
    except Exception as error:  # noqa: BLE001 -- the property is about which exceptions come out
        event(f"raised {type(error).__name__}")
        assert _names(error, annotation), f"{type(error).__name__}: {error}"
        return
    event("opened")
    _check_opened(ds)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), validate=st.sampled_from(["header", "full"]))
def test_mutated_images_open_or_raise_naming_the_image(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, validate: str
):
    """A broken image fails at open (``full`` finds what the decoders can tell), or at the latest when it is read,
    with an error naming it (or the table's line, when a changed header size leaves the box outside); whatever
    decodes has its boxes inside it."""
    folder = tmp_path_factory.mktemp("images")  # a new file for every example
    image = folder / "a.jpg"
    image.write_bytes(data.draw(mutated(_jpeg()), label="image"))
    table = folder / "faces.csv"
    table.write_text("image,x1,y1,x2,y2\na.jpg,10,10,40,30\n")
    try:
        ds = load_csv(table, validate=validate)
        event(f"{validate}: opened")
        _check_opened(ds)
        event(f"{validate}: decoded")
    except Exception as error:  # noqa: BLE001 -- the property is about which exceptions come out
        event(f"{validate}: raised {type(error).__name__}")
        assert _names(error, image, table), f"{type(error).__name__}: {error}"  # the table when boxes leave it
