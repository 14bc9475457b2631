"""What every still-image loader does alike: the path it is given must exist, and each is a spec format."""

from __future__ import annotations

from pathlib import Path

import pytest

from facebox.envs.data import STILL_FORMATS
from facebox.envs.data.formats import (
    load_celeba,
    load_celeba_identities,
    load_coco,
    load_csv,
    load_dlib_xml,
    load_fddb,
    load_identity_folders,
    load_voc,
    load_wider,
)

LOADERS = (
    load_wider,
    load_fddb,
    load_celeba,
    load_dlib_xml,
    load_voc,
    load_coco,
    load_csv,
    load_identity_folders,
    load_celeba_identities,
)


@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_missing_annotation_path(tmp_path: Path, loader) -> None:
    with pytest.raises(FileNotFoundError, match="no such annotation file"):
        loader(tmp_path / "nothing")


def test_every_loader_is_a_spec_format() -> None:
    assert set(LOADERS) == {v for k, v in STILL_FORMATS.items() if k != "synthetic"}
