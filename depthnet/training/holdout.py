"""A validation set held out from the training scenes, by scene and deterministically.

Selecting the best checkpoint on the test split biases the test number (test-set selection). With
``TrainConfig.holdout_scenes = f > 0`` a run validates instead on the frames of ``round(f * n)`` of the
``n`` scenes of its own training split (at least 1, at most n - 1) and trains on the others only;
the 654 test frames are kept for the final number.

Which scenes: the training split's manifest lists its scenes (``manifest['scenes']``); they are
ordered by ``sha256(f"{seed}:{scene}")`` and the first k are held out. The same manifest and seed give
the same scenes on every machine; the list is written to the run's ``config.json`` ("validation").
Frames are kept or dropped by their ``scene`` feature in the tf.data pipelines (before decoding), so
no scene is ever in both sets and nothing is copied.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from depthnet.data import records

__all__ = ["HoldOut", "plan_holdout", "scene_filter", "select_scenes"]


def select_scenes(scenes: Sequence[str], fraction: float, seed: int = 0) -> list[str]:
    """The held-out scenes: the first round(fraction * n) (1..n-1) in sha256(seed:scene) order, sorted."""
    names = sorted(set(s for s in scenes if s))
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"holdout fraction must be in (0, 1), got {fraction}")
    if len(names) < 2:
        raise ValueError(
            f"a validation set held out by scene needs at least 2 named scenes, the training split has "
            f"{len(names)}; prepare it from a source with scene names (fastdepth, labeled_mat, pairs) "
            f"or validate on a prepared split with --holdout_scenes=0 --val_split=<split>"
        )
    k = min(len(names) - 1, max(1, round(float(fraction) * len(names))))
    order = sorted(names, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
    return sorted(order[:k])


@dataclasses.dataclass(frozen=True)
class HoldOut:
    """The held-out scenes of a training split (what config.json records under "validation")."""

    split_dir: str
    scenes: tuple[str, ...]
    fraction: float
    seed: int
    num_scenes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "held-out training scenes",
            "split_dir": self.split_dir,
            "fraction": self.fraction,
            "seed": self.seed,
            "num_scenes": self.num_scenes,
            "held_out_scenes": list(self.scenes),
        }

    def train_filter(self):
        """Keeps the frames of the scenes that are not held out."""
        return scene_filter(self.scenes, keep=False)

    def val_filter(self):
        """Keeps the frames of the held-out scenes."""
        return scene_filter(self.scenes, keep=True)


def plan_holdout(train_dir: str, fraction: float, seed: int = 0) -> HoldOut:
    """The hold-out of a prepared training split, from the scene list in its manifest."""
    manifest = records.read_manifest(train_dir)
    scenes = manifest.get("scenes") or []
    try:
        chosen = select_scenes(scenes, fraction, seed)
    except ValueError as e:
        raise ValueError(f"{train_dir}: {e}") from e
    return HoldOut(train_dir, tuple(chosen), float(fraction), int(seed), len(set(scenes)))


_SCENE_ONLY = {"scene": tf.io.FixedLenFeature([], tf.string, default_value=b"")}


def scene_filter(scenes: Sequence[str], keep: bool):
    """serialized tf.train.Example -> bool: its scene is in `scenes` (keep=True) or not (keep=False)."""
    names = tf.constant(sorted(scenes), tf.string)

    def predicate(serialized: tf.Tensor) -> tf.Tensor:
        scene = tf.io.parse_single_example(serialized, _SCENE_ONLY)["scene"]
        inside = tf.reduce_any(tf.equal(names, scene))
        return inside if keep else tf.logical_not(inside)

    return predicate
