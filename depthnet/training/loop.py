"""The training loop (paper sec. 3.4): resume, steps, validation, checkpoints, TensorBoard.

`train(model_config, run)` runs or resumes a run to `run.total_steps` with a
:class:`depthnet.training.trainer.Trainer` (the model, the two Adam optimisers, the step counter, the
checkpoint managers and the custom tf.function step); `validate` scores the validation split with the
one evaluation loop (:func:`depthnet.evaluation.evaluate.evaluate_predictor`).
The run's configuration goes to `<model_dir>/config.json` (:mod:`depthnet.training.run_record`: checked
before anything is written, the folder locked for the whole run, each segment's settings by step),
checkpoints to `ckpt/` (last N) and `best/` (best validation abs_rel; a full disk stops the run with one
message, :mod:`depthnet.training.saving`), TensorBoard logs to `train/` and `val/`.

Precision (:mod:`depthnet.precision`): fp16 uses one dynamic loss scale for both groups; a step whose
scaled gradients overflow while the loss is finite is skipped for both groups and the scale halved
(reported as `overflow`). A non-finite loss, or an overflow at the minimum scale, stops the run with
:class:`depthnet.errors.NonFiniteLossError`. `recompute` recomputes backbone activations block by
block in the backward pass (:mod:`depthnet.modeling.recompute`). `strategy` trains data-parallel with
tf.distribute (:mod:`depthnet.training.distribute`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from depthnet.config import ModelConfig, TrainConfig, describe_model
from depthnet.data import checks as data_checks
from depthnet.data import pipeline as data
from depthnet.data import records
from depthnet.errors import NonFiniteLossError
from depthnet.evaluation.boundary_metrics import BOUNDARY_KEYS
from depthnet.evaluation.evaluate import (
    evaluate_predictor,
    ground_truth_kind,
    iter_split_frames,
    network_input,
    write_results,
)
from depthnet.evaluation.metrics import METRIC_KEYS
from depthnet.evaluation.protocol import Protocol
from depthnet.precision import precision_warning
from depthnet.training import distribute
from depthnet.training.nonfinite_guard import GoodCheckpoints, weights_problem
from depthnet.training.preemption import Preempted, PreemptionWatcher
from depthnet.training.run_record import check_run, plan_validation, run_lock, split_dirs
from depthnet.training.saving import save_checkpoint
from depthnet.training.trainer import Trainer

__all__ = ["NonFiniteLossError", "Trainer", "TrainConfig", "split_dirs", "train", "validate"]


def _panel_image(images: np.ndarray, depths: np.ndarray, preds: np.ndarray) -> np.ndarray:
    """RGB | truth | prediction for the first example, one shared colour scale."""
    from depthnet.apps.visualize import depth_panel

    rgb = np.clip(images[0] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    pred = tf.image.resize(preds[:1], depths.shape[1:3], method="bilinear").numpy()[0, ..., 0]
    return depth_panel(rgb, pred, depths[0, ..., 0])


def validate(
    trainer: Trainer, val_dir: str, writer, step: int, protocol: Protocol, scene_filter=None
) -> dict[str, float]:
    """Scores the model on the validation split (or its held-out scenes) with the one evaluation loop
    (:func:`depthnet.evaluation.evaluate.evaluate_predictor`, as depthnet-eval); logs scalars and one picture."""
    predictor = trainer.predictor(protocol.input_size)
    frames = iter_split_frames(val_dir, trainer.run.eval_frames or None, scene_filter)
    total = None if scene_filter else records.read_manifest(val_dir)["num_frames"]
    total = min(total, trainer.run.eval_frames) if total and trainer.run.eval_frames else total
    metrics, examples = evaluate_predictor(predictor, frames, protocol, total=total, keep_examples=1)
    with writer.as_default(step=step):
        for key in METRIC_KEYS + BOUNDARY_KEYS:
            if np.isfinite(metrics.get(key, np.nan)):
                tf.summary.scalar(f"metrics/{key}", metrics[key])
        if examples:
            from depthnet.apps.visualize import depth_panel

            ex = examples[0]
            tf.summary.image("rgb_truth_prediction", depth_panel(ex["rgb"], ex["pred"], ex["depth"])[None])
    writer.flush()
    return metrics


def make_deterministic(seed: int) -> None:
    """Seeded initialisers (Keras, numpy, Python, TF) and deterministic TF ops: with `deterministic` (and the
    data order it fixes) a one-device run repeats itself exactly on one machine (WORKSPACE: cost measured)."""
    import keras

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def _format_eta(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _start_message(
    model_config: ModelConfig, run: TrainConfig, replicas: int, restored: Optional[str], start: int
) -> str:
    extras = "".join(
        [
            f", {replicas} replicas ({run.strategy})" if run.strategy != "default" else "",
            f", {run.precision}" if run.precision != "fp32" else "",
            ", recompute" if run.recompute else "",
        ]
    )
    return (
        f"{'resumed from ' + restored if restored else 'starting'} at step {start}/{run.total_steps} "
        f"({describe_model(model_config)}, batch {run.batch_size}, "
        f"decay over {run.resolved_decay_steps} steps{extras})"
    )


def _train_dataset(
    strategy, run: TrainConfig, train_dir: str, crop: tuple[int, int], start: int, log, scene_filter=None
):
    resize = data.resize_for_crop(crop)  # the paper's 312x416 for its 240x320 crop
    if run.strategy == "default":
        return data.train_dataset(
            train_dir,
            batch_size=run.batch_size,
            resize_to=resize,
            crop_size=crop,
            seed=run.seed + start,
            deterministic=run.deterministic,
            scene_filter=scene_filter,
        )
    return distribute.distributed_train_dataset(
        strategy,
        train_dir,
        run.batch_size,
        crop,
        seed=run.seed + start,
        deterministic=run.deterministic,
        sharding=run.input_sharding,
        log=log,
        resize_to=resize,
        scene_filter=scene_filter,
    )


def _save(trainer: Trainer, step: int, guard: GoodCheckpoints, log) -> None:
    """Saves a checkpoint unless its weights are not sane (:mod:`depthnet.training.nonfinite_guard`)."""
    problem = weights_problem(trainer.model)
    if problem:
        latest = trainer.manager.latest_checkpoint
        log(f"warning: step {step} not saved ({problem}); the latest checkpoint stays {latest}")
        return
    guard.saved(save_checkpoint(trainer.manager, step))


def _resume_hint(trainer: Trainer, guard: GoodCheckpoints) -> str:
    """Rolls back to the last good checkpoint; says how to resume from it with lower learning rates."""
    run = trainer.run
    moved = guard.roll_back(trainer.manager.directory, run.model_dir) if trainer.is_chief else []
    good = guard.last_good(trainer.manager.directory)
    lower = " ".join(f"--{k}={getattr(run, k) / 10:g}" for k in ("dfe_lr", "dmg_lr", "dfe_end_lr", "dmg_end_lr"))
    lower += " --allow_changed_hyperparameters"
    aside = f" (newer checkpoints moved to {os.path.join(run.model_dir, 'rejected')})" if moved else ""
    where = f"the last good checkpoint {good} is kept{aside}" if good else f"no good checkpoint is kept{aside}"
    return (
        f"{where}. Resume from it with a lower learning rate: re-run the same command with {lower}, "
        f"or check the data for bad depth values."
    )


def _non_finite(trainer: Trainer, out: dict[str, tf.Tensor], step: int, log, guard: GoodCheckpoints) -> None:
    """An fp16 overflow is logged (the step was skipped); any other non-finite step stops the run."""
    if bool(out["overflow"]):  # fp16: the loss scaler skipped this step and halved its scale
        log(
            f"fp16 gradient overflow at step {step + 1} (loss scale {float(out['loss_scale']):g}): "
            f"step skipped, loss scale now {float(trainer.loss_scale.scale.numpy()):g}"
        )
        return
    hint = (
        " With precision fp16, activations may exceed the float16 range: try bf16."
        if trainer.run.precision == "fp16"
        else ""
    )
    raise NonFiniteLossError(
        f"loss became {float(out['loss'])} (gradient norm {float(out['grad_norm'])}) at step {step + 1}; "
        f"the weights were not updated and {_resume_hint(trainer, guard)}{hint}"
    )


def _log_progress(trainer: Trainer, out: dict[str, tf.Tensor], step: int, steps_per_sec: float, writer, log) -> None:
    run = trainer.run
    lrs = trainer.learning_rates()
    with writer.as_default(step=step):
        tf.summary.scalar("loss", out["loss"])
        tf.summary.scalar("grad_norm", out["grad_norm"])
        tf.summary.scalar("steps_per_sec", steps_per_sec)
        tf.summary.scalar("images_per_sec", steps_per_sec * run.batch_size)
        if "loss_scale" in out:
            tf.summary.scalar("loss_scale", out["loss_scale"])
        for group, lr in lrs.items():
            tf.summary.scalar(f"learning_rate/{group}", lr)
    lr_text = " ".join(f"lr_{g} {lr:.2e}" for g, lr in lrs.items())
    eta = _format_eta((run.total_steps - step) / max(steps_per_sec, 1e-9))
    log(
        f"step {step}/{run.total_steps}  loss {float(out['loss']):.4f}  {lr_text}  "
        f"{steps_per_sec * run.batch_size:.1f} img/s  ETA {eta}"
    )


def _image_summary(trainer: Trainer, batch, step: int, writer) -> None:
    images, depths = (distribute.first_local(trainer.strategy, batch[k]) for k in ("image", "depth"))
    preds = tf.cast(trainer.model(images, training=False), tf.float32).numpy()
    with writer.as_default(step=step):
        tf.summary.image("rgb_truth_prediction", _panel_image(images.numpy(), depths.numpy(), preds)[None])


def _validate_and_keep_best(trainer: Trainer, val_dir: str, writer, step: int, protocol: Protocol, log, val_filter):
    metrics = validate(trainer, val_dir, writer, step, protocol, val_filter)
    log(f"validation @ {step}: " + "  ".join(f"{k} {metrics[k]:.4f}" for k in ("abs_rel", "rmse", "log10", "delta1")))
    if metrics["abs_rel"] < float(trainer.best_abs_rel.numpy()):
        trainer.best_abs_rel.assign(metrics["abs_rel"])
        save_checkpoint(trainer.best_manager, step, resume_from=trainer.manager.latest_checkpoint)
    return metrics


def _loop(
    trainer: Trainer,
    dataset,
    start: int,
    val_dir: str,
    protocol: Protocol,
    writers,
    log,
    restored,
    preemption,
    val_filter=None,
):
    """The training loop from `start`; returns (last step, last validation metrics)."""
    run, chief = trainer.run, trainer.is_chief
    train_writer, val_writer = writers
    metrics: dict[str, float] = {}
    step, last_saved = start, start
    window_start, window_steps = time.perf_counter(), 0
    guard = GoodCheckpoints(restored)
    iterator = iter(dataset)
    try:
        while step < run.total_steps:
            batch = next(iterator)
            out = trainer.train_step(batch["image"], batch["depth"], batch["mask"])
            if not bool(out["finite"]):
                _non_finite(trainer, out, step, log, guard)
                continue
            guard.observe(float(out["loss"]))
            step += 1
            window_steps += 1
            if step % run.log_every == 0 or step == run.total_steps:
                rate = window_steps / max(time.perf_counter() - window_start, 1e-9)
                _log_progress(trainer, out, step, rate, train_writer, log)
                window_start, window_steps = time.perf_counter(), 0
            if run.image_every and step % run.image_every == 0 and chief:
                _image_summary(trainer, batch, step, train_writer)
            if step % run.checkpoint_every == 0:
                _save(trainer, step, guard, log)
                last_saved = step
            if step % run.resolved_eval_every == 0 or step == run.total_steps:
                metrics = _validate_and_keep_best(trainer, val_dir, val_writer, step, protocol, log, val_filter)
                window_start, window_steps = time.perf_counter(), 0
            if preemption.requested:  # SIGTERM: save, stop cleanly (depthnet.training.preemption)
                if step > last_saved:
                    _save(trainer, step, guard, log)
                raise Preempted(
                    f"stopped by {preemption.signal_name} at step {step}; saved "
                    f"{trainer.manager.latest_checkpoint}. Re-run the same command to resume."
                )
    except KeyboardInterrupt:
        if step > last_saved:
            _save(trainer, step, guard, log)
        log(
            f"interrupted at step {step}; saved {trainer.manager.latest_checkpoint}. Re-run the same command to resume."
        )
        raise
    if step > last_saved:
        _save(trainer, step, guard, log)
    return step, metrics


def _start_trainer(model_config: ModelConfig, run: TrainConfig, strategy, log) -> tuple[Trainer, Optional[str], int]:
    """The Trainer restored from the run's newest intact checkpoint; (trainer, restored path, start step)."""
    if run.deterministic and run.strategy == "default":
        make_deterministic(run.seed)
    trainer = Trainer(model_config, run, strategy=strategy)
    restored = trainer.restore()
    for path, problem in trainer.skipped:
        log(f"warning: checkpoint {path} cannot be read ({problem}); skipped, resuming from the newest intact one")
    start = int(trainer.step.numpy())
    warning = precision_warning(run.precision)
    if warning:
        log("warning: " + warning)
    log(_start_message(model_config, run, strategy.num_replicas_in_sync, restored, start))
    return trainer, restored, start


