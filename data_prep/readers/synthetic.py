"""``synthetic``: procedural frames from :func:`depthnet.synthetic.iter_frames`, for runs without data."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from data_prep.readers.base import BadInputError, Item, Reader, SourceError, ascending_refs, check_frame
from depthnet.records import Frame


class SyntheticReader(Reader):
    """Procedural frames from :func:`depthnet.synthetic.iter_frames` (deterministic for a seed)."""

    name = "synthetic"
    random_access = False
    has_scenes = False

    def __init__(self, num_frames: int, seed: int = 0, height: int = 480, width: int = 640):
        try:
            from depthnet import synthetic
        except ImportError as e:
            raise SourceError(f"source 'synthetic' needs depthnet.synthetic, which cannot be imported ({e})") from e
        if num_frames < 1:
            raise SourceError(f"num_frames must be >= 1 for source 'synthetic', got {num_frames}")
        self._iter_frames: Callable[..., Iterator[Frame]] = synthetic.iter_frames
        self.num_frames, self.seed, self.height, self.width = int(num_frames), int(seed), int(height), int(width)
        self.source_split = f"seed {seed}"

    def items(self) -> list[Item]:
        return [Item("", f"{i:06d}", i, f"synthetic frame {i}") for i in range(self.num_frames)]

    def iter_load(self, items: Sequence[Item]) -> Iterator[tuple[Item, Any]]:
        refs = ascending_refs(items)
        if not refs:
            return
        todo = list(items)
        frames = self._iter_frames(refs[-1] + 1, seed=self.seed, height=self.height, width=self.width)
        for index, frame in enumerate(frames):
            if not todo:
                break
            if index != todo[0].ref:
                continue
            item = todo.pop(0)
            fr = Frame(frame.rgb, frame.depth, frame.scene, frame.frame or item.frame)
            try:
                yield item, check_frame(fr, item.path)
            except BadInputError as e:
                yield item, e
        if todo:
            raise SourceError(f"depthnet.synthetic.iter_frames stopped before frame {todo[0].ref}")

    def describe(self) -> dict[str, Any]:
        return {"depth_source": "procedural (depthnet.synthetic)", "seed": self.seed}
