"""`depthnet-train`: train DepthNet with the paper's optimisation (sec. 3.4) and a custom tf.function step.

    depthnet-train --model_dir=runs/full --data_dir=data/nyu --config=full \
        --backbone_weights=/path/to/resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5
    depthnet-train --flagfile=experiments/full.flags --model_dir=runs/full
    depthnet-train --model_dir=runs/quick --source=synthetic --config=quick --train_steps=2000

The run's configuration goes to `<model_dir>/config.json`; checkpoints to `<model_dir>/ckpt` (last N)
and `<model_dir>/best` (best validation abs_rel); TensorBoard logs to `<model_dir>/train` and
`<model_dir>/val`. Re-running the same command resumes from the latest checkpoint.

Performance and scale (flags):

--precision=fp32|bf16|fp16  Keras mixed precision: variables stay float32, layers compute in
    bfloat16/float16, the depth head ('depth', Log1pDepth) and the loss stay float32. fp16 uses
    dynamic loss scaling (:class:`DynamicLossScale`): the loss is multiplied by a scale before the
    backward pass and the gradients divided by it; a step whose scaled gradients overflow (inf/NaN)
    while the loss itself is finite is *skipped* for both parameter groups and the scale halved -
    the train step reports it as `overflow` and the NaN guard lets it pass (logged). A non-finite
    loss, or an overflow with the scale already at its minimum (1), still stops the run. bf16 has
    float32's exponent range and needs no loss scaling.
--recompute  recomputes the backbone's activations block by block in the backward pass instead of
    storing them (:mod:`depthnet.recompute`): same numbers, less memory, slower steps.
--strategy=default|mirrored|multi_worker  data-parallel training with tf.distribute
    (:mod:`depthnet.distribute`: global batch split over replicas, loss normalised by the global
    valid-pixel count, gradients all-reduced, chief-only checkpoints and TensorBoard, TF_CONFIG).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from typing import Any, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from absl import app, flags, logging

from depthnet import data, distribute, schedule

tf.get_logger().setLevel("WARNING")  # checkpoint saver INFO lines drown the progress lines
from depthnet.config import ModelConfig, preset
from depthnet.evaluate import Protocol, evaluate_split, ground_truth_kind, keras_predict_fn, write_results
from depthnet.loss import log_l1_terms
from depthnet.metrics import METRIC_KEYS

CONFIG_NAME = "config.json"


class NonFiniteLossError(RuntimeError):
    """Raised when a step's loss or gradients are NaN/inf; the weights are left at the last good step."""


@dataclasses.dataclass
class TrainConfig:
    """Everything a run needs besides the model architecture (written to config.json)."""

    model_dir: str
    data_dir: str = ""
    source: str = "prepared"  # 'prepared' (data_dir/<train_split>) or 'synthetic' (made on first use)
    train_split: str = "train"
    val_split: str = "test"
    synthetic_train_frames: int = 600
    synthetic_val_frames: int = 60
    synthetic_height: int = 480  # size the synthetic frames are rendered at (NYU's 480x640 by default)
    synthetic_width: int = 640
    batch_size: int = schedule.PAPER_BATCH_SIZE
    epochs: float = schedule.PAPER_EPOCHS
    steps_per_epoch: int = schedule.PAPER_STEPS_PER_EPOCH
    train_steps: int = 0  # > 0 overrides epochs * steps_per_epoch
    decay_epochs: float = schedule.PAPER_DECAY_EPOCHS
    decay_steps: int = 0  # > 0 overrides decay_epochs (scaled with train_steps when that is set)
    dfe_lr: float = 1e-5
    dfe_end_lr: float = 1e-7
    dmg_lr: float = 1e-4
    dmg_end_lr: float = 1e-6
    lr_power: float = 1.0
    eval_every: int = 0  # steps; 0 = once per epoch
    eval_frames: int = 0  # 0 = the whole validation split
    checkpoint_every: int = 1000
    keep_checkpoints: int = 5
    log_every: int = 50
    image_every: int = 500
    seed: int = 0
    deterministic: bool = False
    precision: str = "fp32"
    recompute: bool = False  # recompute backbone activations in the backward pass (memory for time)
    strategy: str = "default"  # 'default', 'mirrored' or 'multi_worker' (depthnet.distribute)
    input_sharding: str = "auto"  # multi-worker input: 'auto', 'files' or 'batches' (depthnet.distribute)

    @property
    def total_steps(self) -> int:
        return int(self.train_steps) if self.train_steps > 0 else int(round(self.epochs * self.steps_per_epoch))

    @property
    def resolved_decay_steps(self) -> int:
        """decay_steps, or decay_epochs of training; with --train_steps, the same fraction (16/20) of it."""
        if self.decay_steps > 0:
            return int(self.decay_steps)
        if self.train_steps > 0:
            return max(1, int(round(self.train_steps * self.decay_epochs / self.epochs)))
        return max(1, int(round(self.decay_epochs * self.steps_per_epoch)))

    @property
    def resolved_eval_every(self) -> int:
        return int(self.eval_every) if self.eval_every > 0 else int(self.steps_per_epoch)


