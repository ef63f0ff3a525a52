"""The checkpoint-selection rule (depthnet.evaluation.checkpoint_choice): never report 'best' chosen on the
very data being evaluated."""

import json

from depthnet.evaluation.checkpoint_choice import choose_checkpoint


def _run(tmp_path, validation, train=None):
    run = tmp_path / "run"
    run.mkdir()
    payload = {"model": {}, "train": train or {"data_dir": str(tmp_path / "data"), "val_split": "test"}}
    if validation is not None:
        payload["validation"] = validation
    (run / "config.json").write_text(json.dumps(payload), encoding="utf-8")
    return str(run)


def test_best_chosen_on_the_evaluated_split_falls_back_to_latest_with_a_note(tmp_path):
    run = _run(tmp_path, {"kind": "prepared split", "split_dir": str(tmp_path / "data" / "test")})
    checkpoint, note = choose_checkpoint(run, "best", explicit=False, evaluated_dir=str(tmp_path / "data" / "test"))
    assert checkpoint == "latest"
    assert "test-set selection" in note and str(tmp_path / "data" / "test") in note and "--checkpoint" in note


def test_best_is_kept_on_other_data_and_for_held_out_validation(tmp_path):
    run = _run(tmp_path, {"kind": "prepared split", "split_dir": str(tmp_path / "data" / "test")})
    assert choose_checkpoint(run, "best", False, str(tmp_path / "other")) == ("best", "")
    (tmp_path / "h").mkdir()
    held_out = _run(tmp_path / "h", {"kind": "held-out training scenes"})
    evaluated = str(tmp_path / "data" / "test")
    assert choose_checkpoint(held_out, "best", False, evaluated, official_test=True) == ("best", "")


def test_an_official_test_split_counts_as_the_evaluated_data(tmp_path):
    """The labeled .mat's official test split is never the run's own held-out scenes: no 'best' chosen on it."""
    run = _run(tmp_path, {"kind": "prepared split", "split_dir": str(tmp_path / "data" / "test")})
    checkpoint, note = choose_checkpoint(run, "best", False, "", official_test=True)
    assert checkpoint == "latest" and note


def test_the_old_record_without_validation_entry_uses_data_dir_and_val_split(tmp_path):
    run = _run(tmp_path, None, train={"data_dir": str(tmp_path / "d"), "val_split": "val"})
    assert choose_checkpoint(run, "best", False, str(tmp_path / "d" / "val"))[0] == "latest"
    assert choose_checkpoint(run, "best", False, str(tmp_path / "d" / "test"))[0] == "best"


def test_an_explicit_checkpoint_is_used_as_given(tmp_path):
    run = _run(tmp_path, {"kind": "prepared split", "split_dir": str(tmp_path / "data" / "test")})
    assert choose_checkpoint(run, "ckpt-4", True, str(tmp_path / "data" / "test")) == ("ckpt-4", "")
    assert choose_checkpoint(str(tmp_path / "missing"), "best", False, "x") == ("best", "")
