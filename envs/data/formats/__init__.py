"""Loaders for real face datasets: each parses one annotation format into a lazily decoded :class:`ListDataset`.

Every format differs only in how it names images and writes boxes, so each loader (one module per format) is a
small parser plus one box-convention conversion from :mod:`facebox.envs.boxes`; image lookup, box checks and error
messages are shared (:mod:`.common`, :mod:`facebox.envs.data.parsing`). The target is the convention of
``record.py``: float32 xyxy, 0-based, where ``x2``/``y2`` are the right/bottom pixel *edges* (a box covering pixel
columns 0..9 is ``x1=0, x2=10``). The conversions, in one place:

==========================================  =====================================  =========================
source convention                           used by                                conversion
==========================================  =====================================  =========================
0-based ``x, y, w, h``                      WIDER FACE, COCO, CelebA, CSV (xywh)    ``x1=x, x2=x+w``
0-based inclusive pixels ``left..right``    dlib imglab (``left, width``)           ``x1=left, x2=left+width``
1-based inclusive pixels ``xmin..xmax``     Pascal VOC                              ``x1=xmin-1, x2=xmax``
continuous pixel-centre coordinates         FDDB ellipses                           ``x1=cx-hx+0.5`` (see FDDB)
0-based edges ``x1, y1, x2, y2``            CSV (xyxy)                              unchanged
==========================================  =====================================  =========================

Why errors are raised at load time: a bad annotation line or a bad image should stop a run before training starts,
not after hours. Every problem in an annotation file (wrong field count, non-numbers, zero-area box, box outside
the image, a stated image size that is not the real one, missing image file) raises naming the annotation file and
its 1-based line (``file:line``), or the JSON key for COCO. Each image is checked as its entry is built, by the
``validate`` option every loader takes (:mod:`facebox.envs.data.images`: ``header`` by default, ``full``, ``none``);
pixels are decoded only on access, by :func:`images.read_image`, which rejects corrupt or truncated files and
normalises grayscale / RGBA / 16-bit images. A wrong option (``kind=cat``, an unknown COCO category,
``validate=fast``, ...) is a config mistake and raises :class:`facebox.config.ConfigError`.

Options naming a file or folder (``images``, ``sizes``) are used as given when that path exists, otherwise taken
relative to the annotation file's folder, so a spec string can carry paths relative to the dataset itself.
"""

from facebox.envs.data.formats.celeba import load_celeba
from facebox.envs.data.formats.coco import load_coco
from facebox.envs.data.formats.csv import load_csv
from facebox.envs.data.formats.dlib import load_dlib_xml
from facebox.envs.data.formats.fddb import load_fddb
from facebox.envs.data.formats.identities import load_celeba_identities, load_identity_folders
from facebox.envs.data.formats.voc import load_voc
from facebox.envs.data.formats.wider import load_wider

__all__ = [
    "load_celeba",
    "load_celeba_identities",
    "load_coco",
    "load_csv",
    "load_dlib_xml",
    "load_fddb",
    "load_identity_folders",
    "load_voc",
    "load_wider",
]
