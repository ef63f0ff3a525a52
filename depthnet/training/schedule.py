"""The paper's optimisation (sec. 3.4): Adam per parameter group with "poly" learning-rate decay (eq. 4).

l = (l_init - l_end) * (1 - min(step, decay_steps) / decay_steps) ** power + l_end
DFE: 1e-5 -> 1e-7; DMG: 1e-4 -> 1e-6; decay_steps = 16 epochs; power = 1.0.
"""

from __future__ import annotations

import dataclasses

import keras

from depthnet.config import PAPER_BATCH_SIZE, PAPER_DECAY_EPOCHS, PAPER_EPOCHS, PAPER_STEPS_PER_EPOCH

__all__ = ["PAPER_BATCH_SIZE", "PAPER_DECAY_EPOCHS", "PAPER_EPOCHS", "PAPER_STEPS_PER_EPOCH", "GroupSchedule"]


@dataclasses.dataclass(frozen=True)
class GroupSchedule:
    """Poly decay of one parameter group."""

    initial: float
    end: float
    decay_steps: int
    power: float = 1.0

    def __call__(self, step: int) -> float:
        """Eq. (4) in plain Python, the reference the Keras schedule is tested against."""
        progress = min(step, self.decay_steps) / self.decay_steps
        return (self.initial - self.end) * (1.0 - progress) ** self.power + self.end

    def keras_schedule(self) -> keras.optimizers.schedules.LearningRateSchedule:
        return keras.optimizers.schedules.PolynomialDecay(
            initial_learning_rate=self.initial,
            decay_steps=self.decay_steps,
            end_learning_rate=self.end,
            power=self.power,
            cycle=False,
        )


def paper_schedules(
    decay_steps: int,
    dfe_lr: float = 1e-5,
    dfe_end_lr: float = 1e-7,
    dmg_lr: float = 1e-4,
    dmg_end_lr: float = 1e-6,
    power: float = 1.0,
) -> dict[str, GroupSchedule]:
    """The two groups' schedules ('dfe', 'dmg'), with the paper's values as defaults."""
    if decay_steps < 1:
        raise ValueError(f"decay_steps must be >= 1, got {decay_steps}")
    return {
        "dfe": GroupSchedule(dfe_lr, dfe_end_lr, decay_steps, power),
        "dmg": GroupSchedule(dmg_lr, dmg_end_lr, decay_steps, power),
    }


def build_optimizers(
    schedules: dict[str, GroupSchedule], variables: dict[str, list]
) -> dict[str, keras.optimizers.Optimizer]:
    """One Adam per group, built on its variables so slots exist before a checkpoint restores them.

    Each optimizer's `iterations` counts the steps it applied, so both groups follow the same step.
    """
    optimizers = {}
    for group, schedule in schedules.items():
        optimizer = keras.optimizers.Adam(learning_rate=schedule.keras_schedule(), name=f"adam_{group}")
        optimizer.build(variables[group])
        optimizers[group] = optimizer
    return optimizers


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    """The learning rate the optimizer applies at its next step."""
    lr = optimizer.learning_rate
    return float(lr.numpy() if hasattr(lr, "numpy") else lr)
