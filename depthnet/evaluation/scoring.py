"""Score other systems' predictions: a folder of depth maps against a prepared split, under a protocol.

    depthnet-eval --predictions=result_bts_nyu/raw --data_dir=data/nyu/test --protocol=bts

Each frame of the split (manifest order, named ``scene``/``frame`` in its records) is paired with one
file of the folder (searched recursively), by the first name that exists, without extension:

    <scene>_<frame>, <scene>/<frame>, <frame>, <index>, <index:05d>      (index = 0-based position)

or, with ``order='sorted'``, the i-th file in natural name order is the i-th frame. A file is a
16-bit PNG of depth in ``1/png_scale`` metres (1000 = millimetres, what BTS writes for NYU) or a
``.npy`` array of metres (H x W or H x W x 1). Predictions of any size are resized bilinearly to the
ground truth, clipped to the depth range and scored exactly as :func:`depthnet.evaluation.evaluate.evaluate_predictor`
scores a model (same :class:`depthnet.evaluation.metrics.DepthMetricAccumulator`); flip TTA and the input modes
are the predicting system's business and are refused here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from depthnet.errors import DepthNetError
from depthnet.evaluation.evaluate import evaluate_predictor
from depthnet.evaluation.protocol import Protocol

__all__ = ["PREDICTION_EXTS", "PredictionsError", "load_prediction", "match_predictions", "score_predictions"]

PREDICTION_EXTS = (".png", ".npy")


class PredictionsError(DepthNetError):
    """A predictions folder that cannot be scored (missing, unmatched or unreadable files)."""


def _natural(text: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text.lower()))


def list_predictions(folder: str) -> dict[str, str]:
    """{relative path without extension ('/'-separated): path} of every .png / .npy under `folder`."""
    if not os.path.isdir(folder):
        raise PredictionsError(f"predictions folder {folder!r} does not exist or is not a directory")
    found: dict[str, str] = {}
    for root, _, files in os.walk(folder):
        for name in files:
            stem, ext = os.path.splitext(name)
            if ext.lower() in PREDICTION_EXTS:
                rel = os.path.relpath(os.path.join(root, stem), folder).replace(os.sep, "/")
                found[rel] = os.path.join(root, name)
    if not found:
        raise PredictionsError(f"no .png or .npy predictions in {folder!r}")
    return found


def match_predictions(folder: str, names: Sequence[tuple[str, str]], order: str = "name") -> list[str]:
    """The prediction file of each (scene, frame), in order; PredictionsError naming the first unmatched."""
    files = list_predictions(folder)
    if order == "sorted":
        paths = [files[k] for k in sorted(files, key=_natural)]
        if len(paths) != len(names):
            raise PredictionsError(
                f"{folder} holds {len(paths)} predictions but the split has {len(names)} frames; "
                f"--predictions_order=sorted pairs them one to one"
            )
        return paths
    if order != "name":
        raise ValueError(f"unknown order {order!r}; use 'name' or 'sorted'")
    out = []
    for i, (scene, frame) in enumerate(names):
        keys = [f"{scene}_{frame}", f"{scene}/{frame}", frame, str(i), f"{i:05d}"]
        hit = next((files[k] for k in keys if k in files), None)
        if hit is None:
            raise PredictionsError(
                f"no prediction for frame {i} (scene {scene!r}, frame {frame!r}) in {folder}: looked for "
                f"{', '.join(k + '.png|.npy' for k in keys)}; or pair files in name order with "
                f"--predictions_order=sorted"
            )
        out.append(hit)
    return out


def load_prediction(path: str, png_scale: float = 1000.0) -> np.ndarray:
    """float32 H x W metres from a 16-bit PNG (value / png_scale) or a .npy array of metres."""
    try:
        if path.lower().endswith(".npy"):
            pred = np.load(path).astype(np.float32)
        else:
            raw = tf.io.decode_png(tf.io.read_file(path), channels=1, dtype=tf.uint16).numpy()
            pred = raw.astype(np.float32) / float(png_scale)
    except Exception as e:  # unreadable files surface as many exception types
        raise PredictionsError(f"{path}: cannot read the prediction ({type(e).__name__}: {e})") from e
    if pred.ndim == 3 and pred.shape[-1] == 1:
        pred = pred[..., 0]
    if pred.ndim != 2:
        raise PredictionsError(f"{path}: a prediction must be H x W (or H x W x 1), got shape {pred.shape}")
    return pred


def score_predictions(
    folder: str,
    frames: Iterable[Any],
    protocol: Protocol,
    order: str = "name",
    png_scale: float = 1000.0,
    keep_examples: int = 0,
) -> tuple[dict[str, float], list[dict[str, np.ndarray]]]:
    """Scores the predictions in `folder` against `frames` ((rgb, depth, scene, frame) tuples) under `protocol`.

    Scored by the one evaluation loop, :func:`depthnet.evaluation.evaluate.evaluate_predictor` (depth and
    boundary metrics); returns its (metrics, examples).
    """
    if protocol.flip_tta or protocol.input != "whole":
        raise PredictionsError(
            "stored predictions cannot be flip-averaged or re-cropped: use --flip_tta=false --input=whole "
            "(the predicting system applies its own test-time augmentation)"
        )
    frames = list(frames)
    paths = iter(match_predictions(folder, [(str(f[2]), str(f[3])) for f in frames], order))

    def stored(images: Any) -> np.ndarray:  # the loop asks once per frame, in order (no TTA, whole input)
        path = next(paths)
        pred = load_prediction(path, png_scale)
        if not np.isfinite(pred).all():
            raise PredictionsError(f"{path}: the prediction has NaN or infinite values")
        return pred[None, ..., None]

    return evaluate_predictor(stored, frames, protocol, total=len(frames), keep_examples=keep_examples)
