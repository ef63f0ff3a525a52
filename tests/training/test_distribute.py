"""tf.distribute training: MirroredStrategy (two logical CPUs) and MultiWorkerMirroredStrategy (two processes).

Both compare against a one-device run with the same global batches and the same initial weights.
BatchNorm is frozen (as in the paper), so per-replica batch statistics cannot differ from the
global batch's. The strategies run in fresh subprocesses (logical devices and the collective runtime
must be configured before TensorFlow initialises); this file is also the subprocesses' script.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

STEPS = 3
GLOBAL_BATCH = 4
SIZE = (64, 96)
LR = 1e-3
SEED = 4  # keras seed of the initial weights (a tiny-network initialisation with finite outputs)
TIMEOUT = 150  # seconds per subprocess


def _frames(n, seed, height=78, width=104):
    from depthnet.data import records

    rng = np.random.default_rng(seed)
    for i in range(n):
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        depth = (1.0 + 4.0 * rng.random((height, width))).astype(np.float32)
        depth[:4] = 0.0
        depth[rng.random((height, width)) < 0.05 * (i % 3)] = 0.0  # a different valid-pixel count per frame
        yield records.Frame(rgb, depth, scene=f"s{i % 2}", frame=f"{i:04d}")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):

    from data_prep import write_frames  # here, not at the top: this file also runs as a worker script

    root = tmp_path_factory.mktemp("data")
    write_frames(_frames(12, 0), str(root / "train"), num_shards=2)
    write_frames(_frames(2, 1), str(root / "test"))
    return str(root)


def _model_config():
    from depthnet.config import preset

    return preset("tiny", frozen_stages=0, freeze_batchnorm=True)


def _run_config(model_dir, data_root, strategy="default"):
    from depthnet.config import TrainConfig

    return TrainConfig(
        model_dir=model_dir,
        data_dir=data_root,
        train_steps=STEPS,
        decay_steps=100,
        batch_size=GLOBAL_BATCH,
        checkpoint_every=2,
        eval_every=STEPS,
        eval_frames=2,
        log_every=1,
        image_every=STEPS,
        seed=5,
        deterministic=True,
        dmg_lr=LR,
        dfe_lr=LR,
        strategy=strategy,
        input_sharding="batches",
    )


def _save_weights(path, weights):
    np.savez(path, **{f"w{i}": w for i, w in enumerate(weights)})


def _load_weights(path):
    with np.load(path) as z:
        return [z[f"w{i}"] for i in range(len(z.files))]


def _recorded_train(model_config, run, init_path, log):
    """depthnet.training.loop.train(), with its Trainer starting from `init_path`'s weights; (summary, trainer)."""
    from depthnet.training import loop as train_module

    created = []
    original = train_module.Trainer

    class Recording(original):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.model.set_weights(_load_weights(init_path))
            self.valid_pixels = []  # the global batch's valid-pixel count per step: a fingerprint of the data
            created.append(self)

        def train_step(self, *args):
            out = super().train_step(*args)
            self.valid_pixels.append(float(out["valid_pixels"]))
            return out

    train_module.Trainer = Recording
    try:
        summary = train_module.train(model_config, run, log=log)
    finally:
        train_module.Trainer = original
    return summary, created[0]


def _losses(lines):
    return [float(line.split("loss ")[1].split()[0]) for line in lines if line.startswith("step ")]


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _spawn(args, env_extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env_extra}
    return subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _finish(procs, deadline):
    """Each process's output; kills every process (group) still running at the deadline or on failure."""
    outputs = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            outputs.append(out)
            assert p.returncode == 0, f"subprocess failed ({p.returncode}):\n{out[-4000:]}"
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    return outputs


def _result(output):
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert lines, output[-4000:]
    return json.loads(lines[-1][len("RESULT ") :])


# ------------------------------------------------------------------------------------ in-process


def test_input_shards_union_is_the_single_device_global_batch(data_root):
    import tensorflow as tf

    from depthnet.data import pipeline as data
    from depthnet.training import distribute

    train_dir = os.path.join(data_root, "train")
    single = data.train_dataset(train_dir, batch_size=GLOBAL_BATCH, crop_size=SIZE, seed=7, deterministic=True)
    per_worker = []
    for index in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=index, num_replicas_in_sync=2)
        fn = distribute.dataset_fn(train_dir, GLOBAL_BATCH, SIZE, seed=7, deterministic=True, sharding="batches")
        per_worker.append(list(fn(context).take(STEPS)))
    for step, batch in enumerate(single.take(STEPS)):
        parts = [per_worker[w][step] for w in range(2)]
        assert parts[0]["image"].shape[0] == GLOBAL_BATCH // 2
        for key in ("image", "depth", "mask"):
            np.testing.assert_array_equal(np.concatenate([p[key].numpy() for p in parts]), batch[key].numpy())
    # 'files': each worker reads only its own shard files (frames are written round-robin into 2 shards).
    seen = []
    for index in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=index, num_replicas_in_sync=2)
        fn = distribute.dataset_fn(
            train_dir, GLOBAL_BATCH, SIZE, seed=7, deterministic=True, sharding="auto", keep_ids=True, repeat=False
        )
        frames = {int(f) for b in fn(context) for f in b["frame"].numpy()}
        assert frames and {f % 2 for f in frames} == {index}
        seen.append(frames)
    assert seen[0].isdisjoint(seen[1]) and len(seen[0] | seen[1]) == 12
    assert (
        distribute.resolve_sharding("auto", 3, 2) == "batches" and distribute.resolve_sharding("files", 1, 2) == "none"
    )


