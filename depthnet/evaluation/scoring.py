"""Score other systems' predictions: a folder of depth maps against a prepared split, under a protocol.

    depthnet-eval --predictions=result_bts_nyu_v2_pytorch_densenet161/raw --data_dir=data/nyu/test --protocol=bts

Files pair with frames **by name, always** (:func:`frame_names`; case, extension, '/' and runs of '_' do
not matter; a file matches by its path under the folder or by its own name):

- ``<scene>_<frame>`` / ``<scene>/<frame>`` (what depthnet-eval's docs ask for) and ``<frame>`` when the frame
  name is not a bare number;
- BTS (cleinc/bts pytorch/bts_test.py): ``raw/<sceneType>_rgb_<i:05d>.png``, i = the 0-based index into the 1449
  labeled frames (utils/extract_official_train_test_set_from_mat.py), the frame
  ``<sceneType>/rgb_<i:05d>.jpg`` of train_test_inputs/nyudepthv2_test_files_with_gt.txt. It pairs with a
  split prepared from BTS's folders (frame ``bathroom/rgb_00045.jpg``) and with labeled_mat frames (scene
  ``bathroom_0001``, frame ``0046`` = 1-based index: by ``rgb_<i:05d>``, the labeled frame itself, and by
  ``<sceneType>_rgb_<i:05d>``, sceneType = the scene without its ``_<number>`` tail); AdaBins' ``--save_dir``
  names (``bathroom__rgb_00045.png``) are the same names.

A file that would match two frames, or two files that match one frame, are refused, and so is a split frame
without a file (the error names them and what was looked for). Files named only by position (``00000.png``,
``00001.png``, ...) pair only through a file list (``order='sorted'`` with ``file_list``): its i-th line names,
by its first word, the frame of the i-th file in natural name order (BTS's test list is such a list), and each
listed name must match a frame by name as above. A file is a 16-bit single-channel PNG of depth in
``1/png_scale`` metres (1000 = millimetres, what BTS writes for NYU; 8-bit and colour PNGs are refused from
their header: an 8-bit value would be read as value x 257) or a ``.npy`` array of metres (H x W or
H x W x 1). Predictions of any size are scored by :func:`depthnet.evaluation.evaluate.evaluate_predictor`
as a model's are (resize, clip, metrics); flip TTA, the input modes and prediction rounding are the predicting
system's business and are refused here.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterable, Sequence
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from depthnet.data.decode import check_pixels
from depthnet.errors import DepthNetError
from depthnet.evaluation.evaluate import evaluate_predictor
from depthnet.evaluation.protocol import Protocol

__all__ = [
    "PREDICTION_EXTS",
    "PredictionsError",
    "frame_names",
    "load_prediction",
    "match_predictions",
    "read_file_list",
    "score_predictions",
]

PREDICTION_EXTS = (".png", ".npy")
_NAME_EXTS = (".png", ".npy", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff")
_NYU_SCENE = re.compile(r"(.+?)_\d{4}[a-z]?")  # NYU scene names: <sceneType>_<4 digits>[letter]
_BTS_INDEX = re.compile(r"_(rgb_\d{5})$")  # bts_test.py: <sceneType>_rgb_<index:05d>.png
_SHOWN = 5  # names quoted in an error
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOURS = {0: "grey", 2: "RGB", 3: "palette", 4: "grey + alpha", 6: "RGBA"}


class PredictionsError(DepthNetError):
    """A predictions folder that cannot be scored (missing, unmatched or unreadable files)."""


def _natural(text: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text.lower()))


def name_key(name: str) -> str:
    """The comparable form of a file or frame name: lower case, no image/.npy extension, '/' and '_' runs -> '_'."""
    name = name.replace("\\", "/").strip().lower()
    stem, ext = os.path.splitext(name)
    name = stem if ext in _NAME_EXTS else name
    return re.sub(r"[/_]+", "_", name.lstrip("./")).strip("_")


def frame_names(scene: str, frame: str) -> list[str]:
    """The names (:func:`name_key` form) a prediction of the frame may carry, ours first, then BTS's."""
    names = [name_key(f"{scene}/{frame}")]
    parts = frame.replace("\\", "/").split("/")
    if not frame.isdigit():
        names.append(name_key(frame))
    if len(parts) >= 2:
        names.append(name_key("/".join(parts[-2:])))  # <sceneType>/rgb_<i> at the end of a longer path
    nyu = _NYU_SCENE.fullmatch(scene.lower())
    if nyu and frame.isdigit() and int(frame) >= 1:  # labeled_mat: 1-based index; BTS: 0-based
        index = f"rgb_{int(frame) - 1:05d}"  # the labeled frame itself, whatever sceneType BTS wrote before it
        names += [f"{nyu.group(1)}_{index}", index]
    return list(dict.fromkeys(names))


