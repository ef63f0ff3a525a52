"""Issue 26, the training side: one run per model_dir (a lock), validate before writing, a record of how every
step was trained, a disk-full checkpoint save. Each test failed on the code before the fix."""

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess

import pytest
import tensorflow as tf
from helpers import REPO, TRAIN_FLAGS, copy_of, run_cli, script, tiny_config

from depthnet.checkpoints import checkpoint_problem
from depthnet.config import TrainConfig, preset
from depthnet.errors import DepthNetError, ModelLoadError
from depthnet.training.loop import train

LOCK = ".depthnet.lock"  # the lock file of a folder in use (depthnet.folder_lock)


def _one_error_line(proc, tool="depthnet-train"):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(f"{tool}: error: ")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return errors[0]


def _files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# ------------------------------------------------------------------------- item 1: one trainer per model_dir


def test_a_second_trainer_on_a_model_dir_in_use_is_refused_naming_the_first(base, tmp_path):
    """Two identical depthnet-train at once on one --model_dir (before: both ran, both exit 0, twice the steps
    under the same checkpoint names): the second exits 2 with one line naming the first (pid, host, since)."""
    model_dir = tmp_path / "run"
    args = script("depthnet-train") + TRAIN_FLAGS + ["--train_steps=100000", "--checkpoint_every=100000"]
    args += [f"--model_dir={model_dir}", f"--data_dir={base / 'data'}"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        for line in first.stdout:
            if line.startswith("step 2/"):
                break
        config = (model_dir / "config.json").read_bytes()
        second = subprocess.run(args, capture_output=True, text=True, env=env, cwd=REPO, timeout=150)
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=240)
    assert second.returncode == 2, second.stderr[-2000:]
    line = _one_error_line(second)
    assert str(model_dir) in line and f"pid {first.pid} on {socket.gethostname()}" in line and "since" in line
    assert (model_dir / "config.json").read_bytes() == config
    assert first.returncode == 128 + signal.SIGTERM and not (model_dir / LOCK).exists()  # released on exit


@pytest.mark.parametrize("held", [False, True], ids=["file-left", "flock-held-by-an-orphan"])
def test_a_lock_left_by_a_dead_trainer_is_taken_over(base, tmp_path, held):
    """The lock file of a killed trainer (its pid gone) does not block the next run, also when a process it left
    behind still holds the file's flock; the takeover is said and the lock is gone once the run ends."""
    run = copy_of(base, tmp_path)
    pid = _dead_pid()
    lock = run / LOCK
    lock.write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "tool": "depthnet-train", "since": "x"}))
    fd = os.open(lock, os.O_RDWR)
    if held:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        lines = []
        summary = train(preset("tiny"), tiny_config(run, base / "data", train_steps=3), log=lines.append)
    finally:
        os.close(fd)
    assert summary["step"] == 3
    assert any("took over" in line and f"pid {pid}" in line for line in lines), lines
    assert not lock.exists()


# ------------------------------------------------------------------------- item 3: validate, then write


def test_refused_flags_leave_the_run_as_it_was(base, tmp_path):
    """--batch_size=0 on an existing run (before: config.json rewritten with batch_size 0, then a failure)."""
    run = copy_of(base, tmp_path)
    before = _files(run)
    args = script("depthnet-train") + TRAIN_FLAGS[1:] + ["--config=tiny", "--train_steps=3"]
    proc = run_cli(args + [f"--model_dir={run}", f"--data_dir={base / 'data'}", "--batch_size=0"])
    assert proc.returncode == 2 and "batch_size" in _one_error_line(proc)
    assert _files(run) == before


