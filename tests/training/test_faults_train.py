"""Fault matrix of issue 11, training and evaluation side (items 3, 4, 5, 8, 12, 13; index: tests/test_faults.py)."""

import json
import os
import signal
import subprocess

import pytest
import tensorflow as tf
from helpers import TRAIN_FLAGS, copy_of, run_cli, script, tiny_config

from depthnet.checkpoints import restore_model
from depthnet.config import preset
from depthnet.errors import ModelLoadError, NonFiniteLossError
from depthnet.training.loop import train


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _one_error_line(proc, tool):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(f"{tool}: error: ")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return errors[0]


# ------------------------------------------------------------------------- item 3: corrupt latest checkpoint


def test_truncated_latest_checkpoint_is_named_and_training_resumes_from_an_intact_one(base, tmp_path):
    run = copy_of(base, tmp_path)
    (data_file,) = (run / "ckpt").glob("ckpt-2.data-*")
    _truncate(data_file)
    with pytest.raises(ModelLoadError, match=r"ckpt-2 cannot be read .*truncated.*intact checkpoints.*ckpt-1"):
        restore_model(str(run), "latest")
    lines = []
    summary = train(preset("tiny"), tiny_config(run, base / "data", train_steps=3), log=lines.append)
    assert any(line.startswith("warning: checkpoint") and "ckpt-2" in line for line in lines), lines
    assert any(line.startswith("resumed from") and "ckpt-1 at step 1/3" in line for line in lines), lines
    assert summary["step"] == 3


def test_export_names_the_corrupt_checkpoint_and_the_intact_ones(base, tmp_path):
    run = copy_of(base, tmp_path)
    (data_file,) = (run / "ckpt").glob("ckpt-2.data-*")
    _truncate(data_file)
    proc = run_cli(
        script("depthnet-export") + [f"--model_dir={run}", f"--export_dir={tmp_path / 'x'}", "--checkpoint=latest"]
    )
    assert proc.returncode == 2
    line = _one_error_line(proc, os.path.basename(script("depthnet-export")[-1]))
    assert "ckpt-2 cannot be read" in line and "ckpt-1" in line and "--checkpoint" in line


# ------------------------------------------------------------------------- item 4: the NaN guard's good checkpoint


def test_non_finite_stop_keeps_the_last_sane_checkpoint_and_says_how_to_resume(base, tmp_path):
    run = copy_of(base, tmp_path)
    huge = dict(dfe_lr=9.0, dmg_lr=9.0, dfe_end_lr=0.9, dmg_end_lr=0.9, allow_changed_hyperparameters=True)
    # Step 3 at a huge learning rate is still finite (it starts from the sane step-2 weights) and is
    # saved; the weights it leaves give NaN at step 4.
    with pytest.raises(NonFiniteLossError) as caught:
        train(preset("tiny"), tiny_config(run, base / "data", train_steps=8, **huge), log=lambda s: None)
    message = str(caught.value)
    assert "last good checkpoint" in message and message.split("last good checkpoint ")[1].startswith(
        str(run / "ckpt" / "ckpt-2")
    ), message
    assert (
        "--dmg_lr=0.9" in message and "lower learning rate" in message and "--allow_changed_hyperparameters" in message
    )
    assert tf.train.latest_checkpoint(str(run / "ckpt")).endswith("ckpt-2")
    assert list((run / "rejected").glob("ckpt-3.index"))
    # Resuming as told continues from step 2 with finite losses.
    lower = dict(dfe_lr=0.9e-5, dmg_lr=0.9e-4, allow_changed_hyperparameters=True)  # a changed run, as advised
    lines = []
    summary = train(preset("tiny"), tiny_config(run, base / "data", train_steps=4, **lower), log=lines.append)
    assert "at step 2/4" in lines[0] and summary["step"] == 4


# ------------------------------------------------------------------------- item 5: SIGTERM


def test_sigterm_saves_a_checkpoint_and_exits_cleanly(base, tmp_path):
    model_dir = tmp_path / "run"
    args = script("depthnet-train") + TRAIN_FLAGS
    args += [f"--model_dir={model_dir}", f"--data_dir={base / 'data'}", "--train_steps=100000"]
    args += ["--checkpoint_every=100000"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stdout:
            if line.startswith("step 2/"):
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "stopped by SIGTERM" in errors[0] and "Traceback" not in err, err
    latest = tf.train.latest_checkpoint(str(model_dir / "ckpt"))
    assert latest is not None
    step = int(latest.rsplit("-", 1)[1])
    assert step >= 2 and f"at step {step}" in errors[0]


# ------------------------------------------------------------------------- item 8: checksums, named shards


def test_wrong_checksum_stops_training_before_anything_is_written(base, tmp_path):
    data = copy_of(base, tmp_path, "data")
    manifest = json.loads((data / "train" / "manifest.json").read_text())
    for shard in manifest["shards"]:
        shard["sha256"] = "0" * 64
    (data / "train" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="shard .*train-00000-of-00001.tfrecord does not match"):  # DataIntegrityError
        train(preset("tiny"), tiny_config(tmp_path / "run", data), log=lambda s: None)
    assert not (tmp_path / "run").exists()


def test_a_corrupt_shard_read_without_verification_is_named(base, tmp_path):
    data = copy_of(base, tmp_path, "data")
    (shard,) = (data / "train").glob("*.tfrecord")
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = b"\xff" * 64
    shard.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"cannot read shard {shard}"):  # DataIntegrityError
        train(preset("tiny"), tiny_config(tmp_path / "run", data, verify="off"), log=lambda s: None)


