"""Numeric precision: the Keras mixed-precision policy, the CPU's 16-bit units, and fp16 loss scaling.

`--precision=fp32|bf16|fp16`: variables stay float32, layers compute in bfloat16/float16, the depth
head ('depth', Log1pDepth) and the loss stay float32. fp16 uses dynamic loss scaling
(:class:`DynamicLossScale`). bf16 has float32's exponent range and needs no loss scaling. On a CPU
without AMX / AVX512 16-bit units the 16-bit math is emulated and slower: :func:`precision_warning`.
"""

from __future__ import annotations

import platform
from typing import Optional

import tensorflow as tf

PRECISIONS = ("fp32", "bf16", "fp16")


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


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo, else platform.processor())."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def has_sixteen_bit_units(precision: str) -> bool:
    """Whether this CPU runs `precision` ('bf16' or 'fp16') natively."""
    return bool(SIXTEEN_BIT_UNITS.get(precision, set()) & set(cpu_isa()))


def precision_warning(precision: str) -> Optional[str]:
    """A warning when a 16-bit precision will be emulated (no GPU, and a CPU without bf16/fp16 units)."""
    if precision == "fp32" or tf.config.list_physical_devices("GPU"):
        return None
    if has_sixteen_bit_units(precision):
        return None
    isa = cpu_isa()
    return (
        f"--precision={precision} on this CPU ({', '.join(isa) or 'no matrix extensions found'}) is emulated, "
        f"without AMX/AVX512 16-bit units: expect it to be slower than fp32 (a full-size training step "
        f"measured ~9x slower on an AVX2 machine); use --precision=fp32 here"
    )


class DynamicLossScale(tf.Module):
    """Dynamic loss scaling for --precision=fp16, one scale shared by both parameter groups.

    The rules of keras.optimizers.LossScaleOptimizer (start at 2**15, double after 2000 applied
    steps in a row, halve on overflow), but with one scale for the two optimisers, so a step is
    applied to both groups or skipped for both and their iteration counters (hence their poly
    schedules) never drift apart. The two optimisers stay plain Adam, so checkpoints have the same
    layout in every precision (plus `loss_scale/` in fp16) and a run can resume in another precision.
    """

    INITIAL_SCALE = 2.0**15
    GROWTH_STEPS = 2000
    MIN_SCALE = 1.0
    MAX_SCALE = 2.0**32

    def __init__(self, initial_scale: Optional[float] = None, growth_steps: Optional[int] = None):
        super().__init__(name="loss_scale")
        self.growth_steps = int(growth_steps or self.GROWTH_STEPS)
        self.scale = tf.Variable(
            float(initial_scale or self.INITIAL_SCALE), trainable=False, dtype=tf.float32, name="scale"
        )
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