@pytest.mark.parametrize(
    "field,value",
    [("batch_size", 0), ("holdout_scenes", -0.5), ("holdout_scenes", 1.0), ("dmg_lr", 0.0), ("dfe_lr", -1e-5),
     ("train_steps", -1), ("log_every", 0), ("checkpoint_every", 0), ("keep_checkpoints", 0), ("eval_frames", -1),
     ("precision", "fp8"), ("strategy", "many"), ("verify", "maybe"), ("source", "web")],
)  # fmt: skip
def test_train_config_refuses_values_no_run_can_use(tmp_path, field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(model_dir=str(tmp_path / "run"), **{field: value})


def test_negative_holdout_is_refused_before_anything_is_written(base, tmp_path):
    """--holdout_scenes=-0.5 (before: accepted, and the run silently validated on the test split)."""
    proc = run_cli(
        script("depthnet-train") + TRAIN_FLAGS + ["--train_steps=1", "--holdout_scenes=-0.5"]
        + [f"--model_dir={tmp_path / 'new'}", f"--data_dir={base / 'data'}"]
    )  # fmt: skip
    assert proc.returncode == 2 and "holdout_scenes" in _one_error_line(proc)
    assert not (tmp_path / "new").exists()


def test_a_run_whose_checkpoints_are_all_corrupt_keeps_its_config(base, tmp_path):
    run = copy_of(base, tmp_path)
    for data_file in run.rglob("ckpt-*.data-*"):
        data_file.write_bytes(data_file.read_bytes()[:10])
    before = (run / "config.json").read_bytes()
    with pytest.raises(ModelLoadError, match="can be read"):
        train(preset("tiny"), tiny_config(run, base / "data", train_steps=3, log_every=2), log=lambda s: None)
    assert (run / "config.json").read_bytes() == before


def test_a_resume_with_other_hyperparameters_is_refused_then_recorded_as_a_segment(base, tmp_path):
    """A resume with another learning rate (before: config.json's training section silently rewritten, the
    settings of the earlier steps lost) is refused naming the field; allowed, each segment keeps its settings."""
    run = copy_of(base, tmp_path)
    before = _files(run)
    changed = tiny_config(run, base / "data", train_steps=3, dmg_lr=2e-4, batch_size=1)
    with pytest.raises(ValueError) as refused:
        train(preset("tiny"), changed, log=lambda s: None)
    message = str(refused.value)
    assert "\n" not in message and "dmg_lr 0.0001 -> 0.0002" in message and "batch_size 2 -> 1" in message
    assert "allow_changed_hyperparameters" in message and "dfe_lr" not in message
    assert _files(run) == before
    changed.allow_changed_hyperparameters = True
    lines = []
    assert train(preset("tiny"), changed, log=lines.append)["step"] == 3
    payload = json.loads((run / "config.json").read_text())
    segments = payload["segments"]
    assert [s["from_step"] for s in segments] == [0, 2]
    assert [s["train"]["dmg_lr"] for s in segments] == [1e-4, 2e-4] and segments[0]["train"]["batch_size"] == 2
    assert payload["train"]["dmg_lr"] == 2e-4 and any("dmg_lr" in line for line in lines), lines
    unchanged = tiny_config(run, base / "data", train_steps=3, dmg_lr=2e-4, batch_size=1)
    train(preset("tiny"), unchanged, log=lambda s: None)  # the same settings again: no new segment
    assert len(json.loads((run / "config.json").read_text())["segments"]) == 2


# ------------------------------------------------------------------------- item 2: paths from any folder


def test_a_relative_data_dir_is_recorded_absolute_and_guards_eval_from_elsewhere(base, tmp_path, monkeypatch):
    """Trained in one folder with --data_dir=data (validating on data/test), evaluated from another folder on
    that split's absolute path (before: the recorded relative path matched nothing, `best` chosen on the
    evaluated split was used without a word)."""
    data = copy_of(base, tmp_path, "data")
    monkeypatch.chdir(tmp_path)
    train(preset("tiny"), tiny_config("run", "data", checkpoint_every=2, eval_every=2), log=lambda s: None)
    payload = json.loads((tmp_path / "run" / "config.json").read_text())
    assert payload["train"]["data_dir"] == str(data) and payload["validation"]["split_dir"] == str(data / "test")
    proc = run_cli(
        script("depthnet-eval") + [f"--model_dir={tmp_path / 'run'}", f"--data_dir={data / 'test'}", "--panels=0"]
    )  # run_cli runs in the repository, not in tmp_path
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "test-set selection" in proc.stdout and "latest" in proc.stdout
    metrics = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())
    assert any("test-set selection" in note for note in metrics["notes"])


# ------------------------------------------------------------------------- item 5: disk full while saving


def _full_disk_on(number):
    real = tf.train.CheckpointManager.save

    def save(self, checkpoint_number=None, **kw):
        if int(checkpoint_number) == number:
            os.makedirs(os.path.join(self.directory, f"ckpt-{number}_temp"), exist_ok=True)  # what TF leaves
            raise tf.errors.ResourceExhaustedError(None, None, f"ckpt-{number}_temp/part; No space left on device")
        return real(self, checkpoint_number=checkpoint_number, **kw)

    return save


def test_a_full_disk_while_saving_is_one_message_and_keeps_the_earlier_checkpoints(base, tmp_path, monkeypatch):
    """ENOSPC in a checkpoint save (before: ResourceExhaustedError traceback, exit 1): one line, exit 2, the
    earlier checkpoints intact and the partial one removed."""
    run = copy_of(base, tmp_path)
    before = {k: v for k, v in _files(run).items() if k.startswith("ckpt/ckpt-")}
    monkeypatch.setattr(tf.train.CheckpointManager, "save", _full_disk_on(3))
    with pytest.raises(DepthNetError) as caught:
        train(preset("tiny"), tiny_config(run, base / "data", train_steps=4, decay_steps=2), log=lambda s: None)
    message = str(caught.value)
    assert caught.value.exit_code == 2 and "\n" not in message, message
    assert "disk full" in message and "ckpt-2" in message and "re-run" in message
    after = _files(run)
    assert all(after[k] == v for k, v in before.items()) and checkpoint_problem(str(run / "ckpt" / "ckpt-2")) is None
    assert not list((run / "ckpt").glob("ckpt-3*")) and not (run / LOCK).exists()


def _mount_tmpfs(path, size):
    path.mkdir()
    ok = os.geteuid() == 0 and shutil.which("mount") and shutil.which("umount")
    if not ok or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]).returncode:
        pytest.skip("needs root to mount a small tmpfs")


def test_a_really_full_disk_stops_depthnet_train_with_one_line(base, tmp_path):
    """depthnet-train with its model_dir on a tmpfs that holds one checkpoint but not two."""
    size = sum(p.stat().st_size for p in (base / "run" / "ckpt").glob("ckpt-1.*"))
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, int(size * 1.6) + 400_000)
    try:
        args = script("depthnet-train") + TRAIN_FLAGS + ["--train_steps=3", "--checkpoint_every=1"]
        proc = run_cli(args + [f"--model_dir={disk / 'run'}", f"--data_dir={base / 'data'}"])
        assert proc.returncode == 2, proc.stderr[-3000:]
        line = _one_error_line(proc)
        assert "disk full" in line and "ckpt-1" in line, line
        assert checkpoint_problem(str(disk / "run" / "ckpt" / "ckpt-1")) is None
    finally:
        subprocess.run(["umount", str(disk)], check=False)
