"""One-shot accelerator check: training steps, inference fps, peak memory and tf.data throughput, one JSON.

    benchmarks/device_check.sh                      # on a GPU machine: full network, 240x320, < 8 minutes
    benchmarks/device_check.sh --cpu-smoke          # anywhere: the tiny network at 64x96 (what CI runs)
    benchmarks/device_check.sh --output=gpu.json --budget_s=420

Needs no network (random weights: speed does not depend on them; frozen BatchNorms are first set to
normalise the batch, as in bench_train_step.py, so the loss is finite and every step is applied).
Sections, in this order, each configuration guarded (an error is recorded, the run goes on) and
skipped when the time budget (`--budget_s`, default 450 s) would be exceeded:

- ``train``: the paper's network (`preset('full')`, its freezing), batch 3 at 240x320, one
  `Trainer.train_step` (forward, backward, two Adam updates) per step, for fp32, bf16 and fp16 (with
  the dynamic loss scale), XLA off (the tf.function training uses) and on (the same step compiled with
  ``jit_compile=True``); seconds per step (median), images/s, the allocator's peak memory.
- ``inference``: the BN-folded inference graph (``depthnet.modeling.fold``) at 240x320, batch 1 and 8,
  fp32/bf16/fp16, XLA off and on: frames/s (the paper claims ~15 fps) and peak memory.
- ``data``: the training tf.data pipeline (decode, resize, crop, augment; every core) on 480x640
  frames written to a temporary split: images/s.

Peak memory is ``tf.config.experimental.get_memory_info(device)['peak']`` after a reset before each
configuration (device = GPU:0, or CPU:0 without a GPU), and ``peak_rss_gb`` / ``rss_growth_gb`` the process's
resident memory sampled every 20 ms during it (the host side; on a CPU, everything). The process rarely
returns memory after a configuration, so ``peak_rss_gb`` is cumulative over the configurations run before
it in the same process: for one precision's own figure run it alone (``--precisions=bf16``). The JSON is rewritten
after every configuration, so a run cut short still leaves what it measured. `--steps` / `--warmup` override
the setup's step counts (a full-size CPU training step takes minutes:
``--sections=train --xla=off --steps=1 --warmup=1`` measures it per precision).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np
import tensorflow as tf

PRECISIONS = ("fp32", "bf16", "fp16")
FULL = {"preset": "full", "size": (240, 320), "train_batch": 3, "batches": (1, 8), "steps": 5, "warmup": 2}
SMOKE = {"preset": "tiny", "size": (64, 96), "train_batch": 2, "batches": (1, 2), "steps": 1, "warmup": 1}


class Run:
    """The JSON being built, its deadline, and the memory device."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.start = time.perf_counter()
        self.gpus = tf.config.list_physical_devices("GPU")
        self.device = "GPU:0" if self.gpus else "CPU:0"
        self.setup = dict(SMOKE if args.cpu_smoke else FULL)
        for key in ("steps", "warmup"):
            if getattr(args, key, None) is not None:
                self.setup[key] = getattr(args, key)
        self.rss = RssPeak()
        self.result = {
            "mode": "cpu-smoke" if args.cpu_smoke else ("gpu" if self.gpus else "cpu"),
            "setup": {**self.setup, "budget_s": args.budget_s, "memory_device": self.device},
            "machine": machine(self.gpus),
            "train": [],
            "inference": [],
            "data": None,
        }
        self.last_cost: dict[str, float] = {}

    def left(self) -> float:
        return self.args.budget_s - (time.perf_counter() - self.start)

    def affordable(self, kind: str) -> bool:
        """Whether another configuration of `kind` fits (estimated from the last one of that kind)."""
        return self.left() > self.last_cost.get(kind, 0.0) * 1.1

    def write(self) -> str:
        self.result["wall_s"] = round(time.perf_counter() - self.start, 1)
        text = json.dumps(self.result, indent=2, default=str)
        if self.args.output:
            tmp = self.args.output + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            os.replace(tmp, self.args.output)
        return text

    def reset_memory(self) -> None:
        self.rss.start()
        try:
            tf.config.experimental.reset_memory_stats(self.device)
        except Exception:
            pass

    def peak_memory_gb(self):
        """The allocator's peak (GPU; None where TF keeps no CPU statistics); also stops the RSS sampler."""
        self.rss.stop()
        try:
            return tf.config.experimental.get_memory_info(self.device)["peak"] / 2**30
        except Exception:
            return None

    def memory(self) -> dict:
        """peak_memory_gb plus the process's peak resident memory during the configuration (host, any device)."""
        peak = self.peak_memory_gb()
        return {"peak_memory_gb": peak, "peak_rss_gb": self.rss.peak_gb, "rss_growth_gb": self.rss.growth_gb}


