"""``tfds``: TFDS ``nyu_depth_v2`` from a prepared ``data_dir`` (never downloads)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any, Optional

import numpy as np

from data_prep.readers.base import BadInputError, Item, Reader, SourceError, ascending_refs
from depthnet.data.records import Frame

# TFDS's own name for our two splits.
TFDS_SPLITS = {"train": "train", "test": "validation"}


class TfdsReader(Reader):
    """TFDS ``nyu_depth_v2`` from a prepared ``data_dir`` (never downloads)."""

    name = "tfds"
    random_access = False
    has_scenes = False
    DATASET = "nyu_depth_v2"

    def __init__(self, data_dir: Optional[str], split: str):
        import tensorflow_datasets as tfds

        self.data_dir = os.path.expanduser(data_dir or os.path.join("~", "tensorflow_datasets"))
        self.source_split = TFDS_SPLITS[split]
        hint = (
            f"TFDS '{self.DATASET}' is not prepared in {self.data_dir!r}. On a machine with internet run "
            f"`tfds build {self.DATASET} --data_dir={self.data_dir}` (downloads ~32 GB) and copy that folder here; "
            "or convert the extracted FastDepth tree with source 'fastdepth'."
        )
        if not os.path.isdir(os.path.join(self.data_dir, self.DATASET)):
            raise SourceError(hint)
        try:
            self._builder = tfds.builder(self.DATASET, data_dir=self.data_dir)
            prepared = self._builder.is_prepared()
        except Exception as e:
            raise SourceError(f"{hint} ({type(e).__name__}: {e})") from e
        if not prepared:
            raise SourceError(hint)
        self._tfds = tfds
        self.num_examples = int(self._builder.info.splits[self.source_split].num_examples)

    def items(self) -> list[Item]:
        return [Item("", f"{self.source_split}[{i}]", i, self.data_dir) for i in range(self.num_examples)]

    def iter_load(self, items: Sequence[Item]) -> Iterator[tuple[Item, Any]]:
        refs = ascending_refs(items)
        if not refs:
            return
        ds = self._builder.as_dataset(split=f"{self.source_split}[{refs[0]}:{refs[-1] + 1}]", shuffle_files=False)
        todo = list(items)
        try:
            for offset, ex in enumerate(self._tfds.as_numpy(ds)):
                if not todo:
                    break
                if refs[0] + offset != todo[0].ref:
                    continue
                item = todo.pop(0)
                frame = Frame(np.asarray(ex["image"], np.uint8), np.asarray(ex["depth"], np.float32), "", item.frame)
                try:
                    yield item, self.checked(item, frame, f"{self.data_dir} {item.frame}")
                except BadInputError as e:
                    yield item, e
        except Exception as e:
            if type(e).__module__.startswith("tensorflow"):
                raise SourceError(
                    f"TFDS data in {self.data_dir} could not be read ({type(e).__name__}: {e}); rebuild it with "
                    f"`tfds build {self.DATASET} --data_dir={self.data_dir}`."
                ) from e
            raise
        if todo:
            raise SourceError(f"TFDS split {self.source_split} ended before frame {todo[0].frame}")

    def source_files(self) -> list[str]:
        """The prepared dataset's files (TFDS's version folder)."""
        folder = str(self._builder.data_dir)
        return sorted(os.path.join(folder, n) for n in os.listdir(folder)) if os.path.isdir(folder) else []

    def describe(self) -> dict[str, Any]:
        return {
            "depth_source": "TFDS nyu_depth_v2 'depth' (float16 metres, from the FastDepth .h5 files)",
            "tfds_data_dir": self.data_dir,
            "note": "TFDS keeps no scene/frame names; frames are named '<split>[<index>]' in TFDS order.",
        }
