"""Video sources: OTB / GOT-10k / video-file loaders on tiny fixtures, and video spec strings."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest

from facebox.config import ConfigError
from facebox.envs.data.sources import VIDEO_FORMATS, open_video_dataset
from facebox.envs.data.synthetic_video import SyntheticVideos
from facebox.envs.data.video import OTB_FRAME_RANGES, VideoDataset, load_got10k, load_otb, load_video


def level(k: int) -> int:
    """The grey level of fixture frame ``k``: tells frames apart after JPEG compression."""
    return 20 + 25 * k


def write_frames(folder, numbers, digits=4, gray=False):
    folder.mkdir(parents=True, exist_ok=True)
    for k in numbers:
        shape = (12, 16) if gray else (12, 16, 3)
        cv2.imwrite(str(folder / f"{k:0{digits}d}.jpg"), np.full(shape, level(k), np.uint8))


def write_otb(root, name, frames, lines, newline="\n", gt="groundtruth_rect.txt"):
    write_frames(root / name / "img", frames)
    path = root / name / gt
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    return path


def write_got(root, name, frames, lines, absence=None):
    write_frames(root / name, frames, digits=8)
    path = root / name / "groundtruth.txt"
    path.write_text("\n".join(lines) + "\n")
    if absence is not None:
        (root / name / "absence.label").write_text("\n".join(absence) + "\n")
    return path


# ---------------------------------------------------------------------------------------------------------- OTB


@pytest.mark.parametrize("sep", [",", "\t", " ", ", ", "  "])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_otb_separators_and_one_based_conversion(tmp_path, sep, newline):
    lines = [sep.join(v) for v in (("11", "21", "5", "7"), ("1", "1", "16", "12"), ("2.5", "3", "4", "4"))]
    write_otb(tmp_path, "Tiny", range(1, 4), lines, newline)
    (seq,) = load_otb(tmp_path / "Tiny")
    assert seq.name == "Tiny" and len(seq) == 3
    np.testing.assert_array_equal(seq.boxes, [[10, 20, 15, 27], [0, 0, 16, 12], [1.5, 2, 5.5, 6]])
    assert seq.boxes.dtype == np.float32


def test_otb_frames_are_read_lazily_in_order(tmp_path):
    write_otb(tmp_path, "Tiny", range(1, 4), ["1,1,4,4"] * 3)
    (seq,) = load_otb(tmp_path / "Tiny")
    for t in (2, 0, 1):
        frame = seq.frame(t)
        assert frame.shape == (12, 16, 3) and frame.dtype == np.uint8
        assert abs(int(frame.mean()) - level(t + 1)) <= 2
    assert not seq.frame(0).flags.writeable  # cached frames are shared: callers copy before drawing
    np.testing.assert_array_equal(seq.frame(-1), seq.frame(2))
    with pytest.raises(IndexError, match="frame 3 out of range"):
        seq.frame(3)


def test_otb_grayscale_frames_become_rgb(tmp_path):
    write_frames(tmp_path / "Gray" / "img", range(1, 3), gray=True)
    (tmp_path / "Gray" / "groundtruth_rect.txt").write_text("1,1,4,4\n1,1,4,4\n")
    (seq,) = load_otb(tmp_path / "Gray")
    frame = seq.frame(1)
    assert frame.shape == (12, 16, 3)
    assert (frame[..., 0] == frame[..., 1]).all() and (frame[..., 1] == frame[..., 2]).all()


def test_otb_folder_of_sequences_and_selection(tmp_path):
    for name in ("Bravo", "Alpha"):
        write_otb(tmp_path, name, range(1, 3), ["1,1,4,4"] * 2)
    (tmp_path / "not_a_sequence").mkdir()
    assert load_otb(tmp_path).names == ["Alpha", "Bravo"]
    assert load_otb(tmp_path, sequences=("Bravo",)).names == ["Bravo"]
    with pytest.raises(ConfigError, match=r"no sequence named 'Charlie'; found \['Alpha', 'Bravo'\]"):
        load_otb(tmp_path, sequences=("Charlie",))
    with pytest.raises(FileNotFoundError, match="neither a OTB sequence folder"):
        load_otb(tmp_path / "not_a_sequence")


def test_otb_two_target_sequences_and_empty_annotation(tmp_path):
    write_otb(tmp_path, "Jog", range(1, 3), ["1,1,4,4", "2,2,4,4"], gt="groundtruth_rect.1.txt")
    write_otb(tmp_path, "Jog", range(1, 3), ["5,5,4,4", "6,6,4,4"], gt="groundtruth_rect.2.txt")
    (tmp_path / "Jog" / "groundtruth_rect.3.txt").write_text("")
    data = load_otb(tmp_path)
    assert data.names == ["Jog.1", "Jog.2"]
    np.testing.assert_array_equal(data[1].boxes[0], [4, 4, 8, 8])


def test_otb_frame_range_maps_line_i_to_the_ith_frame_of_the_range(tmp_path):
    gt = write_otb(tmp_path, "Tiny", range(1, 7), ["1,1,4,4", "2,2,4,4", "3,3,4,4"])
    (seq,) = load_otb(tmp_path / "Tiny", frame_ranges={"Tiny": (3, 5)})
    assert len(seq) == 3
    assert abs(int(seq.frame(0).mean()) - level(3)) <= 2
    assert abs(int(seq.frame(2).mean()) - level(5)) <= 2
    np.testing.assert_array_equal(seq.boxes[2], [2, 2, 6, 6])
    with pytest.raises(ValueError, match=f"{gt}: 3 ground-truth lines.*frames 2-5"):
        load_otb(tmp_path / "Tiny", frame_ranges={"Tiny": (2, 5)})
    with pytest.raises(ValueError, match="3 ground-truth lines for 6 frames"):  # no range: all frames count
        load_otb(tmp_path / "Tiny", frame_ranges={})
    with pytest.raises(ConfigError, match="frame_ranges must map"):
        load_otb(tmp_path / "Tiny", frame_ranges="Tiny:3-5")


def test_otb_known_frame_range_exceptions():
    assert OTB_FRAME_RANGES["David"] == (300, 770)
    assert OTB_FRAME_RANGES["Freeman3"] == (1, 460)
    assert OTB_FRAME_RANGES["Freeman4"] == (1, 283)


@pytest.mark.parametrize(
    ("lines", "message"),
    [(["1,1,4,4"] * 2, "2 ground-truth lines for 3 frames"), (["1,1,4,4"] * 4, "4 ground-truth lines for 3 frames")],
)
def test_otb_line_count_must_match_frames(tmp_path, lines, message):
    gt = write_otb(tmp_path, "Tiny", range(1, 4), lines)
    with pytest.raises(ValueError, match=f"{gt}: {message}"):
        load_otb(tmp_path / "Tiny")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("1,2,3", "expected 4 numbers"),
        ("1,2,3,4,5", "expected 4 numbers"),
        ("a,b,c,d", "expected 4 numbers"),
        ("", "expected 4 numbers"),  # a blank line inside the file would shift every later box
        ("1,1,0,5", "needs a positive width and height"),
        ("1,1,5,-2", "needs a positive width and height"),
    ],
)
def test_otb_malformed_line_names_file_and_line(tmp_path, bad, message):
    gt = write_otb(tmp_path, "Tiny", range(1, 4), ["1,1,4,4", bad, "1,1,4,4"])
    with pytest.raises(ValueError, match=f"{gt}:2: .*{message}"):
        load_otb(tmp_path / "Tiny")


def test_otb_missing_frame_is_named(tmp_path):
    write_otb(tmp_path, "Tiny", [1, 2, 4], ["1,1,4,4"] * 4)
    with pytest.raises(FileNotFoundError, match=r"img/0003\.jpg: frame 3 is missing"):
        load_otb(tmp_path / "Tiny")


def test_otb_absent_target_lines_become_nan_rows(tmp_path):
    write_otb(tmp_path, "Tiny", range(1, 5), ["1,1,4,4", "NaN,NaN,NaN,NaN", "0,0,0,0", "2,2,4,4"])
    (seq,) = load_otb(tmp_path / "Tiny")
    assert np.isnan(seq.boxes[1:3]).all()
    np.testing.assert_array_equal(seq.boxes[[0, 3]], [[0, 0, 4, 4], [1, 1, 5, 5]])


# ------------------------------------------------------------------------------------------------------ GOT-10k


def test_got10k_boxes_are_zero_based_and_absence_gives_nan(tmp_path):
    write_got(tmp_path, "S1", range(1, 4), ["10.5,20,5,7", "11,20,5,7", "12,20,5,7"], absence=["0", "1", "0"])
    (seq,) = load_got10k(tmp_path / "S1")
    np.testing.assert_array_equal(seq.boxes[[0, 2]], [[10.5, 20, 15.5, 27], [12, 20, 17, 27]])
    assert np.isnan(seq.boxes[1]).all()
    assert abs(int(seq.frame(2).mean()) - level(3)) <= 2


def test_got10k_test_split_annotates_only_the_first_frame(tmp_path):
    write_got(tmp_path, "T1", range(1, 4), ["1,2,3,4"])
    (seq,) = load_got10k(tmp_path / "T1")
    assert len(seq) == 3
    np.testing.assert_array_equal(seq.boxes[0], [1, 2, 4, 6])
    assert np.isnan(seq.boxes[1:]).all()


def test_got10k_split_list_orders_sequences(tmp_path):
    for name in ("A", "B", "C"):
        write_got(tmp_path, name, range(1, 3), ["1,1,4,4"] * 2)
    (tmp_path / "list.txt").write_text("C\nA\n")
    assert load_got10k(tmp_path).names == ["C", "A"]
    assert load_got10k(tmp_path, sequences=("B",)).names == ["B"]


def test_got10k_errors(tmp_path):
    gt = write_got(tmp_path, "S1", range(1, 4), ["1,1,4,4"] * 2)
    with pytest.raises(ValueError, match=f"{gt}: 2 ground-truth lines for 3 frames"):
        load_got10k(tmp_path / "S1")
    write_got(tmp_path, "S2", range(1, 4), ["1,1,4,4"] * 3, absence=["0", "0"])
    with pytest.raises(ValueError, match="absence.label: 2 labels for 3 frames"):
        load_got10k(tmp_path / "S2")
    write_got(tmp_path, "S3", range(1, 4), ["1,1,4,4"] * 3, absence=["0", "2", "0"])
    with pytest.raises(ValueError, match="label 2 is '2'"):
        load_got10k(tmp_path / "S3")


# ------------------------------------------------------------------------------------------------- video + CSV


def write_video(path, n=8):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    assert writer.isOpened()
    for k in range(n):
        writer.write(np.full((24, 32, 3), level(k), np.uint8))
    writer.release()
    return path


def test_video_file_with_xywh_csv(tmp_path):
    video = write_video(tmp_path / "clip.avi")
    (tmp_path / "clip.csv").write_text("frame,x,y,w,h\n0,1,2,10,8\n# a comment\n3,nan,nan,nan,nan\n5,0,0,32,24\n")
    (seq,) = load_video(video)
    assert len(seq) == 8 and seq.name == "clip"
    np.testing.assert_array_equal(seq.boxes[[0, 5]], [[1, 2, 11, 10], [0, 0, 32, 24]])
    assert np.isnan(seq.boxes[[1, 2, 3, 4, 6, 7]]).all()
    for t in (5, 6, 2, 0, 7):
        assert abs(int(seq.frame(t).mean()) - level(t)) <= 3
    assert seq.frame(0).shape == (24, 32, 3)


def test_video_file_reads_forward_and_seeks_only_on_jumps(tmp_path, monkeypatch):
    video = write_video(tmp_path / "clip.avi")
    (tmp_path / "boxes.txt").write_text("frame\tx1\ty1\tx2\ty2\n2\t1\t2\t5\t6\n")
    seeks = []
    real = cv2.VideoCapture

    class Spy:  # a wrapper: a Python subclass of cv2.VideoCapture made this test process segfault
        def __init__(self, path):
            self.capture = real(path)

        def set(self, prop, value):
            seeks.append(value)
            return self.capture.set(prop, value)

        def __getattr__(self, name):
            return getattr(self.capture, name)

    monkeypatch.setattr(cv2, "VideoCapture", Spy)
    (seq,) = load_video(video, boxes="boxes.txt")
    np.testing.assert_array_equal(seq.boxes[2], [1, 2, 5, 6])
    for t in range(4):
        seq.frame(t)
    assert seeks == []  # sequential: the capture just reads on
    seq.frame(6)  # a jump ahead seeks ...
    seq.frame(7)  # ... and reading on from there does not
    assert seeks == [6]
    assert abs(int(seq.frame(1).mean()) - level(1)) <= 3  # going back (1 has left the frame cache) seeks
    assert seeks == [6, 1]


def test_video_sequence_pickles_without_its_capture(tmp_path):
    video = write_video(tmp_path / "clip.avi")
    (tmp_path / "clip.csv").write_text("frame,x,y,w,h\n0,1,2,10,8\n")
    (seq,) = load_video(video)
    seq.frame(3)
    copy = pickle.loads(pickle.dumps(seq))
    assert abs(int(copy.frame(3).mean()) - level(3)) <= 3
    np.testing.assert_array_equal(copy.boxes, seq.boxes)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("frame,left,top,w,h\n0,1,1,2,2\n", "clip.csv:1: header 'frame,left,top,w,h'"),
        ("frame,x,y,w,h\n0,1,1,2,2\n0,1,1,2,2\n", "clip.csv:3: frame 0 already has a box"),
        ("frame,x,y,w,h\n8,1,1,2,2\n", "clip.csv:2: frame 8 is outside the video's 8 frames"),
        ("frame,x,y,w,h\n1.5,1,1,2,2\n", "clip.csv:2: expected a frame index and 4 numbers"),
        ("frame,x,y,w,h\n1,1,1,2\n", "clip.csv:2: expected a frame index and 4 numbers"),
        ("frame,x,y,w,h\n1,1,1,-2,2\n", "clip.csv:2: .*positive width and height"),
        ("frame,x1,y1,x2,y2\n1,5,1,2,2\n", "clip.csv:2: .*zero or negative area"),
    ],
)
def test_video_csv_errors_name_file_and_line(tmp_path, table, message):
    video = write_video(tmp_path / "clip.avi")
    (tmp_path / "clip.csv").write_text(table)
    with pytest.raises(ValueError, match=message):
        load_video(video)


def test_video_without_boxes_file(tmp_path):
    video = write_video(tmp_path / "clip.avi")
    with pytest.raises(FileNotFoundError, match=r"clip\.csv: no such file"):
        load_video(video)


# ------------------------------------------------------------------------------------------------------- specs


def test_video_spec_strings():
    assert set(VIDEO_FORMATS) == {"synthetic", "otb", "got10k", "video", "stills"}
    data = open_video_dataset("synthetic?seed=7&frames=5&size=64")
    assert isinstance(data, SyntheticVideos) and (data.seed, data.frames, data.size) == (7, 5, 64)
    assert data[0].frame(0).shape == (64, 64, 3)
    assert open_video_dataset(data) is data
    with pytest.raises(ConfigError, match=r"unknown format 'youtube'; expected one of \['got10k', 'otb'"):
        open_video_dataset("youtube:x")
    with pytest.raises(ConfigError, match="unknown option 'fps'; expected one of"):
        open_video_dataset("synthetic?fps=3")
    with pytest.raises(ConfigError, match="VideoDataset"):
        open_video_dataset(3)


def test_video_spec_reaches_loader_options(tmp_path):
    for name in ("A", "B"):
        write_otb(tmp_path, name, range(1, 3), ["1,1,4,4"] * 2)
    data = open_video_dataset(f"otb:{tmp_path}?sequences=B")
    assert isinstance(data, VideoDataset) and data.names == ["B"]
