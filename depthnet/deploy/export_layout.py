"""The export folder: one sub-folder per format, what each holds, and which formats are stale.

    export_dir/saved_model/     the SavedModel + model.json
    export_dir/litert_fp32/     model.tflite + model.json   (also litert_fp16, litert_int8)
    export_dir/onnx_fp32/       model.onnx + model.json

Each format owns its folder and nothing else: exporting one format replaces that folder atomically
(:func:`depthnet.deploy.export_dirs.replace_dir`) and leaves the other formats and any file of the
user's in ``export_dir`` as they were. A format folder holding a file the exporter does not write
is refused before anything is converted (:func:`check_folders`).

A format left from an earlier export may come from another checkpoint. Every card records its
checkpoint (path and the sha256 of its ``.index``); a new card lists the other formats present
under ``other_formats`` with ``same_checkpoint`` true/false (:func:`other_formats`), and the export
warns about each stale one, naming the ``--format`` that refreshes it. Stale formats are neither
deleted nor silently kept. The older layout (the SavedModel at ``export_dir`` itself) is reported
the same way; loaders prefer ``saved_model/`` (:func:`depthnet.inference.saved_model_folder`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Optional

from depthnet.deploy import export_dirs
from depthnet.deploy.model_card import CARD_NAME, read_json
from depthnet.deploy.saved_model import SAVED_MODEL_ENTRIES
from depthnet.inference import SAVED_MODEL_SUBDIR

MODEL_FILES = {"litert": "model.tflite", "onnx": "model.onnx"}
ROOT = "."  # the older layout's SavedModel at export_dir itself


def owned_entries(folder_name: str) -> tuple[str, ...]:
    """What the exporter writes in the format folder `folder_name` (saved_model, litert_<p>, onnx_fp32)."""
    if folder_name == SAVED_MODEL_SUBDIR:
        return SAVED_MODEL_ENTRIES
    return (MODEL_FILES[folder_name.split("_")[0]], CARD_NAME)


def format_folders(formats: Sequence[str], litert_precisions: Sequence[str]) -> list[str]:
    """The sub-folders an export of `formats` writes."""
    out = [SAVED_MODEL_SUBDIR] if "saved_model" in formats else []
    out += [f"litert_{p}" for p in litert_precisions] if "litert" in formats else []
    return out + (["onnx_fp32"] if "onnx" in formats else [])


def check_folders(export_dir: str, folders: Sequence[str]) -> None:
    """FileExistsError before anything is written: `export_dir` is a file, or a format folder holds foreign files."""
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise FileExistsError(f"export_dir {export_dir!r} exists and is a file; choose another path")
    for name in folders:
        export_dirs.check_replaceable(os.path.join(export_dir, name), owned_entries(name))


def _is_format_folder(name: str) -> bool:
    return name == SAVED_MODEL_SUBDIR or name.startswith(("litert_", "onnx_"))


def same_checkpoint(card_source: Any, facts: dict[str, Any]) -> Optional[bool]:
    """Whether a card's source is the checkpoint of `facts`; None when the card does not say."""
    if not isinstance(card_source, dict) or not card_source.get("checkpoint_path"):
        return None
    theirs, ours = card_source.get("checkpoint_index_sha256"), facts.get("checkpoint_index_sha256")
    if theirs and ours:
        return theirs == ours
    same_run = os.path.abspath(str(card_source.get("model_dir") or "")) == os.path.abspath(facts.get("model_dir", ""))
    return same_run and os.path.basename(str(card_source["checkpoint_path"])) == os.path.basename(
        str(facts.get("checkpoint_path") or "")
    )


def _entry(card: Optional[dict], facts: dict[str, Any]) -> dict[str, Any]:
    source = (card or {}).get("source")
    same = same_checkpoint(source, facts)
    return {
        "checkpoint_path": source.get("checkpoint_path") if isinstance(source, dict) else None,
        "exported_at": (card or {}).get("exported_at"),
        "same_checkpoint": same,
    }


def other_formats(export_dir: str, written: Sequence[str], facts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{folder: its checkpoint and whether it is this export's} for every format in `export_dir`;
    the folders of this export (`written`) are marked as such, the older layout's root SavedModel as '.'."""
    out: dict[str, dict[str, Any]] = {
        name: {"exported_with_this_file": True, "same_checkpoint": True} for name in written
    }
    names = sorted(os.listdir(export_dir)) if os.path.isdir(export_dir) else []
    for name in names:
        folder = os.path.join(export_dir, name)
        if name in written or not _is_format_folder(name) or not os.path.isdir(folder):
            continue
        out[name] = _entry(read_json(os.path.join(folder, CARD_NAME)), facts)
    if os.path.isfile(os.path.join(export_dir, "saved_model.pb")):
        out[ROOT] = {
            **_entry(read_json(os.path.join(export_dir, CARD_NAME)), facts),
            "note": "a SavedModel of the older layout at export_dir itself; loaders use saved_model/ instead. Delete "
            "its saved_model.pb, fingerprint.pb, variables/, assets/ and model.json when no longer needed",
        }
    return out


def stale_warnings(others: dict[str, dict[str, Any]]) -> list[str]:
    """One warning per format in the export folder that is not from this export's checkpoint."""
    out = []
    for name, entry in others.items():
        if name == ROOT:
            out.append(
                f"export_dir itself holds a SavedModel of the older layout (from {entry.get('checkpoint_path')}); "
                f"loaders now use {SAVED_MODEL_SUBDIR}/: delete the old one's saved_model.pb, fingerprint.pb, "
                f"variables/, assets/ and model.json when no longer needed"
            )
            continue
        if entry.get("exported_with_this_file") or entry.get("same_checkpoint") is True:
            continue
        fmt = "saved_model" if name == SAVED_MODEL_SUBDIR else name.split("_")[0]
        origin = entry.get("checkpoint_path") or "an unknown checkpoint"
        out.append(
            f"{name}/ was exported from {origin}, not from this export's checkpoint: re-export it (--format={fmt})"
        )
    return out
