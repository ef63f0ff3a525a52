"""``synthetic``: procedural frames from :mod:`depthnet.synthetic`, for runs without data.

Frame i is view ``i % frames_per_scene`` of room ``i // frames_per_scene`` (:func:`depthnet.synthetic.iter_frames`).
Rooms share nothing, so with ``workers > 1`` they are rendered in that many processes (which die with
this one, :mod:`data_prep.workers`); the frames, and so the shards, are byte-identical either way.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator, Sequence
from itertools import groupby
from typing import Any

from data_prep.readers.base import BadInputError, Item, Reader, SourceError, ascending_refs, check_frame
from data_prep.workers import pool as worker_pool
from depthnet.data.frame import Frame


class SyntheticReader(Reader):
    """Procedural frames of :mod:`depthnet.synthetic` (deterministic for a seed), rendered in `workers` processes."""

    name = "synthetic"
    random_access = False
    has_scenes = False

    def __init__(self, num_frames: int, seed: int = 0, height: int = 480, width: int = 640, workers: int = 1):
        try:
            from depthnet import synthetic
        except ImportError as e:
            raise SourceError(f"source 'synthetic' needs depthnet.synthetic, which cannot be imported ({e})") from e
        if num_frames < 1:
            raise SourceError(f"num_frames must be >= 1 for source 'synthetic', got {num_frames}")
        self._render_room = synthetic.render_room
        self._frames_per_scene = synthetic.DEFAULT_FRAMES_PER_SCENE
        self.num_frames, self.seed, self.height, self.width = int(num_frames), int(seed), int(height), int(width)
        self.workers = max(1, int(workers))
        self.renders_in_parallel = self.workers > 1
        self.source_split = f"seed {seed}"

    def items(self) -> list[Item]:
        return [Item("", f"{i:06d}", i, f"synthetic frame {i}") for i in range(self.num_frames)]

    def _rooms(self, items: Sequence[Item]) -> list[tuple[int, list[Item]]]:
        ascending_refs(items)
        by_room = groupby(items, key=lambda it: int(it.ref) // self._frames_per_scene)
        return [(room, list(group)) for room, group in by_room]

    def _task(self, room: int, group: list[Item]) -> tuple:
        views = [int(it.ref) % self._frames_per_scene for it in group]
        return self.seed, room, views, self.height, self.width

    def _checked(self, group: list[Item], frames: list[Frame]) -> Iterator[tuple[Item, Any]]:
        for item, frame in zip(group, frames, strict=True):
            fr = Frame(frame.rgb, frame.depth, frame.scene, frame.frame or item.frame)
            try:
                yield item, check_frame(fr, item.path)
            except BadInputError as e:
                yield item, e

    def iter_load(self, items: Sequence[Item]) -> Iterator[tuple[Item, Any]]:
        rooms = self._rooms(items)
        if not self.renders_in_parallel:
            for room, group in rooms:
                yield from self._checked(group, self._render_room(*self._task(room, group)))
            return
        pool = worker_pool(self.workers)
        pending: collections.deque = collections.deque()
        try:
            for room, group in rooms:
                pending.append((group, pool.submit(self._render_room, *self._task(room, group))))
                while len(pending) > 2 * self.workers:  # a bounded window keeps memory flat
                    group, future = pending.popleft()
                    yield from self._checked(group, future.result())
            while pending:
                group, future = pending.popleft()
                yield from self._checked(group, future.result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def describe(self) -> dict[str, Any]:
        return {"depth_source": "procedural (depthnet.synthetic)", "seed": self.seed}