def split_dirs(run: TrainConfig) -> tuple[str, str]:
    """(train split folder, validation split folder); makes synthetic data first when asked to."""
    if run.source == "synthetic":
        root = run.data_dir or os.path.join(run.model_dir, "data")
        from data_prep.prepare import Options, prepare

        # Held-out validation scenes: a seed range the training scenes never use.
        for split, frames, seed in ((run.train_split, run.synthetic_train_frames, run.seed),
                                    (run.val_split, run.synthetic_val_frames, run.seed + 1_000_003)):
            prepare(Options(source="synthetic", output_dir=root, split=split, num_frames=frames, seed=seed,
                            height=run.synthetic_height, width=run.synthetic_width))
    elif run.source == "prepared":
        if not run.data_dir:
            raise ValueError("--data_dir is required with --source=prepared (or use --source=synthetic)")
        root = run.data_dir
    else:
        raise ValueError(f"unknown --source {run.source!r}; use 'prepared' or 'synthetic'")
    return os.path.join(root, run.train_split), os.path.join(root, run.val_split)


def write_run_config(run: TrainConfig, model_config: ModelConfig) -> str:
    """Writes config.json; refuses to resume a model_dir whose model differs from this one."""
    os.makedirs(run.model_dir, exist_ok=True)
    path = os.path.join(run.model_dir, CONFIG_NAME)
    payload = {"model": model_config.to_dict(), "train": dataclasses.asdict(run)}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            previous = json.load(f)
        if previous.get("model") != payload["model"]:
            raise ValueError(
                f"{run.model_dir} holds a run of a different model ({previous.get('model')}); "
                f"use a new --model_dir or the same --config"
            )
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2)
    os.replace(tmp, path)
    return path


def load_run_config(model_dir: str) -> tuple[ModelConfig, TrainConfig]:
    """Reads `<model_dir>/config.json` back into the two configuration objects."""
    path = os.path.join(model_dir, CONFIG_NAME)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: is {model_dir!r} a depthnet-train model_dir?")
    with open(path, encoding="utf-8") as f:
        payload = json.load(f)
    return ModelConfig.from_dict(payload["model"]), TrainConfig(**payload["train"])


def restore_model(model_dir: str, which: str = "best", precision: str = "fp32"):
    """(Keras model, ModelConfig) of a training run, from its best or latest checkpoint.

    `which` is 'best' (best validation abs_rel, falling back to the latest when no validation ran),
    'latest', or an explicit checkpoint prefix. The backbone is not re-loaded from ImageNet.
    """
    from depthnet.model import build_model

    model_config, run = load_run_config(model_dir)
    set_precision(precision)
    model = build_model(dataclasses.replace(model_config, backbone_weights=None))
    if which in ("best", "latest"):
        path = None
        if which == "best":
            path = tf.train.latest_checkpoint(os.path.join(model_dir, "best"))
        path = path or tf.train.latest_checkpoint(os.path.join(model_dir, "ckpt"))
    else:
        path = which
    if not path:
        raise FileNotFoundError(f"no checkpoint in {model_dir!r} (looked in ckpt/ and best/); train first")
    tf.train.Checkpoint(model=model).restore(path).expect_partial().assert_existing_objects_matched()
    return model, model_config


