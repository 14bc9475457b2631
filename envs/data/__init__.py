"""Face data: one record type, one dataset protocol, synthetic and real sources (numpy, OpenCV and Pillow only)."""

from facebox.envs.data.images import read_image
from facebox.envs.data.record import Entry, FaceDataset, FaceImage, ListDataset
from facebox.envs.data.sources import STILL_FORMATS, open_dataset

__all__ = ["Entry", "FaceDataset", "FaceImage", "ListDataset", "STILL_FORMATS", "open_dataset", "read_image"]