# ------------------------------------------------------------------------------------ subprocesses


def _mirrored_main(data_root, out_dir):
    from depthnet.training import distribute

    devices = distribute.split_cpu(2)  # before TensorFlow initialises
    import keras

    from depthnet.config import TrainConfig
    from depthnet.data import pipeline as data
    from depthnet.training.loop import Trainer

    strategy = distribute.make_strategy("mirrored")
    keras.utils.set_random_seed(SEED)
    run = lambda name, strategy_name: TrainConfig(
        model_dir=os.path.join(out_dir, name),
        train_steps=100,
        decay_steps=100,
        dmg_lr=LR,
        dfe_lr=LR,
        strategy=strategy_name,
    )
    single = Trainer(_model_config(), run("single", "default"))
    mirrored = Trainer(_model_config(), run("mirrored", "mirrored"), strategy=strategy)
    initial = single.model.get_weights()
    mirrored.model.set_weights(initial)
    train_dir = os.path.join(data_root, "train")
    single_batches = iter(
        data.train_dataset(train_dir, batch_size=GLOBAL_BATCH, crop_size=SIZE, seed=7, deterministic=True)
    )
    replica_batches = iter(
        distribute.distributed_train_dataset(strategy, train_dir, GLOBAL_BATCH, SIZE, seed=7, deterministic=True)
    )
    result = {
        "devices": devices,
        "replicas": strategy.num_replicas_in_sync,
        "union_equal": [],
        "replica_devices": [],
        "single": [],
        "mirrored": [],
    }
    for _ in range(STEPS):
        a, b = next(single_batches), next(replica_batches)
        parts = strategy.experimental_local_results(b["image"])
        result["replica_devices"].append([p.device for p in parts])
        result["union_equal"].append(
            bool(np.array_equal(np.concatenate([p.numpy() for p in parts]), a["image"].numpy()))
        )
        for trainer, batch, key in ((single, a, "single"), (mirrored, b, "mirrored")):
            out = trainer.train_step(batch["image"], batch["depth"], batch["mask"])
            result[key].append({k: float(out[k]) for k in ("loss", "grad_norm", "valid_pixels", "finite")})
    final_single, final_mirrored = single.model.get_weights(), mirrored.model.get_weights()
    result["max_weight_diff"] = max(float(np.abs(p - q).max()) for p, q in zip(final_single, final_mirrored))
    result["max_moved"] = max(float(np.abs(p - q).max()) for p, q in zip(final_single, initial))
    copies = [strategy.experimental_local_results(v.value) for v in mirrored.model.trainable_variables]
    result["copies"] = sorted({len(c) for c in copies})
    result["max_copy_diff"] = max(float(np.abs(c[0].numpy() - c[-1].numpy()).max()) for c in copies)
    result["variable_types"] = sorted({type(v.value).__name__ for v in mirrored.model.weights})
    result["steps"] = [int(mirrored.step.numpy())] + [int(o.iterations.numpy()) for o in mirrored.optimizers.values()]
    result["learning_rates"] = [mirrored.learning_rates(), single.learning_rates()]
    try:
        distribute.distributed_train_dataset(strategy, train_dir, 3, SIZE, seed=7, deterministic=True)
        result["odd_batch_error"] = None
    except ValueError as err:
        result["odd_batch_error"] = str(err)
    print("RESULT " + json.dumps(result), flush=True)


def _worker_main(data_root, model_dir, out_path, init_path):
    from depthnet.training import distribute

    distribute.make_strategy("multi_worker")  # first: before any other TensorFlow work
    lines = []
    summary, trainer = _recorded_train(
        _model_config(), _run_config(model_dir, data_root, "multi_worker"), init_path, lines.append
    )
    _save_weights(out_path, trainer.model.get_weights())
    print("\n".join(lines))
    print(
        "RESULT "
        + json.dumps(
            {
                "step": summary["step"],
                "chief": trainer.is_chief,
                "losses": _losses(lines),
                "valid_pixels": trainer.valid_pixels,
                "replicas": trainer.strategy.num_replicas_in_sync,
                "checkpoint": summary["checkpoint"],
            }
        ),
        flush=True,
    )