def set_precision(precision: str) -> None:
    """Keras mixed-precision policy: 'fp32', 'bf16' (mixed_bfloat16) or 'fp16' (mixed_float16)."""
    import keras

    policies = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
    if precision not in policies:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(policies)}")
    keras.mixed_precision.set_global_policy(policies[precision])


MATRIX_ISA_FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512_fp16", "avx512f", "avx2", "fma")
SIXTEEN_BIT_UNITS = {"bf16": {"amx_bf16", "avx512_bf16"}, "fp16": {"avx512_fp16"}}  # CPU flags that run it natively


def cpu_isa() -> list[str]:
    """The CPU's matrix-relevant instruction-set flags (from /proc/cpuinfo; empty where unreadable)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [f for f in MATRIX_ISA_FLAGS if f in flags]
    except OSError:
        pass
    return []


def precision_warning(precision: str) -> Optional[str]:
    """A warning when a 16-bit precision will be emulated (no GPU, and a CPU without bf16/fp16 units)."""
    if precision == "fp32" or tf.config.list_physical_devices("GPU"):
        return None
    isa = cpu_isa()
    if SIXTEEN_BIT_UNITS.get(precision, set()) & set(isa):
        return None
    return (f"--precision={precision} on this CPU ({', '.join(isa) or 'no matrix extensions found'}) is emulated, "
            f"without AMX/AVX512 16-bit units: expect it to be slower than fp32 (a full-size training step "
            f"measured ~9x slower on an AVX2 machine); use --precision=fp32 here")


class DynamicLossScale(tf.Module):
    """Dynamic loss scaling for --precision=fp16, one scale shared by both parameter groups.

    The rules of keras.optimizers.LossScaleOptimizer (start at 2**15, double after 2000 applied
    steps in a row, halve on overflow), but with one scale for the two optimisers, so a step is
    applied to both groups or skipped for both and their iteration counters (hence their poly
    schedules) never drift apart. The two optimisers stay plain Adam, so checkpoints have the same
    layout in every precision (plus `loss_scale/` in fp16) and a run can resume in another precision.
    """

    INITIAL_SCALE = 2.0 ** 15
    GROWTH_STEPS = 2000
    MIN_SCALE = 1.0
    MAX_SCALE = 2.0 ** 32

    def __init__(self, initial_scale: Optional[float] = None, growth_steps: Optional[int] = None):
        super().__init__(name="loss_scale")
        self.growth_steps = int(growth_steps or self.GROWTH_STEPS)
        self.scale = tf.Variable(float(initial_scale or self.INITIAL_SCALE), trainable=False, dtype=tf.float32,
                                 name="scale")
        self.good_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="good_steps")

    def applied(self) -> None:
        """After an applied step: count it; double the scale after `growth_steps` of them."""
        def grow():
            self.good_steps.assign(0)
            self.scale.assign(tf.minimum(self.scale * 2.0, self.MAX_SCALE))
            return tf.constant(True)

        def count():
            self.good_steps.assign_add(1)
            return tf.constant(False)

        tf.cond(self.good_steps + 1 >= self.growth_steps, grow, count)

    def overflowed(self) -> None:
        """After a skipped overflow step: halve the scale (not below MIN_SCALE)."""
        self.good_steps.assign(0)
        self.scale.assign(tf.maximum(self.scale * 0.5, self.MIN_SCALE))


def _check_plain(optimizer) -> None:
    """The step applies Adam's update_step itself (see Trainer._apply_or_skip); refuse options it would skip."""
    extras = {name: getattr(optimizer, name, None) for name in
              ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay", "gradient_accumulation_steps",
               "loss_scale_factor")}
    extras["use_ema"] = getattr(optimizer, "use_ema", False) or None
    used = {k: v for k, v in extras.items() if v}
    if used:
        raise NotImplementedError(f"optimizer options {used} are not supported by Trainer.train_step")


