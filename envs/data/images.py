"""Image files: the check a dataset runs on each image when it is opened, and the decode that serves pixels later.

Why at the door: a bad image found at a random ``reset()`` inside a vector-env worker kills a run hours in (and a
dying worker reports a bare ``EOFError``), so loaders check every image when a dataset is opened, naming the image and
the annotation line. The data-spec option ``validate`` picks how hard: ``header`` (default) has Pillow read each
header only (0.04-0.12 ms an image: the file is an image of a known format that OpenCV decodes, and its size, against
which boxes and stated sizes are checked); ``full`` also decodes each image as :func:`read_image` would (~1.6 ms an
image for ~400 px JPEGs: finds truncated and corrupt files too); ``none`` checks nothing at open.

Why two decoders: OpenCV makes the pixels the environments see (unchanged, so results stay comparable), but it
reports neither a truncated file (it fills in grey) nor corrupt JPEG scan data (libjpeg only prints a warning on the C
stderr). Pillow's ``load()`` raises on truncation but ignores libjpeg's warnings too, so :func:`read_image` reads them
from the C stderr around OpenCV's own decode. The first read of each file in a process runs both checks; later reads
of the unchanged file decode with OpenCV alone, since environments read the same images again and again.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import threading
from typing import Literal, get_args

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from facebox.config import ConfigError

__all__ = ["VALIDATION", "Validation", "check_image", "image_size", "read_image", "to_rgb_uint8"]

Validation = Literal["header", "full", "none"]
VALIDATION: tuple[str, ...] = get_args(Validation)

# libjpeg's warnings that mean the pixels are not what was encoded (jerror.h); others (an unknown JFIF revision, ...)
# are passed on to stderr.
_CORRUPT_JPEG = ("Corrupt JPEG data", "Premature end of JPEG file", "Inconsistent progression sequence")
_stderr_lock = threading.Lock()  # fd 2 is redirected by one decode at a time
_verified: set[tuple[str, int, int]] = set()  # (path, size, mtime) of files that passed the first-read checks


def check_image(path: str | os.PathLike, validate: str, where: str = "") -> tuple[int, int] | None:
    """The door check of one image by ``validate`` mode: its (width, height) from the header, or None for ``none``.

    Raises ``ValueError`` naming ``where`` (the annotation line) and the image, or ``ConfigError`` for a mode
    not in :data:`VALIDATION`.
    """
    if validate not in VALIDATION:
        raise ConfigError(f"validate={validate!r}: expected one of {VALIDATION}")
    if validate == "none":
        return None
    size = image_size(path, where)
    if validate == "full":
        _read(os.fspath(path), where)
    return size


def image_size(path: str | os.PathLike, where: str = "") -> tuple[int, int]:
    """(width, height) from the image's header, read by Pillow without decoding the pixels; ``ValueError`` naming
    ``where`` and the file when it is not an image of a format both Pillow and OpenCV read."""
    path = os.fspath(path)
    at = _at(path, where)
    try:
        with Image.open(path) as image:
            size, kind = image.size, image.format
    except FileNotFoundError:
        raise FileNotFoundError(f"{at}: no such image file") from None
    except UnidentifiedImageError:
        raise ValueError(f"{at}: {'an empty file' if os.path.getsize(path) == 0 else _UNKNOWN}") from None
    except Exception as e:  # Pillow's format plugins raise many types on a broken header
        raise ValueError(f"{at}: unreadable image header ({type(e).__name__}: {e})") from None
    if min(size) <= 0:
        raise ValueError(f"{at}: the header gives an empty {size[0]}x{size[1]} image")
    if not cv2.haveImageReader(path):
        raise ValueError(f"{at}: OpenCV cannot decode {kind} images")
    return size


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to RGB uint8 with OpenCV, failing loudly on missing, corrupt or truncated files.

    The first read of a file in this process also has Pillow decode it (truncation, broken streams) and, for a
    JPEG, watches libjpeg's warnings during OpenCV's decode (corrupt scan data); see the module docstring.
    """
    return _read(os.fspath(path), hint=" (open the dataset with the option validate=full to find such files first)")


_UNKNOWN = "not an image of a known format"


def _at(path: str, where: str) -> str:
    return f"{where}: {path}" if where else path


def _read(path: str, where: str = "", hint: str = "") -> np.ndarray:
    """:func:`read_image`, with errors naming ``where`` before the file and ending in ``hint``."""
    at = _at(path, where)
    try:
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            data = f.read()
    except OSError as e:
        raise FileNotFoundError(f"{at}: cannot read image ({e.strerror})") from None
    if not data:
        raise ValueError(f"{at}: image file is empty")
    key = (path, stat.st_size, stat.st_mtime_ns)
    if key in _verified:
        pixels = _decode(data)
    else:
        problem, pixels = _verified_decode(data)
        if problem:
            raise ValueError(f"{at}: {problem}{hint}")
    if pixels is None:
        raise ValueError(f"{at}: not a decodable image (corrupt or unsupported format)")
    _verified.add(key)
    return to_rgb_uint8(pixels, where=at)


def _decode(data: bytes) -> np.ndarray | None:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def _verified_decode(data: bytes) -> tuple[str, np.ndarray | None]:
    """OpenCV's decode of ``data`` with what is wrong with it ("" when Pillow decodes it too and libjpeg reports no
    corruption during OpenCV's decode)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except UnidentifiedImageError:
        return _UNKNOWN, None
    except Exception as e:  # OSError for truncation, others from broken streams
        return f"corrupt or truncated image ({e})", None
    if data[:2] != b"\xff\xd8":
        return "", _decode(data)
    pixels, messages = _decode_reporting(data)
    corrupt = [m for m in messages.splitlines() if m.startswith(_CORRUPT_JPEG)]
    if corrupt:
        return f"corrupt JPEG data (libjpeg: {corrupt[0]})", None
    if messages:
        sys.stderr.write(messages)
    return "", pixels


def _decode_reporting(data: bytes) -> tuple[np.ndarray | None, str]:
    """OpenCV's decode and what its libjpeg printed to the C stderr meanwhile (fd 2 is redirected to a file, under a
    lock so that concurrent decodes do not swap each other's stderr). Without an fd 2 nothing can be read: ""."""
    with _stderr_lock, tempfile.TemporaryFile() as capture:
        try:
            saved = os.dup(2)
        except OSError:
            return _decode(data), ""
        sys.stderr.flush()
        try:
            os.dup2(capture.fileno(), 2)
            pixels = _decode(data)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        return pixels, capture.read().decode(errors="replace")


def to_rgb_uint8(pixels: np.ndarray, where: str = "", bgr: bool = True) -> np.ndarray:
    """Normalise any decoded image to RGB uint8 HxWx3.

    Documented normalisation: grayscale is replicated to three channels; an alpha channel is dropped (not
    composited); 16-bit samples keep their top 8 bits; float images are taken as [0, 1] and scaled.
    """
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    elif pixels.dtype in (np.float32, np.float64):
        pixels = (np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif pixels.dtype != np.uint8:
        raise ValueError(f"{where}: unsupported pixel type {pixels.dtype}")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"{where}: unsupported image shape {pixels.shape}")
    channels = pixels.shape[2]
    if channels in (1, 2):
        return np.ascontiguousarray(np.repeat(pixels[:, :, :1], 3, axis=2))
    rgb = pixels[:, :, :3]
    if bgr:
        rgb = rgb[:, :, ::-1]
    return np.ascontiguousarray(rgb)