def _summary_writers(model_config: ModelConfig, run: TrainConfig, strategy, start: int):
    """The train/ and val/ TensorBoard writers; the run's config as text at the start step."""
    writers = tuple(distribute.summary_writer(os.path.join(run.model_dir, name), strategy) for name in ("train", "val"))
    with writers[0].as_default(step=start):
        config_json = json.dumps({"model": model_config.to_dict(), "train": dataclasses.asdict(run)}, indent=2)
        tf.summary.text("config", "```\n" + config_json + "\n```")
    return writers


def train(model_config: ModelConfig, run: TrainConfig, log=print) -> dict[str, Any]:
    """Runs (or resumes) training to `run.total_steps`; returns a summary with the final validation metrics.

    Everything is checked before the first byte is written, and the run folder is locked for the whole run
    (:mod:`depthnet.training.run_record`). With strategy 'multi_worker' every worker runs this; only the
    chief locks and writes config, checkpoints, TensorBoard logs and results (depthnet.training.distribute).
    """
    strategy = distribute.make_strategy(run.strategy)  # first: MultiWorkerMirroredStrategy must precede other TF work
    chief = distribute.is_chief(strategy)
    planned = plan_validation(run)
    with run_lock(run, chief, log):
        record = check_run(model_config, run, planned[0], planned[3])
        trainer, restored, start = _start_trainer(model_config, run, strategy, log)
        if chief:
            record.write(start, log)
        return _train_and_report(model_config, trainer, planned, restored, start, log)