def _has_loss_scale(checkpoint_path: str) -> bool:
    return any(name.startswith("loss_scale/") for name, _ in tf.train.list_variables(checkpoint_path))


class Trainer:
    """Model, two Adam optimisers, step counter and checkpoints of one training run.

    Everything is created under `strategy.scope()` (`--strategy`; default: one device), so with a
    tf.distribute strategy the variables are mirrored over the replicas.
    """

    def __init__(self, model_config: ModelConfig, run: TrainConfig, strategy: Optional[tf.distribute.Strategy] = None):
        from depthnet.model import build_model, variable_groups

        self.run, self.model_config = run, model_config
        self.strategy = strategy if strategy is not None else distribute.make_strategy(run.strategy)
        set_precision(run.precision)
        with self.strategy.scope():
            self.model = build_model(model_config)
            self.groups = {k: v for k, v in variable_groups(self.model).items() if v}
            self.schedules = schedule.paper_schedules(
                run.resolved_decay_steps, run.dfe_lr, run.dfe_end_lr, run.dmg_lr, run.dmg_end_lr, run.lr_power
            )
            self.optimizers = schedule.build_optimizers({k: self.schedules[k] for k in self.groups}, self.groups)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
            self.best_abs_rel = tf.Variable(math.inf, dtype=tf.float64, trainable=False, name="best_abs_rel")
            self.loss_scale = DynamicLossScale() if run.precision == "fp16" else None
            self._checkpointed = dict(model=self.model, step=self.step, best_abs_rel=self.best_abs_rel,
                                      **{f"optimizer_{k}": o for k, o in self.optimizers.items()})
            if self.loss_scale is not None:
                self._checkpointed["loss_scale"] = self.loss_scale
            self.checkpoint = tf.train.Checkpoint(**self._checkpointed)
        for optimizer in self.optimizers.values():
            _check_plain(optimizer)
        if run.recompute:
            from depthnet.recompute import StagedForward

            self.forward = StagedForward(self.model)
        else:
            self.forward = self.model
        self.manager = distribute.checkpoint_manager(self.checkpoint, os.path.join(run.model_dir, "ckpt"),
                                                     run.keep_checkpoints, self.step, self.strategy)
        self.best_manager = distribute.checkpoint_manager(self.checkpoint, os.path.join(run.model_dir, "best"),
                                                          1, self.step, self.strategy)
        self._variables = [v for k in self.groups for v in self.groups[k]]
        self._sizes = [len(self.groups[k]) for k in self.groups]

    @property
    def is_chief(self) -> bool:
        return distribute.is_chief(self.strategy)

    def restore(self) -> Optional[str]:
        """Restores the latest checkpoint, if any; returns its path.

        An fp16 run resuming a checkpoint written in another precision starts with a fresh loss scale.
        """
        latest = self.manager.latest_checkpoint
        if latest:
            checkpoint = self.checkpoint
            if self.loss_scale is not None and not _has_loss_scale(latest):
                checkpoint = tf.train.Checkpoint(**{k: v for k, v in self._checkpointed.items() if k != "loss_scale"})
            with self.strategy.scope():
                checkpoint.restore(latest).assert_existing_objects_matched()
        return latest

    def learning_rates(self) -> dict[str, float]:
        return {k: schedule.current_learning_rate(o) for k, o in self.optimizers.items()}

    @tf.function(reduce_retracing=True)
    def train_step(self, images: tf.Tensor, depths: tf.Tensor, masks: tf.Tensor) -> dict[str, tf.Tensor]:
        """One step of eq. (3) and Adam on both groups; skipped (weights untouched) if not finite.

        Takes one batch (default strategy) or the per-replica batches of a distributed dataset. Returns
        the global batch's loss and gradient norm, `finite` (the step was applied), `overflow` (fp16:
        skipped by the loss scaler, not an error), the global valid-pixel count and, in fp16, the
        loss scale the step used.
        """
        outputs = self.strategy.run(self._replica_step, args=(images, depths, masks))
        return {k: self.strategy.experimental_local_results(v)[0] for k, v in outputs.items()}

    def _replica_step(self, images, depths, masks) -> dict[str, tf.Tensor]:
        context = tf.distribute.get_replica_context()
        synced = self.strategy.num_replicas_in_sync > 1
        scale = tf.convert_to_tensor(self.loss_scale.scale) if self.loss_scale is not None else None
        with tf.GradientTape() as tape:
            pred = self.forward(images, training=True)
            total, count = log_l1_terms(depths, pred, masks)
            if synced:  # the mean over the GLOBAL batch's valid pixels: this replica's share of it
                count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
            loss = tf.math.divide_no_nan(total, count)
            objective = loss * scale if scale is not None else loss
        grads = tape.gradient(objective, self._variables)
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, self._variables)]
        if synced:  # every replica now holds the global gradient (and the global loss)
            grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
            loss = context.all_reduce(tf.distribute.ReduceOp.SUM, loss)
        if scale is not None:
            grads = [g / scale for g in grads]
        grad_norm = tf.linalg.global_norm(grads)
        loss_finite = tf.math.is_finite(loss)
        finite = loss_finite & tf.math.is_finite(grad_norm)
        if scale is not None:
            overflow = tf.logical_not(finite) & loss_finite & (scale > DynamicLossScale.MIN_SCALE)
        else:
            overflow = tf.constant(False)
        context.merge_call(self._apply_or_skip, args=(grads, finite, overflow))
        outputs = {"loss": loss, "grad_norm": grad_norm, "finite": finite, "valid_pixels": count, "overflow": overflow}
        if scale is not None:
            outputs["loss_scale"] = scale
        return outputs

    def _apply_or_skip(self, strategy, grads, finite, overflow) -> None:
        """Cross-replica: applies the (all-reduced) gradients to both groups, or skips the step.

        The decision is taken once, on values every replica shares. Keras' apply_gradients cannot run
        here (it needs a replica context, and a tf.cond in a replica context cannot contain its
        merge_call), so this does what it does for plain Adam: each group's learning rate at its
        current iteration, `update_step` on every variable's copies (strategy.extended.update, as
        Keras' TF optimizer does), then the iteration counter.
        """
        finite = strategy.experimental_local_results(finite)[0]
        overflow = strategy.experimental_local_results(overflow)[0]

        def apply() -> tf.Tensor:
            offset = 0
            for optimizer, size in zip(self.optimizers.values(), self._sizes):
                learning_rate = optimizer.learning_rate
                for grad, variable in zip(grads[offset:offset + size], self._variables[offset:offset + size]):
                    strategy.extended.update(
                        variable.value, lambda var, g, lr, o=optimizer: o.update_step(g, var, lr),
                        args=(grad, learning_rate), group=False)
                optimizer.iterations.assign_add(1)
                offset += size
            self.step.assign_add(1)
            if self.loss_scale is not None:
                self.loss_scale.applied()
            return tf.constant(True)

        def skip() -> tf.Tensor:
            if self.loss_scale is not None:
                tf.cond(overflow, lambda: (self.loss_scale.overflowed(), tf.constant(True))[1],
                        lambda: tf.constant(False))
            return tf.constant(False)

        tf.cond(finite, apply, skip)


