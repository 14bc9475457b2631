"""Video sources: the sequence record, the dataset protocol, and loaders for real tracking data.

Boxes follow ``record.py``: float32 xyxy, 0-based, ``x2``/``y2`` the right/bottom pixel *edges*; a row of NaN marks a
frame where the target is absent or not annotated. Real boxes are kept as annotated (trackers' ground truth may poke
past the frame edge; checking it would mean decoding every frame at load time), synthetic ones are clipped to the
frame.

Loaders, one module each, and the box conventions they convert (all ``x, y, w, h`` become ``x1 = x - origin,
x2 = x1 + w`` by :func:`facebox.envs.boxes.xywh_to_xyxy`):

* OTB (:func:`load_otb`): ``SEQ/img/%04d.jpg`` + ``SEQ/groundtruth_rect.txt``; MATLAB 1-based, origin 1.
* GOT-10k (:func:`load_got10k`): ``SEQ/%08d.jpg`` + ``SEQ/groundtruth.txt`` (+ ``absence.label``); 0-based, origin 0.
* A video file + CSV (:func:`load_video`): ``frame,x,y,w,h`` or ``frame,x1,y1,x2,y2``; 0-based, used as given.

Why errors are raised at load time: a ground-truth file that does not match its frames shifts every box of the
sequence by some frames, which silently ruins any tracking result; so a line count that differs from the frame count,
a malformed line (named ``file:line``) or a missing frame file stops the load.
"""

from facebox.envs.data.video.got10k import load_got10k
from facebox.envs.data.video.otb import OTB_FRAME_RANGES, load_otb
from facebox.envs.data.video.sequences import (
    FrameFolderSequence,
    SequenceList,
    VideoDataset,
    VideoFileSequence,
    VideoSequence,
)
from facebox.envs.data.video.videofile import load_video

__all__ = [
    "OTB_FRAME_RANGES",
    "FrameFolderSequence",
    "SequenceList",
    "VideoDataset",
    "VideoFileSequence",
    "VideoSequence",
    "load_got10k",
    "load_otb",
    "load_video",
]