def _train_and_report(model_config: ModelConfig, trainer: Trainer, planned, restored, start: int, log):
    """The loop from `start` with its data, validation and TensorBoard writers; the run's summary."""
    run, strategy, chief = trainer.run, trainer.strategy, trainer.is_chief
    train_dir, val_dir, held_out, validation = planned
    crop = tuple(model_config.input_size)
    dataset = data_checks.NamedReadErrors(
        _train_dataset(strategy, run, train_dir, crop, start, log, held_out and held_out.train_filter()), train_dir
    )
    if held_out:
        log(f"validation: {len(held_out.scenes)} of {held_out.num_scenes} training scenes held out ({train_dir})")
    protocol = Protocol(input_size=data.resize_for_crop(crop), ground_truth=ground_truth_kind(val_dir))
    writers = _summary_writers(model_config, run, strategy, start)
    try:
        with PreemptionWatcher() as preemption:
            val_filter = held_out and held_out.val_filter()
            step, metrics = _loop(
                trainer, dataset, start, val_dir, protocol, writers, log, restored, preemption, val_filter
            )
    finally:
        for writer in writers:
            writer.flush()
    summary = {
        "step": step,
        "started_at_step": start,
        "trained_steps": step - start,
        "checkpoint": trainer.manager.latest_checkpoint,
        "best_checkpoint": trainer.best_manager.latest_checkpoint,
        "best_abs_rel": float(trainer.best_abs_rel.numpy()),
        "metrics": metrics,
    }
    if metrics and chief:
        extra = {"step": step, "checkpoint": summary["checkpoint"], "split": val_dir, "validation": validation}
        extra["network_input"] = network_input(val_dir, protocol)
        write_results(os.path.join(run.model_dir, "eval"), metrics, protocol, extra=extra)
    return summary