# ------------------------------------------------------------------------- item 12: train's input errors


def test_train_input_errors_are_one_line_and_write_nothing(base, tmp_path):
    tool = os.path.basename(script("depthnet-train")[-1])
    args = script("depthnet-train") + TRAIN_FLAGS + ["--train_steps=1"]
    missing = run_cli(args + [f"--model_dir={tmp_path / 'm1'}", f"--data_dir={tmp_path / 'nothing'}"])
    assert missing.returncode == 2 and "manifest.json missing" in _one_error_line(missing, tool)
    assert not (tmp_path / "m1").exists()  # config.json is not written before the data is checked
    run = copy_of(base, tmp_path)
    mismatch = run_cli(args[:1] + ["--config=quick"] + args[2:] + [f"--model_dir={run}", f"--data_dir={base / 'data'}"])
    assert mismatch.returncode == 2 and "different model" in _one_error_line(mismatch, tool)
    data = copy_of(base, tmp_path, "data")
    for shard in (data / "train").glob("*.tfrecord"):
        shard.unlink()
    with pytest.raises(FileNotFoundError, match="shards that are missing"):
        train(preset("tiny"), tiny_config(tmp_path / "m3", data), log=lambda s: None)
    assert not (tmp_path / "m3").exists()


# ------------------------------------------------------------------------- eval: items 3, 8, 13


def _eval(run, data_dir, *extra):
    return run_cli(script("depthnet-eval") + [f"--model_dir={run}", f"--data_dir={data_dir}", "--panels=0", *extra])


def test_eval_on_the_data_root_suggests_a_real_split(base, tmp_path):
    proc = _eval(base / "run", base / "data", f"--output_dir={tmp_path / 'e'}")
    line = _one_error_line(proc, os.path.basename(script("depthnet-eval")[-1]))
    assert proc.returncode == 2 and f"--data_dir={base / 'data' / 'test'}" in line and "--split=" not in line


def test_eval_verifies_checksums_and_names_a_corrupt_checkpoint(base, tmp_path):
    tool = os.path.basename(script("depthnet-eval")[-1])
    data = copy_of(base, tmp_path, "data")
    manifest = json.loads((data / "test" / "manifest.json").read_text())
    manifest["shards"][0]["sha256"] = "0" * 64
    (data / "test" / "manifest.json").write_text(json.dumps(manifest))
    proc = _eval(base / "run", data / "test", f"--output_dir={tmp_path / 'e1'}")
    assert proc.returncode == 2 and "does not match its manifest" in _one_error_line(proc, tool)
    run = copy_of(base, tmp_path)
    (data_file,) = (run / "ckpt").glob("ckpt-2.data-*")
    _truncate(data_file)
    proc = _eval(run, base / "data" / "test", "--checkpoint=latest")
    line = _one_error_line(proc, tool)
    assert proc.returncode == 2 and "ckpt-2 cannot be read" in line
    assert "intact checkpoints" in line and "ckpt-1" in line


# ------------------------------------------------------------------------- round two: a garbled state file


def test_a_garbled_checkpoint_state_file_resumes_from_the_files_and_overwrites_nothing(base, tmp_path):
    """ckpt/checkpoint unreadable (TensorFlow ignores it with a warning): the latest step still comes from the
    checkpoint files, so training resumes at step 2 and ckpt-1 / ckpt-2 keep their bytes."""
    run = copy_of(base, tmp_path)
    (run / "ckpt" / "checkpoint").write_bytes(b"garbage {{{ \\x00\\x01 not a state file")
    before = {p.name: p.read_bytes() for p in (run / "ckpt").glob("ckpt-*")}
    assert {"ckpt-1.index", "ckpt-2.index"} <= set(before)
    lines = []
    summary = train(preset("tiny"), tiny_config(run, base / "data", train_steps=3), log=lines.append)
    assert any(line.startswith("resumed from") and "ckpt-2 at step 2/3" in line for line in lines), lines
    assert summary["step"] == 3 and summary["trained_steps"] == 1
    after = {p.name: p.read_bytes() for p in (run / "ckpt").glob("ckpt-*")}
    assert set(before) <= set(after) and all(after[name] == data for name, data in before.items())
    assert (run / "ckpt" / "ckpt-3.index").exists()
