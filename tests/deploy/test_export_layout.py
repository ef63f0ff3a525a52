"""The export folder: each format owns its sub-folder; re-exporting one leaves the others and the user's files
byte for byte; a stale format is flagged, a folder holding a user's file is refused, the older layout reported."""

import json
import os
import shutil

import pytest
from helpers import run_cli, script

from depthnet.deploy.export import export_formats
from depthnet.deploy.saved_model import export_run
from depthnet.inference import Predictor


def _snapshot(root, skip=()):
    """{relative path: bytes} of every file under `root` outside the top-level entries `skip`."""
    out = {}
    for folder, _dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        if rel.split(os.sep)[0] in skip:
            continue
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                out[os.path.normpath(os.path.join(rel, name))] = f.read()
    return out


def _card(folder):
    with open(os.path.join(folder, "model.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture
def copy(all_formats, tmp_path):
    """A copy of the all-format export with a file and a folder of the user's beside the formats."""
    target = tmp_path / "export"
    shutil.copytree(all_formats[0], target)
    (target / "notes.txt").write_text("my notes")
    (target / "mine").mkdir()
    (target / "mine" / "keep.bin").write_bytes(b"\x00\x01")
    return target


def test_reexporting_one_format_leaves_the_others_and_the_users_files_byte_for_byte(copy, all_formats):
    """Issue: --format=saved_model into a folder holding litert_*/ and onnx_fp32/ silently removed them."""
    model_dir = all_formats[1]
    before = _snapshot(copy, skip=("saved_model",))
    folder_id = os.stat(copy / "saved_model").st_ino
    proc = run_cli(
        script("depthnet-export")
        + [f"--model_dir={model_dir}", f"--export_dir={copy}", "--checkpoint=latest", "--format=saved_model"]
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _snapshot(copy, skip=("saved_model",)) == before  # LiteRT, ONNX, notes.txt, mine/keep.bin untouched
    assert os.stat(copy / "saved_model").st_ino != folder_id  # the SavedModel itself was replaced
    assert sorted(os.listdir(copy)) == sorted(
        ["saved_model", "litert_fp32", "litert_fp16", "litert_int8", "onnx_fp32", "notes.txt", "mine"]
    )  # no temporaries left
    others = _card(copy / "saved_model")["other_formats"]
    assert others["litert_int8"]["same_checkpoint"] is True and others["saved_model"]["exported_with_this_file"]
    assert ": warning: " not in proc.stderr
    lite = _snapshot(copy, skip=("litert_fp32",))
    export_formats(model_dir, str(copy), ["litert"], "latest", litert_precisions=["fp32"])
    assert _snapshot(copy, skip=("litert_fp32",)) == lite  # and the other way round


def test_a_format_from_another_checkpoint_is_flagged_in_the_new_card_and_warned(copy, all_formats):
    card_path = copy / "litert_fp32" / "model.json"
    card = _card(copy / "litert_fp32")
    card["source"].update(checkpoint_path="/elsewhere/ckpt/ckpt-1", checkpoint_index_sha256="0" * 64)
    card_path.write_text(json.dumps(card))
    before = _snapshot(copy, skip=("onnx_fp32",))
    warnings = []
    export_formats(all_formats[1], str(copy), ["onnx"], "latest", warn=warnings.append)
    assert _snapshot(copy, skip=("onnx_fp32",)) == before  # flagged, neither deleted nor rewritten
    others = _card(copy / "onnx_fp32")["other_formats"]
    assert others["litert_fp32"] == {
        "checkpoint_path": "/elsewhere/ckpt/ckpt-1",
        "exported_at": card["exported_at"],
        "same_checkpoint": False,
    }
    assert others["litert_fp16"]["same_checkpoint"] is True and others["saved_model"]["same_checkpoint"] is True
    assert warnings == [
        "litert_fp32/ was exported from /elsewhere/ckpt/ckpt-1, not from this export's checkpoint: "
        "re-export it (--format=litert)"
    ]


def test_a_format_folder_holding_a_users_file_is_refused_before_anything_changes(copy, all_formats):
    (copy / "onnx_fp32" / "mine.txt").write_text("mine")
    before = _snapshot(copy)
    with pytest.raises(FileExistsError, match=r"onnx_fp32.* holds mine.txt, which depthnet-export did not write"):
        export_formats(all_formats[1], str(copy), ["saved_model", "onnx"], "latest")
    assert _snapshot(copy) == before  # not even the SavedModel, which came first, was replaced


def test_the_older_layout_is_reported_and_kept_and_never_replaced_with_its_siblings(all_formats, tmp_path):
    """The older layout: the SavedModel at export_dir itself, converted files beside its variables/."""
    model_dir = all_formats[1]
    legacy = tmp_path / "legacy"
    export_run(model_dir, str(legacy), checkpoint="latest", verify=False)
    shutil.copytree(os.path.join(all_formats[0], "litert_fp32"), legacy / "litert_fp32")
    with pytest.raises(FileExistsError, match="holds litert_fp32, which depthnet-export did not write"):
        export_run(model_dir, str(legacy), checkpoint="latest", verify=False)  # used to delete litert_fp32/
    before = _snapshot(legacy)
    warnings = []
    export_formats(model_dir, str(legacy), ["saved_model"], "latest", warn=warnings.append)
    assert _snapshot(legacy, skip=("saved_model",)) == before  # the old root SavedModel and litert_fp32/ kept
    assert len(warnings) == 1 and "older layout" in warnings[0] and "saved_model/" in warnings[0]
    assert _card(legacy / "saved_model")["other_formats"]["."]["same_checkpoint"] is None  # it had no card
    predictor = Predictor.from_saved_model(str(legacy))
    assert predictor.info["saved_model"] == str(legacy / "saved_model")  # loaders take the new folder
