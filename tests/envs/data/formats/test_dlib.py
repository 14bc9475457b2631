"""dlib imglab XML loader: boxes, ignored boxes, landmarks, size checks, errors with file:line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from annotation_files import boxes_of, raises_at, write_image, write_text

from facebox.envs.data.formats.dlib import load_dlib_xml

DLIB_XML = """<?xml version='1.0' encoding='ISO-8859-1'?>
<?xml-stylesheet type='text/xsl' href='image_metadata_stylesheet.xsl'?>
<dataset>
<images>
  <image file='pics/a.jpg' width='100' height='80'>
    <box top='10' left='20' width='30' height='31'>
      <part name='01' x='25' y='15'/>
      <part name='00' x='21' y='11'/>
    </box>
    <box top='0' left='0' width='5' height='5' ignore='1'/>
    <box top='-4' left='90' width='20' height='20'/>
  </image>
  <image file='pics/b.jpg'>
  </image>
</images>
</dataset>
"""


def test_dlib_boxes_ignore_and_landmarks(tmp_path: Path) -> None:
    write_image(tmp_path / "pics" / "a.jpg")
    xml = write_text(tmp_path / "faces.xml", DLIB_XML)
    ds = load_dlib_xml(xml)
    assert len(ds) == 1  # b.jpg has no box (and need not exist)
    assert boxes_of(ds) == [[[20, 10, 50, 41], [90, 0, 100, 16]]]  # the second is clipped to the 100x80 image
    landmarks = ds.entries[0].attributes["landmarks"]
    assert landmarks.shape == (2, 2, 2)
    assert landmarks[0].tolist() == [[21.5, 11.5], [25.5, 15.5]]  # ordered by part name, pixel centres
    assert np.isnan(landmarks[1]).all()
    kept = load_dlib_xml(xml, kind="animal", keep_ignored=True)
    assert kept.entries[0].attributes["ignore"].tolist() == [False, True, False]
    assert kept.entries[0].kinds == ("animal",) * 3


def test_dlib_errors(tmp_path: Path) -> None:
    write_image(tmp_path / "pics" / "a.jpg")
    xml = write_text(tmp_path / "bad.xml", DLIB_XML.replace("top='10'", "top='ten'"))
    with raises_at(ValueError, xml, 6):
        load_dlib_xml(xml)
    xml = write_text(tmp_path / "gone.xml", DLIB_XML.replace("pics/a.jpg", "pics/zz.jpg"))
    with raises_at(FileNotFoundError, xml, 5):
        load_dlib_xml(xml)
    xml = write_text(tmp_path / "broken.xml", DLIB_XML.replace("</image>\n  <image", "<image", 1))
    with pytest.raises(ValueError, match=re.escape(f"{xml}:") + r"\d+: malformed XML"):
        load_dlib_xml(xml)
    xml = write_text(tmp_path / "out.xml", DLIB_XML.replace("left='90'", "left='120'"))
    with pytest.raises(ValueError, match=re.escape(f"{xml}:11") + ".*outside the 100x80 image"):
        load_dlib_xml(xml)