def _rss_bytes() -> int:
    """Resident memory of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class RssPeak:
    """Samples the resident memory every 20 ms between start() and stop(): the host-side peak of a
    configuration (what a CPU run needs; TF keeps no allocator statistics for the CPU)."""

    def __init__(self):
        self._thread, self._stop, self.before, self.peak = None, None, 0, 0

    def start(self) -> None:
        import threading

        self.stop()
        self.before = self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_bytes())

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self.peak = max(self.peak, _rss_bytes())

    @property
    def peak_gb(self) -> float:
        return self.peak / 2**30

    @property
    def growth_gb(self) -> float:
        return (self.peak - self.before) / 2**30


def machine(gpus) -> dict:
    from depthnet.precision import cpu_isa, cpu_model

    info = {"tensorflow": tf.__version__, "cpu": cpu_model(), "logical_cpus": os.cpu_count(), "isa": cpu_isa()}
    info["gpus"] = []
    for gpu in gpus:
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except Exception:
            details = {}
        info["gpus"].append({"name": gpu.name, **{k: str(v) for k, v in details.items()}})
    return info


def _fresh(precision: str) -> None:
    import keras

    from depthnet.precision import set_precision

    keras.backend.clear_session()
    gc.collect()
    set_precision(precision)


def train_config(run: Run, precision: str, xla: bool) -> dict:
    """Seconds per training step of the network in `precision`, XLA off or on."""
    from bench_train_step import calibrate_batchnorm

    from depthnet.config import TrainConfig, preset
    from depthnet.training.trainer import Trainer

    setup = run.setup
    height, width = setup["size"]
    batch = setup["train_batch"]
    _fresh(precision)
    model_config = preset(setup["preset"], backbone_weights=None, input_size=(height, width))
    run_config = TrainConfig(model_dir=tempfile.mkdtemp(prefix="device_check_"), precision=precision)
    trainer = Trainer(model_config, run_config)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((batch, height, width, 3), dtype=np.float32))
    depth = tf.constant((1.0 + 4.0 * rng.random((batch, height, width, 1))).astype(np.float32))
    mask = tf.ones_like(depth)
    calibrate_batchnorm(trainer.model, images)
    if xla:
        step = tf.function(functools.partial(type(trainer).train_step.python_function, trainer), jit_compile=True)
    else:
        step = trainer.train_step
    run.reset_memory()
    times, out = [], None
    for i in range(setup["warmup"] + setup["steps"]):
        start = time.perf_counter()
        out = step(images, depth, mask)
        float(out["loss"])
        if i >= setup["warmup"]:
            times.append(time.perf_counter() - start)
    sec = statistics.median(times)
    row = {
        "sec_per_step": sec,
        "images_per_s": batch / sec,
        "step_times": [round(t, 4) for t in times],
        **run.memory(),
        "loss": float(out["loss"]),
        "finite": bool(out["finite"]),
    }
    if "loss_scale" in out:
        row["loss_scale"] = float(out["loss_scale"])
    del trainer, step
    return row


def inference_config(run: Run, precision: str, xla: bool, batch: int) -> dict:
    """Frames/s of the BN-folded network in `precision` at one batch size."""
    from depthnet.bench.network_speed import time_model
    from depthnet.config import preset
    from depthnet.modeling.fold import inference_graph
    from depthnet.modeling.model import build_model

    height, width = run.setup["size"]
    _fresh(precision)
    model = inference_graph(build_model(preset(run.setup["preset"], backbone_weights=None)))
    run.reset_memory()
    iterations = run.setup["steps"] * (4 if batch == 1 else 1)
    t = time_model(model, batch, height, width, iterations, run.setup["warmup"], jit_compile=xla)
    return {
        "fps": t["fps"],
        "ms_per_frame": t["ms_per_frame"],
        "ms_per_batch_median": t["ms_per_batch_median"],
        **run.memory(),
    }


def data_throughput(run: Run) -> dict:
    """Training-pipeline images/s over frames written to a temporary split (all cores, AUTOTUNE)."""
    from bench_data import _fallback_frames

    from data_prep import write_frames
    from depthnet.data import pipeline as data

    smoke = run.args.cpu_smoke
    frames, batches = (6, 4) if smoke else (60, 100)
    with tempfile.TemporaryDirectory(prefix="device_check_data_") as root:
        split = os.path.join(root, "train")
        write_frames(_fallback_frames(frames, 0), split)
        kwargs = {}
        if smoke:
            size = run.setup["size"]
            kwargs = {"resize_to": data.resize_for_crop(size), "crop_size": size}
        ds = data.train_dataset(split, batch_size=3, seed=0, shuffle_buffer=frames, **kwargs)
        iterator = iter(ds)
        for _ in range(2):  # warm-up: autotuning, first decode
            next(iterator)
        start = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        elapsed = time.perf_counter() - start
    return {"images_per_s": 3 * batches / elapsed, "batches": batches, "batch": 3, "frames": frames}


def guarded(run: Run, kind: str, label: dict, fn) -> dict:
    """Runs one configuration; records its numbers, its error, or that the budget skipped it."""
    row = dict(label)
    if not run.affordable(kind):
        row["skipped"] = f"time budget: {run.left():.0f} s left"
        print(f"{kind} {label}: skipped", file=sys.stderr, flush=True)
        return row
    start = time.perf_counter()
    try:
        row.update(fn())
    except Exception as err:  # one failing configuration must not lose the others
        row["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:300] if str(err) else ''}"
    finally:
        run.rss.stop()  # a failed configuration leaves no sampler running
    row["wall_s"] = round(time.perf_counter() - start, 1)
    run.last_cost[kind] = max(run.last_cost.get(kind, 0.0), row["wall_s"])
    print(f"{kind} {json.dumps(row)}", file=sys.stderr, flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-smoke", dest="cpu_smoke", action="store_true", help="tiny network, small sizes")
    parser.add_argument("--output", default="device_check.json", help="where the JSON goes (also printed)")
    parser.add_argument("--budget_s", type=float, default=450.0, help="stop starting configurations after this")
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--xla", default="off,on", help="'off', 'on' or 'off,on'")
    parser.add_argument("--sections", default="train,inference,data")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per configuration (default: the setup's)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default: the setup's)")
    args = parser.parse_args(argv)
    run = Run(args)
    precisions = [p for p in args.precisions.split(",") if p]
    xlas = [x == "on" for x in args.xla.split(",") if x]
    sections = args.sections.split(",")
    if "data" in sections:  # cheap and independent of the rest: first, so it is never skipped
        run.result["data"] = guarded(run, "data", {}, lambda: data_throughput(run))
        run.write()
    for xla in xlas:
        for precision in precisions:
            if "train" in sections:
                label = {"precision": precision, "xla": xla, "batch": run.setup["train_batch"]}
                fn = functools.partial(train_config, run, precision, xla)
                run.result["train"].append(guarded(run, "train", label, fn))
                run.write()
            if "inference" in sections:
                for batch in run.setup["batches"]:
                    label = {"precision": precision, "xla": xla, "batch": batch}
                    fn = functools.partial(inference_config, run, precision, xla, batch)
                    run.result["inference"].append(guarded(run, "inference", label, fn))
                    run.write()
    from depthnet.precision import set_precision

    set_precision("fp32")
    fps = [r["fps"] for r in run.result["inference"] if "fps" in r and r["batch"] == 1]
    run.result["paper_claim"] = {"fps_240x320": 15, "best_fps_batch1": max(fps) if fps else None}
    print(run.write())
    failed = [r for r in run.result["train"] + run.result["inference"] if "error" in r]
    return 1 if failed or (run.result["data"] or {}).get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
