"""`model.json`: the small model card written next to every exported model file.

Keys: format, file, sha256, bytes, precision, quantization, converter, opset (ONNX), input and output
spec, input_size, working_size (the network's input for that size), intrinsics assumed (NYU's Kinect
scaled to the input size), calibration (int8), the source run and checkpoint, the model config, and
the run's last evaluation (metrics with the protocol that produced them), when it has one.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Sequence
from typing import Any, Optional

import tensorflow as tf

from depthnet.data.camera import NYU_INTRINSICS
from depthnet.deploy.runtimes import CARD_NAME
from depthnet.inference import working_size_of

__all__ = ["CARD_NAME", "model_card", "sha256_of", "write_card"]


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_card(
    model_path: str,
    fmt: str,
    precision: str,
    input_size: Sequence[int],
    working: Sequence[int],
    batch: Optional[int],
    extra: Optional[dict[str, Any]] = None,
) -> dict[str, Any]:
    """The card of one exported file (module docstring); `extra` adds or overrides keys."""
    height, width = (int(s) for s in input_size)
    intr = NYU_INTRINSICS.scaled(height, width)
    batch_dim = batch if batch is not None else "batch"
    card: dict[str, Any] = {
        "format": fmt,
        "file": os.path.basename(model_path),
        "sha256": sha256_of(model_path),
        "bytes": os.path.getsize(model_path),
        "precision": precision,
        "input": {
            "name": "images",
            "dtype": "uint8",
            "shape": [batch_dim, height, width, 3],
            "layout": "NHWC RGB 0-255",
        },
        "output": {"name": "depth", "dtype": "float32", "shape": [batch_dim, height, width, 1], "unit": "metres"},
        "input_size": [height, width],
        "working_size": list(working),
        "network_input_size": list(working_size_of(height, width, working)),
        "other_sizes": "resize the image to input_size (bilinear, antialiased when shrinking), resize depth back",
        "intrinsics_assumed": {
            "camera": "NYU Depth V2 Kinect colour camera, scaled to input_size",
            **{k: getattr(intr, k) for k in ("fx", "fy", "cx", "cy", "height", "width")},
        },
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tensorflow": tf.__version__,
    }
    card.update(extra or {})
    return card


def write_card(folder: str, card: dict[str, Any]) -> str:
    path = os.path.join(folder, CARD_NAME)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(card, f, indent=2, default=str)
    return path
