"""The `Trainer`: model, two Adam optimisers, step counter and checkpoints of one run, and its train step.

The step is eq. (3) and Adam on both parameter groups (DFE, DMG) as one custom `tf.function`, skipped
(weights untouched) when the loss or gradients are not finite; fp16 uses one dynamic loss scale for
both groups (:class:`depthnet.precision.DynamicLossScale`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Optional

import tensorflow as tf

from depthnet.checkpoints import BEST_DIR, CHECKPOINT_DIR, checkpoint_problem, listed_checkpoints
from depthnet.config import ModelConfig, TrainConfig
from depthnet.errors import ModelLoadError
from depthnet.inference import Predictor
from depthnet.modeling.model import build_model, variable_groups
from depthnet.modeling.recompute import StagedForward
from depthnet.precision import DynamicLossScale, set_precision
from depthnet.training import distribute, schedule
from depthnet.training.loss import log_l1_terms


def _check_plain(optimizer) -> None:
    """The step applies Adam's update_step itself (see Trainer._apply_or_skip); refuse options it would skip."""
    extras = {
        name: getattr(optimizer, name, None)
        for name in (
            "clipnorm",
            "clipvalue",
            "global_clipnorm",
            "weight_decay",
            "gradient_accumulation_steps",
            "loss_scale_factor",
        )
    }
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
        self.run, self.model_config = run, model_config
        self._predictor: Optional[Predictor] = None
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
            self._checkpointed = dict(
                model=self.model,
                step=self.step,
                best_abs_rel=self.best_abs_rel,
                **{f"optimizer_{k}": o for k, o in self.optimizers.items()},
            )
            if self.loss_scale is not None:
                self._checkpointed["loss_scale"] = self.loss_scale
            self.checkpoint = tf.train.Checkpoint(**self._checkpointed)
        for optimizer in self.optimizers.values():
            _check_plain(optimizer)
        if run.recompute:
            self.forward = StagedForward(self.model)
        else:
            self.forward = self.model
        self.manager = distribute.checkpoint_manager(
            self.checkpoint, os.path.join(run.model_dir, CHECKPOINT_DIR), run.keep_checkpoints, self.step, self.strategy
        )
        self.best_manager = distribute.checkpoint_manager(
            self.checkpoint, os.path.join(run.model_dir, BEST_DIR), 1, self.step, self.strategy
        )
        self._variables = [v for k in self.groups for v in self.groups[k]]
        self._sizes = [len(self.groups[k]) for k in self.groups]

    @property
    def is_chief(self) -> bool:
        return distribute.is_chief(self.strategy)

    def predictor(self, working: Sequence[int]) -> Predictor:
        """The model being trained as a :class:`~depthnet.inference.Predictor` at `working` size (validation),
        traced once and kept while the size stays the same."""
        if self._predictor is None or self._predictor.working != tuple(int(s) for s in working):
            self._predictor = Predictor.from_keras(self.model, working)
        return self._predictor

    def restore(self) -> Optional[str]:
        """Restores the newest checkpoint that reads back completely, if any; returns its path.

        Newer checkpoints that are truncated or corrupt are skipped and listed in `self.skipped`
        as (path, problem). An fp16 run resuming a checkpoint written in another precision starts
        with a fresh loss scale.
        """
        self.skipped: list[tuple[str, str]] = []
        latest = None
        for path in listed_checkpoints(self.manager.directory):
            problem = checkpoint_problem(path)
            if problem is None:
                latest = path
                break
            self.skipped.append((path, problem))
        if self.skipped and not latest:
            listed = ", ".join(f"{p} ({why})" for p, why in self.skipped)
            raise ModelLoadError(
                f"no checkpoint of {self.manager.directory} can be read: {listed}; move them aside to start afresh"
            )
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
                for grad, variable in zip(grads[offset : offset + size], self._variables[offset : offset + size]):
                    strategy.extended.update(
                        variable.value,
                        lambda var, g, lr, o=optimizer: o.update_step(g, var, lr),
                        args=(grad, learning_rate),
                        group=False,
                    )
                optimizer.iterations.assign_add(1)
                offset += size
            self.step.assign_add(1)
            if self.loss_scale is not None:
                self.loss_scale.applied()
            return tf.constant(True)

        def skip() -> tf.Tensor:
            if self.loss_scale is not None:
                tf.cond(
                    overflow, lambda: (self.loss_scale.overflowed(), tf.constant(True))[1], lambda: tf.constant(False)
                )
            return tf.constant(False)

        tf.cond(finite, apply, skip)
