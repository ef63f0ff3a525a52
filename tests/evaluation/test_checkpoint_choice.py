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


# ------------------------------------------------------------------------- issue 26 item 2: the split's identity


def test_an_explicit_best_chosen_on_the_evaluated_split_is_used_but_noted(tmp_path):
    """--checkpoint=best on the run's own validation split (before: used without a word)."""
    run = _run(tmp_path, {"kind": "prepared split", "split_dir": str(tmp_path / "data" / "test")})
    checkpoint, note = choose_checkpoint(run, "best", True, str(tmp_path / "data" / "test"))
    assert checkpoint == "best" and "test-set selection" in note and str(tmp_path / "data" / "test") in note
    checkpoint, note = choose_checkpoint(run, "best", True, "", official_test=True)
    assert checkpoint == "best" and "test-set selection" in note
    held_out = tmp_path / "h"
    held_out.mkdir()
    assert choose_checkpoint(_run(held_out, {"kind": "held-out training scenes"}), "best", True, "x") == ("best", "")


def _split(path, seed):
    from helpers import random_frames

    from data_prep import write_frames

    write_frames(random_frames(2, seed), str(path))
    return path


def test_a_copy_of_the_validation_split_elsewhere_is_the_same_data(tmp_path):
    """The split validated on, copied (or linked) to another path: the same shards (before: a different path
    counted as different data, and `best` chosen on it was used)."""
    import shutil

    val = _split(tmp_path / "data" / "test", 1)
    copy = tmp_path / "elsewhere" / "nyu_test"
    shutil.copytree(val, copy)
    other = _split(tmp_path / "other" / "test", 2)
    run = _run(tmp_path, {"kind": "prepared split", "split_dir": str(val)})
    checkpoint, note = choose_checkpoint(run, "best", False, str(copy))
    assert checkpoint == "latest" and "test-set selection" in note and "same shards" in note
    assert choose_checkpoint(run, "best", False, str(other)) == ("best", "")
    from depthnet.evaluation.checkpoint_choice import split_fingerprint

    fingerprint = split_fingerprint(str(val))
    shutil.rmtree(val)  # gone from where it was: the fingerprint recorded at training still identifies the copy
    for where, recorded, expected in (("a", fingerprint, "latest"), ("b", "f" * 64, "best")):
        (tmp_path / where).mkdir()
        validation = {"kind": "prepared split", "split_dir": str(val), "fingerprint": recorded}
        assert choose_checkpoint(_run(tmp_path / where, validation), "best", False, str(copy))[0] == expected


def test_a_symlinked_path_to_the_validation_split_is_the_same_split(tmp_path):
    val = tmp_path / "data" / "test"
    val.mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "data")
    run = _run(tmp_path, {"kind": "prepared split", "split_dir": str(val)})
    assert choose_checkpoint(run, "best", False, str(tmp_path / "link" / "test"))[0] == "latest"


def test_an_old_record_with_a_relative_path_is_matched_from_any_folder(tmp_path, monkeypatch):
    """Runs recorded before paths were made absolute hold data_dir as typed (relative to where training ran):
    the evaluated split's path ending in it counts as the same split (never 'best' chosen on test)."""
    run = _run(tmp_path, {"kind": "prepared split", "split_dir": "data/nyu/test"})
    monkeypatch.chdir(tmp_path / "run")
    assert choose_checkpoint(run, "best", False, "/somewhere/data/nyu/test")[0] == "latest"
    assert choose_checkpoint(run, "best", False, "/somewhere/data/nyu/train")[0] == "best"