def _panel_image(images: np.ndarray, depths: np.ndarray, preds: np.ndarray) -> np.ndarray:
    """RGB | truth | prediction for the first example, one shared colour scale."""
    from depthnet.apps.visualize import depth_panel

    rgb = np.clip(images[0] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    pred = tf.image.resize(preds[:1], depths.shape[1:3], method="bilinear").numpy()[0, ..., 0]
    return depth_panel(rgb, pred, depths[0, ..., 0])


def validate(trainer: Trainer, val_dir: str, writer, step: int, protocol: Protocol) -> dict[str, float]:
    """Scores the model on the validation split; logs scalars and one picture."""
    predict = keras_predict_fn(trainer.model)
    metrics, examples = evaluate_split(predict, val_dir, protocol, max_frames=trainer.run.eval_frames or None,
                                       keep_examples=1)
    with writer.as_default(step=step):
        for key in METRIC_KEYS:
            tf.summary.scalar(f"metrics/{key}", metrics[key])
        if examples:
            from depthnet.apps.visualize import depth_panel

            ex = examples[0]
            tf.summary.image("rgb_truth_prediction", depth_panel(ex["rgb"], ex["pred"], ex["depth"])[None])
    writer.flush()
    return metrics


def _format_eta(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def train(model_config: ModelConfig, run: TrainConfig, log=print) -> dict[str, Any]:
    """Runs (or resumes) training to `run.total_steps`; returns a summary with the final validation metrics.

    With --strategy=multi_worker every worker runs this; only the chief writes config, checkpoints,
    TensorBoard logs and results (depthnet.distribute).
    """
    strategy = distribute.make_strategy(run.strategy)  # first: MultiWorkerMirroredStrategy must precede other TF work
    chief = distribute.is_chief(strategy)
    if chief:
        write_run_config(run, model_config)
    train_dir, val_dir = split_dirs(run)
    trainer = Trainer(model_config, run, strategy=strategy)
    restored = trainer.restore()
    start = int(trainer.step.numpy())
    total = run.total_steps
    replicas = strategy.num_replicas_in_sync
    extras = "".join([f", {replicas} replicas ({run.strategy})" if run.strategy != "default" else "",
                      f", {run.precision}" if run.precision != "fp32" else "", ", recompute" if run.recompute else ""])
    warning = precision_warning(run.precision)
    if warning:
        log("warning: " + warning)
    log(f"{'resumed from ' + restored if restored else 'starting'} at step {start}/{total} "
        f"({model_config.variant}/{model_config.backbone}, batch {run.batch_size}, decay over {run.resolved_decay_steps} steps"
        f"{extras})")

    crop = tuple(model_config.input_size)
    resize = data.resize_for_crop(crop)  # the paper's 312x416 for its 240x320 crop
    if run.strategy == "default":
        dataset = data.train_dataset(train_dir, batch_size=run.batch_size, resize_to=resize, crop_size=crop,
                                     seed=run.seed + start, deterministic=run.deterministic)
    else:
        dataset = distribute.distributed_train_dataset(strategy, train_dir, run.batch_size, crop,
                                                       seed=run.seed + start, deterministic=run.deterministic,
                                                       sharding=run.input_sharding, log=log, resize_to=resize)
    protocol = Protocol(input_size=resize, ground_truth=ground_truth_kind(val_dir))
    train_writer = distribute.summary_writer(os.path.join(run.model_dir, "train"), strategy)
    val_writer = distribute.summary_writer(os.path.join(run.model_dir, "val"), strategy)
    with train_writer.as_default(step=start):
        tf.summary.text("config", "```\n" + json.dumps({"model": model_config.to_dict(), "train": dataclasses.asdict(run)}, indent=2) + "\n```")

    metrics: dict[str, float] = {}
    step = start
    window_start, window_steps = time.perf_counter(), 0
    last_saved = start
    iterator = iter(dataset)
    try:
        while step < total:
            batch = next(iterator)
            out = trainer.train_step(batch["image"], batch["depth"], batch["mask"])
            if not bool(out["finite"]):
                if bool(out["overflow"]):  # fp16: the loss scaler skipped this step and halved its scale
                    log(f"fp16 gradient overflow at step {step + 1} (loss scale {float(out['loss_scale']):g}): "
                        f"step skipped, loss scale now {float(trainer.loss_scale.scale.numpy()):g}")
                    continue
                hint = (" With --precision=fp16, activations may exceed the float16 range: try --precision=bf16."
                        if run.precision == "fp16" else "")
                raise NonFiniteLossError(
                    f"loss became {float(out['loss'])} (gradient norm {float(out['grad_norm'])}) at step {step + 1}; "
                    f"the weights were not updated and the last good checkpoint "
                    f"{trainer.manager.latest_checkpoint or '(none yet)'} is kept. Lower the learning rates "
                    f"or check the data for bad depth values.{hint}"
                )
            step += 1
            window_steps += 1
            if step % run.log_every == 0 or step == total:
                elapsed = time.perf_counter() - window_start
                steps_per_sec = window_steps / max(elapsed, 1e-9)
                lrs = trainer.learning_rates()
                with train_writer.as_default(step=step):
                    tf.summary.scalar("loss", out["loss"])
                    tf.summary.scalar("grad_norm", out["grad_norm"])
                    tf.summary.scalar("steps_per_sec", steps_per_sec)
                    tf.summary.scalar("images_per_sec", steps_per_sec * run.batch_size)
                    if "loss_scale" in out:
                        tf.summary.scalar("loss_scale", out["loss_scale"])
                    for group, lr in lrs.items():
                        tf.summary.scalar(f"learning_rate/{group}", lr)
                lr_text = " ".join(f"lr_{g} {lr:.2e}" for g, lr in lrs.items())
                log(f"step {step}/{total}  loss {float(out['loss']):.4f}  {lr_text}  "
                    f"{steps_per_sec * run.batch_size:.1f} img/s  ETA {_format_eta((total - step) / max(steps_per_sec, 1e-9))}")
                window_start, window_steps = time.perf_counter(), 0
            if run.image_every and step % run.image_every == 0 and chief:
                images, depths = (distribute.first_local(strategy, batch[k]) for k in ("image", "depth"))
                preds = tf.cast(trainer.model(images, training=False), tf.float32).numpy()
                with train_writer.as_default(step=step):
                    tf.summary.image("rgb_truth_prediction", _panel_image(images.numpy(), depths.numpy(), preds)[None])
            if step % run.checkpoint_every == 0:
                trainer.manager.save(checkpoint_number=step)
                last_saved = step
            if step % run.resolved_eval_every == 0 or step == total:
                metrics = validate(trainer, val_dir, val_writer, step, protocol)
                log(f"validation @ {step}: " + "  ".join(f"{k} {metrics[k]:.4f}" for k in ("abs_rel", "rmse", "log10", "delta1")))
                if metrics["abs_rel"] < float(trainer.best_abs_rel.numpy()):
                    trainer.best_abs_rel.assign(metrics["abs_rel"])
                    trainer.best_manager.save(checkpoint_number=step)
                window_start, window_steps = time.perf_counter(), 0
    except KeyboardInterrupt:
        if step > last_saved:
            trainer.manager.save(checkpoint_number=step)
        log(f"interrupted at step {step}; saved {trainer.manager.latest_checkpoint}. Re-run the same command to resume.")
        raise
    finally:
        train_writer.flush()
        val_writer.flush()
    if step > last_saved:
        trainer.manager.save(checkpoint_number=step)
    summary = {"step": step, "checkpoint": trainer.manager.latest_checkpoint,
               "best_checkpoint": trainer.best_manager.latest_checkpoint,
               "best_abs_rel": float(trainer.best_abs_rel.numpy()), "metrics": metrics}
    if metrics and chief:
        write_results(os.path.join(run.model_dir, "eval"), metrics, protocol,
                      extra={"step": step, "checkpoint": trainer.manager.latest_checkpoint, "split": val_dir})
    return summary


# ---------------------------------------------------------------------------------------------- CLI

FLAGS = flags.FLAGS
_DEFAULTS = TrainConfig(model_dir="")


def _define_flags() -> None:
    flags.DEFINE_string("model_dir", None, "Where config, checkpoints and TensorBoard logs go (resumes if present).")
    flags.DEFINE_string("config", "full", "Model preset: full, dfe_afb, dfe, baseline, quick, tiny.")
    flags.DEFINE_string("backbone_weights", None, "'imagenet', 'none' or a path (default: the preset's).")
    flags.DEFINE_list("input_size", None, "Training crop H,W (default: the preset's, 240,320).")
    flags.DEFINE_integer("dmg_width", None, "Channels of the Channel Reduce Blocks (default: the preset's).")
    help_text = {
        "data_dir": "Prepared data root holding <train_split>/ and <val_split>/ (depthnet-prepare output).",
        "source": "'prepared' (read --data_dir) or 'synthetic' (generate scenes on first use).",
        "train_steps": "Total steps; > 0 overrides epochs * steps_per_epoch.",
        "decay_steps": "Poly decay steps; > 0 overrides decay_epochs.",
        "eval_every": "Validate every N steps (0 = every epoch).",
        "eval_frames": "Validate on at most N frames (0 = all).",
        "precision": "fp32, bf16 or fp16 (Keras mixed precision; fp16 with dynamic loss scaling).",
        "recompute": "Recompute backbone activations block by block in the backward pass (less memory, slower).",
        "strategy": "default (one device), mirrored (local GPUs / logical CPUs) or multi_worker (TF_CONFIG).",
        "input_sharding": "Multi-worker input sharding: auto, files (shard files per worker) or batches.",
        "batch_size": "Global batch size (split over the replicas of --strategy).",
        "synthetic_height": "--source=synthetic: height of the rendered frames (480 = NYU's).",
        "synthetic_width": "--source=synthetic: width of the rendered frames (640 = NYU's).",
    }
    for field in dataclasses.fields(TrainConfig):
        if field.name == "model_dir":
            continue
        default = getattr(_DEFAULTS, field.name)
        text = help_text.get(field.name, field.name.replace("_", " ") + ".")
        if isinstance(default, bool):
            flags.DEFINE_boolean(field.name, default, text)
        elif isinstance(default, int):
            flags.DEFINE_integer(field.name, default, text)
        elif isinstance(default, float):
            flags.DEFINE_float(field.name, default, text)
        else:
            flags.DEFINE_string(field.name, default, text)


def configs_from_flags() -> tuple[ModelConfig, TrainConfig]:
    overrides: dict[str, Any] = {}
    if FLAGS.backbone_weights is not None:
        overrides["backbone_weights"] = FLAGS.backbone_weights
    if FLAGS.input_size:
        overrides["input_size"] = tuple(int(s) for s in FLAGS.input_size)
    if FLAGS.dmg_width:
        overrides["dmg_width"] = FLAGS.dmg_width
    model_config = preset(FLAGS.config, **overrides)
    run = TrainConfig(model_dir=FLAGS.model_dir, **{f.name: FLAGS[f.name].value
                                                    for f in dataclasses.fields(TrainConfig) if f.name != "model_dir"})
    return model_config, run


def main(argv) -> None:
    del argv
    if not FLAGS.model_dir:
        raise app.UsageError("--model_dir is required")
    model_config, run = configs_from_flags()
    try:
        summary = train(model_config, run, log=lambda s: print(s, flush=True))
    except NonFiniteLossError as err:
        logging.error("%s", err)
        sys.exit(3)
    print(json.dumps({k: v for k, v in summary.items() if k != "metrics"}, indent=2))


def run() -> None:
    _define_flags()
    app.run(main)


if __name__ == "__main__":
    run()