def test_mirrored_two_cpu_replicas_match_one_device(data_root, tmp_path):
    (out,) = _finish([_spawn(["mirrored", data_root, str(tmp_path)], {})], time.monotonic() + TIMEOUT)
    r = _result(out)
    assert r["replicas"] == 2 and len(r["devices"]) == 2
    assert all(len(set(d)) == 2 for d in r["replica_devices"])  # each step's two halves on two devices
    assert r["union_equal"] == [True] * STEPS  # the replicas' batches together are the one-device batch
    for s, m in zip(r["single"], r["mirrored"]):
        assert m["finite"] == s["finite"] == 1.0
        assert m["valid_pixels"] == s["valid_pixels"]  # the all-reduced (global) valid-pixel count
        assert m["loss"] == pytest.approx(s["loss"], rel=1e-5)
        assert m["grad_norm"] == pytest.approx(s["grad_norm"], rel=1e-4)
    assert r["max_moved"] > 1e-3  # the weights did change (about LR per step)...
    assert r["max_weight_diff"] < 0.05 * LR  # ...and identically, up to float rounding of the reductions
    assert r["copies"] == [2] and r["max_copy_diff"] == 0.0  # both replicas' copies identical
    assert "MirroredVariable" in r["variable_types"]
    assert r["steps"] == [STEPS, STEPS, STEPS]
    assert r["learning_rates"][0] == pytest.approx(r["learning_rates"][1])
    assert r["odd_batch_error"] and "divisible" in r["odd_batch_error"]


def test_multi_worker_two_processes_match_one_device_and_only_the_chief_writes(data_root, tmp_path, monkeypatch):
    import keras

    from depthnet.modeling.model import build_model

    keras.utils.set_random_seed(SEED)
    init_path = str(tmp_path / "init.npz")
    _save_weights(init_path, build_model(_model_config()).get_weights())
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    dirs = [str(tmp_path / f"worker{i}") for i in range(2)]
    deadline = time.monotonic() + TIMEOUT
    procs = []
    try:
        for i in range(2):
            config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
            procs.append(
                _spawn(
                    ["worker", data_root, dirs[i], str(tmp_path / f"final{i}.npz"), init_path],
                    {"TF_CONFIG": config, "DEPTHNET_COLLECTIVE_TIMEOUT": "90"},
                )
            )
        # Meanwhile, the one-device reference in this process: same initial weights, data, global batch.
        lines = []
        summary, reference = _recorded_train(
            _model_config(), _run_config(str(tmp_path / "single"), data_root), init_path, lines.append
        )
        outputs = _finish(procs, deadline)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    results = [_result(out) for out in outputs]
    assert [r["chief"] for r in results] == [True, False]
    assert all(r["step"] == STEPS and r["replicas"] == 2 for r in results) and summary["step"] == STEPS
    assert results[0]["valid_pixels"] == results[1]["valid_pixels"] == reference.valid_pixels  # same global batches
    assert results[0]["losses"] == results[1]["losses"]
    np.testing.assert_allclose(results[0]["losses"], _losses(lines), rtol=1e-5)
    finals = [_load_weights(str(tmp_path / f"final{i}.npz")) for i in range(2)]
    for a, b in zip(*finals):
        np.testing.assert_array_equal(a, b)  # both workers hold the same weights
    initial, single = _load_weights(init_path), reference.model.get_weights()
    assert max(float(np.abs(p - q).max()) for p, q in zip(single, initial)) > 1e-3
    for a, b in zip(finals[0], single):
        np.testing.assert_allclose(a, b, rtol=0, atol=0.05 * LR)
    # Checkpoints, TensorBoard logs and results: the chief's model_dir only.
    chief = dirs[0]
    assert results[0]["checkpoint"].endswith(os.path.join("ckpt", f"ckpt-{STEPS}"))
    for name in (
        "ckpt/ckpt-2.index",
        f"ckpt/ckpt-{STEPS}.index",
        f"best/ckpt-{STEPS}.index",
        "eval/metrics.json",
        "config.json",
    ):
        assert os.path.exists(os.path.join(chief, name)), name
    assert os.listdir(os.path.join(chief, "train")) and os.listdir(os.path.join(chief, "val"))
    other = dirs[1]
    leftovers = (
        [os.path.join(root, f) for root, _, files in os.walk(other) for f in files] if os.path.exists(other) else []
    )
    assert results[1]["checkpoint"] is None and not leftovers, leftovers


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    {"mirrored": _mirrored_main, "worker": _worker_main}[mode](*args)