def _file_names(rel: str) -> set[str]:
    """The names (:func:`name_key` form) a prediction file answers to: its path, its own name, BTS's index."""
    names = {name_key(rel), name_key(rel.rsplit("/", 1)[-1])}
    bts = _BTS_INDEX.search(name_key(rel))
    return names | {bts.group(1)} if bts else names


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


def read_file_list(path: str) -> list[str]:
    """The first word of every non-empty line ('#' starts a comment), e.g. BTS's ``bathroom/rgb_00045.jpg``."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.split("#")[0].split() for line in f]
    except OSError as e:
        raise PredictionsError(f"cannot read the predictions list {path!r}: {e}") from e
    names = [words[0] for words in lines if words]
    if not names:
        raise PredictionsError(f"the predictions list {path!r} names no frame")
    return names


def _owners(names: Sequence[tuple[str, str]]) -> dict[str, int]:
    """{name key: frame index} of the keys exactly one frame carries (a shared key pairs nothing)."""
    owners: dict[str, set[int]] = {}
    for i, (scene, frame) in enumerate(names):
        for key in frame_names(scene, frame):
            owners.setdefault(key, set()).add(i)
    return {key: next(iter(who)) for key, who in owners.items() if len(who) == 1}


def _shown(items: Sequence[str]) -> str:
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


def _pair_by_name(files: dict[str, str], names: Sequence[tuple[str, str]], folder: str) -> list[str]:
    owners = _owners(names)
    claims: dict[int, list[str]] = {}
    for rel, path in files.items():
        hits = {owners[k] for k in _file_names(rel) if k in owners}
        if len(hits) > 1:
            which = _shown([f"{names[i][0]}/{names[i][1]}" for i in sorted(hits)])
            raise PredictionsError(f"{path} matches several frames ({which}); rename it")
        for i in hits:
            claims.setdefault(i, []).append(path)
    for i, paths in sorted(claims.items()):
        if len(paths) > 1:
            raise PredictionsError(
                f"several predictions for frame {i} ({names[i][0]}/{names[i][1]}): {_shown(sorted(paths))}; "
                "keep one per frame (for a BTS result folder, pass its raw/ folder)"
            )
    missing = [i for i in range(len(names)) if i not in claims]
    if missing:
        i = missing[0]
        scene, frame = names[i]
        raise PredictionsError(
            f"no prediction for frame {i} (scene {scene!r}, frame {frame!r}) and {len(missing) - 1} more frame(s) "
            f"in {folder}: looked for {', '.join(k + '.png|.npy' for k in frame_names(scene, frame))}; files are "
            f"paired by name (e.g. {_shown(sorted(files)[:3])} matched no frame); for files named by position, "
            "give the list of their frames (--predictions_list with --predictions_order=sorted)"
        )
    return [claims[i][0] for i in range(len(names))]


def _pair_by_list(files: dict[str, str], names: Sequence[tuple[str, str]], listed: Sequence[str]) -> list[str]:
    paths = [files[k] for k in sorted(files, key=_natural)]
    if len(paths) != len(listed):
        raise PredictionsError(
            f"the folder holds {len(paths)} predictions but the list names {len(listed)} frames; "
            "--predictions_order=sorted pairs the i-th file (natural name order) with the list's i-th line"
        )
    owners = _owners(names)
    claims: dict[int, list[int]] = {}
    unmatched = []
    for line, name in enumerate(listed):
        if name_key(name) in owners:
            claims.setdefault(owners[name_key(name)], []).append(line)
        else:
            unmatched.append(name)
    twice = [f"{names[i][0]}/{names[i][1]} (lines {lines})" for i, lines in claims.items() if len(lines) > 1]
    missing = [f"{scene}/{frame}" for i, (scene, frame) in enumerate(names) if i not in claims]
    if twice or missing:
        raise PredictionsError(
            f"the predictions list does not name every frame once: {len(missing)} frame(s) unnamed "
            f"({_shown(missing)}), listed twice: {_shown(twice) or 'none'}; list names that match no frame: "
            f"{_shown(unmatched) or 'none'} (a listed name must be a frame's name, e.g. "
            f"{', '.join(frame_names(*names[0]))})"
        )
    return [paths[claims[i][0]] for i in range(len(names))]


def match_predictions(
    folder: str, names: Sequence[tuple[str, str]], order: str = "name", file_list: Optional[str] = None
) -> list[str]:
    """The prediction file of each (scene, frame), in order, paired by name (directly, or through
    `file_list` for files named by position, ``order='sorted'``); PredictionsError naming what failed."""
    if order not in ("name", "sorted"):
        raise ValueError(f"unknown order {order!r}; use 'name' or 'sorted'")
    files = list_predictions(folder)
    if order == "name":
        if file_list is not None:
            raise PredictionsError("a predictions list pairs files by position: use --predictions_order=sorted")
        return _pair_by_name(files, names, folder)
    if file_list is None:
        raise PredictionsError(
            f"--predictions_order=sorted pairs {len(files)} files with {len(names)} frames by position alone, "
            "which mispairs silently: give the list of the files' frames in order (--predictions_list, e.g. BTS's "
            "train_test_inputs/nyudepthv2_test_files_with_gt.txt), or pair by name (the default)"
        )
    return _pair_by_list(files, names, read_file_list(file_list))


def check_png_header(path: str) -> None:
    """Refuses, from its IHDR, a PNG prediction that is not 16-bit single-channel or is over the size limit."""
    try:
        with open(path, "rb") as f:
            head = f.read(26)
    except OSError as e:
        raise PredictionsError(f"{path}: cannot read the prediction ({type(e).__name__}: {e})") from e
    if len(head) < 26 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return  # not a PNG: the decoder says so
    width, height = struct.unpack(">II", head[16:24])
    bits, colour = head[24], head[25]
    if bits != 16 or colour != 0:
        kind = f"{bits}-bit {_PNG_COLOURS.get(colour, f'colour type {colour}')}"
        raise PredictionsError(
            f"{path}: a depth PNG must be 16-bit single-channel (value / png_scale = metres), this one is {kind} "
            "(an 8-bit value would be read as value x 257); write 16-bit PNGs (e.g. uint16 millimetres) or .npy metres"
        )
    try:
        check_pixels(height, width, path)
    except ValueError as e:
        raise PredictionsError(str(e)) from None


def load_prediction(path: str, png_scale: float = 1000.0) -> np.ndarray:
    """float32 H x W metres from a 16-bit single-channel PNG (value / png_scale) or a .npy array of metres."""
    if not path.lower().endswith(".npy"):
        check_png_header(path)
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
    file_list: Optional[str] = None,
) -> tuple[dict[str, float], list[dict[str, np.ndarray]]]:
    """Scores the predictions in `folder` against `frames` ((rgb, depth, scene, frame) tuples) under `protocol`.

    Files pair with frames by name (:func:`match_predictions`; `file_list` with ``order='sorted'`` for files
    named by position). Scored by the one evaluation loop, :func:`depthnet.evaluation.evaluate.evaluate_predictor`
    (depth and boundary metrics); returns its (metrics, examples).
    """
    if protocol.flip_tta or protocol.input != "whole" or protocol.quantize_pred_mm:
        raise PredictionsError(
            "stored predictions cannot be flip-averaged, re-cropped or re-rounded: use --flip_tta=false "
            "--input=whole (the predicting system applies its own test-time augmentation)"
        )
    frames = list(frames)
    paths = iter(match_predictions(folder, [(str(f[2]), str(f[3])) for f in frames], order, file_list))

    def stored(images: Any) -> np.ndarray:  # the loop asks once per frame, in order (no TTA, whole input)
        path = next(paths)
        pred = load_prediction(path, png_scale)
        if not np.isfinite(pred).all():
            raise PredictionsError(f"{path}: the prediction has NaN or infinite values")
        return pred[None, ..., None]

    return evaluate_predictor(stored, frames, protocol, total=len(frames), keep_examples=keep_examples)
