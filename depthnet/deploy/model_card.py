"""`model.json`: the model card written next to every exported model file, a complete contract for a client.

Keys (``card_version`` 2):

- the file: ``format``, ``file``, ``sha256``, ``bytes``, ``precision``, ``signature`` (name, inputs,
  outputs), and per format ``quantization``, ``converter``, ``opset``, ``calibration``;
- how to call it (:mod:`depthnet.deploy.card_contract`): ``decoding`` (JPEG IDCT, EXIF orientation,
  alpha, grayscale), ``input`` (name, dtype, layout, range, shape, sizes), ``resize`` (THE kernel and
  its pixel-centre convention, what to do before and after the model, including how depth goes back
  to the original size), ``output`` (unit, quantity, valid range, invalid marker), ``input_size``
  (converted files), ``working_size``, ``network_input_size``, ``intrinsics_assumed``;
- what it is: ``training`` (data, kind, steps), ``metrics`` (values and the data they were measured
  on), ``intended_use`` (a run trained only on synthetic scenes says so), ``source`` (run, checkpoint
  path and fingerprint, model config, the run's evaluation), ``other_formats`` (the other formats in
  the export folder and whether they come from the same checkpoint), ``exported_at``, ``tensorflow``.
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
from depthnet.deploy import card_contract as contract
from depthnet.deploy.runtimes import CARD_NAME
from depthnet.inference import working_size_of

__all__ = ["CARD_NAME", "CARD_VERSION", "model_card", "read_json", "sha256_of", "write_card"]

CARD_VERSION = 2
DEFAULT_VALID_RANGE = (1e-3, 10.0)


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _valid_range(run: dict[str, Any]) -> tuple[float, float]:
    """The protocol's depth range of the run's evaluation, else NYU's 1 mm - 10 m."""
    protocol = ((run.get("eval_metrics") or {}) if isinstance(run.get("eval_metrics"), dict) else {}).get("protocol")
    lo, hi = (protocol.get("min_depth"), protocol.get("max_depth")) if isinstance(protocol, dict) else (None, None)
    ok = all(isinstance(v, (int, float)) and 0 < v < 1e3 for v in (lo, hi)) and lo < hi
    return (float(lo), float(hi)) if ok else DEFAULT_VALID_RANGE


def _signature(fmt: str) -> dict[str, Any]:
    names = {"inputs": ["images"], "outputs": ["depth"]}
    if fmt == "onnx":
        return {"name": None, "graph": "one input and one output, named as below", **names}
    return {"name": "serving_default", **names}


def model_card(
    model_path: str,
    fmt: str,
    precision: str,
    input_size: Optional[Sequence[int]],
    working: Sequence[int],
    batch: Optional[int],
    extra: Optional[dict[str, Any]] = None,
) -> dict[str, Any]:
    """The card of one exported file (module docstring). `input_size` None: a SavedModel (any size).

    `extra` adds or overrides keys; its ``source`` (run, checkpoint, evaluation) and ``training`` /
    ``metrics`` / ``intended_use`` (:mod:`depthnet.deploy.run_facts`) are the run's facts.
    """
    extra = dict(extra or {})
    size = None if input_size is None else tuple(int(s) for s in input_size)
    batch_dim = batch if batch is not None else "batch"
    intr = NYU_INTRINSICS.scaled(*size) if size else NYU_INTRINSICS
    card: dict[str, Any] = {
        "card_version": CARD_VERSION,
        "format": fmt,
        "file": os.path.basename(model_path),
        "sha256": sha256_of(model_path),
        "bytes": os.path.getsize(model_path),
        "precision": precision,
        "signature": _signature(fmt),
        "decoding": dict(contract.DECODING),
        "input": contract.input_spec(fmt, size, batch_dim, working),
        "resize": contract.resize_spec(size, working),
        "output": contract.output_spec(size, batch_dim, _valid_range(extra.get("source") or {})),
    }
    if size is not None:
        card["input_size"] = list(size)
        card["network_input_size"] = list(working_size_of(*size, working))
    card["working_size"] = [int(s) for s in working]
    card["intrinsics_assumed"] = contract.intrinsics_spec(intr, size)
    card["exported_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    card["tensorflow"] = tf.__version__
    card.update(extra)
    return card


def write_card(folder: str, card: dict[str, Any]) -> str:
    path = os.path.join(folder, CARD_NAME)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(card, f, indent=2, default=str)
    return path


def read_json(path: str) -> Optional[dict[str, Any]]:
    """A JSON object from `path`, or None when it is missing or not a JSON object."""
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
