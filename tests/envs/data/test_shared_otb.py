"""The OTB face sequences in the shared data folder load with the right lengths, sizes and 0-based boxes."""

from __future__ import annotations

import numpy as np
import pytest

from facebox.envs.data.sources import open_video_dataset


@pytest.fixture
def otb(shared_data):
    root = shared_data / "otb_face_sequences"
    if not root.is_dir():
        pytest.skip(f"OTB face sequences not found at {root}")
    return open_video_dataset(f"otb:{root}")


@pytest.mark.parametrize(
    ("name", "frames", "size"), [("Girl", 500, (96, 128)), ("Dudek", 20, (480, 720)), ("Surfer", 376, (360, 480))]
)
def test_shared_otb_sequences_load(otb, name, frames, size):
    seq = otb[otb.names.index(name)]
    assert len(seq) == frames
    assert np.isfinite(seq.boxes).all()  # these sequences annotate every frame
    for t in (0, frames - 1):
        frame = seq.frame(t)
        assert frame.shape == (*size, 3) and frame.dtype == np.uint8
    h, w = size
    assert (seq.boxes[:, 2] > seq.boxes[:, 0]).all() and (seq.boxes[:, 0] < w).all() and (seq.boxes[:, 1] < h).all()


def test_shared_otb_boxes_are_converted_to_zero_based_edges(otb):
    dudek = otb[otb.names.index("Dudek")]
    np.testing.assert_array_equal(dudek.boxes[0], [122, 86, 254, 262])  # OTB line 1: 123,87,132,176
    girl = otb[otb.names.index("Girl")]
    np.testing.assert_array_equal(girl.boxes[0], [56, 20, 87, 65])  # OTB line 1: 57<TAB>21<TAB>31<TAB>45 (CRLF)
