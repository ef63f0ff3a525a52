"""Configuration: the network (`ModelConfig`, presets), a training run (`TrainConfig`), and experiments.

An experiment (`experiment(name)`) is the one definition of a named run: the model preset and the
training settings. `experiments/<name>.flags` are the same runs for `depthnet-train --flagfile`;
`experiment_flags(name)` writes them and a test checks that the files agree.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any, Optional

VARIANTS = ("full", "dfe_afb", "dfe", "baseline")
BACKBONES = ("resnet101", "resnet50", "small", "tiny")

PAPER_ATROUS_RATES = (1, 2, 4, 8)
PAPER_INPUT_SIZE = (240, 320)
PAPER_STEPS_PER_EPOCH = 50_000  # sec. 3.4: 20 epochs of 50K steps, batch 3, decay over 16 epochs
PAPER_EPOCHS = 20
PAPER_DECAY_EPOCHS = 16
PAPER_BATCH_SIZE = 3
# Sec. 3.4 "the first two stages" of the five ResNet stages of sec. 3.1, as `frozen_stages` (residual
# stages frozen after the stem): 'detectron' = stem + conv2 (FREEZE_AT=2, the default), 'res_blocks' =
# stem + conv2 + conv3 (the first two of the four Res-Blocks, plus the stem).
FROZEN_STAGES_READINGS = {"detectron": 1, "res_blocks": 2}
PAPER_FROZEN_STAGES = FROZEN_STAGES_READINGS["detectron"]


@dataclasses.dataclass
class ModelConfig:
    """Everything that fixes the network's architecture and initialisation.

    variant: 'full' (DFE + AFB + dilated CRB, the paper's network), 'dfe_afb' (CRB undilated),
        'dfe' (DFE, CRB undilated, stages fused by plain addition instead of AFB), or 'baseline'
        (ResNet-50 encoder at output stride 32 with a stacked-deconvolution decoder and skips).
    backbone: 'resnet101', 'resnet50' or 'tiny' (same topology, one block per stage, 1/8 the width;
        for tests and quick CPU runs).
    atrous_rates: dilation of the 3x3 convolutions in stages 1-4 (conv2..conv5).
    input_size: (H, W) working resolution of training and inference, divisible by 8.
    backbone_weights: 'imagenet' (Keras download and cache), None, or a path to a ResNet weight
        file (legacy `*_notop.h5` or Keras 3 `.weights.h5` of the keras.applications model).
    dmg_width: channels of every Channel Reduce Block (ours: the paper does not give it).
    frozen_stages: the stem and this many residual stages (conv2, conv3, ...) are not trained. The
        paper's "first two stages" read as Detectron's FREEZE_AT=2 (the stem is stage 1): 1 = stem +
        conv2, the default; 2 = stem + conv2 + conv3, the other reading (:data:`FROZEN_STAGES_READINGS`).
    freeze_batchnorm: every BatchNorm keeps its ImageNet statistics and runs in inference mode.
    """

    variant: str = "full"
    backbone: str = "resnet101"
    atrous_rates: Sequence[int] = PAPER_ATROUS_RATES
    input_size: Sequence[int] = PAPER_INPUT_SIZE
    backbone_weights: Optional[str] = "imagenet"
    dmg_width: int = 256
    frozen_stages: int = PAPER_FROZEN_STAGES
    freeze_batchnorm: bool = True

    def __post_init__(self) -> None:
        self.atrous_rates = tuple(int(r) for r in self.atrous_rates)
        self.input_size = tuple(int(s) for s in self.input_size)
        if isinstance(self.backbone_weights, str) and self.backbone_weights.lower() in ("none", ""):
            self.backbone_weights = None
        self.validate()

    def validate(self) -> None:
        """Raises ValueError with a fix for every inconsistent setting."""
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; choose one of {', '.join(VARIANTS)}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {self.backbone!r}; choose one of {', '.join(BACKBONES)}")
        if len(self.atrous_rates) != 4 or any(r < 1 for r in self.atrous_rates):
            raise ValueError(
                f"atrous_rates must be 4 positive integers, one per ResNet stage (conv2..conv5), "
                f"got {self.atrous_rates}; the paper uses {PAPER_ATROUS_RATES}"
            )
        if len(self.input_size) != 2 or any(s <= 0 or s % 8 for s in self.input_size):
            raise ValueError(
                f"input_size must be (height, width) with both divisible by 8, got {self.input_size}; "
                f"the paper uses {PAPER_INPUT_SIZE}"
            )
        if self.dmg_width < 1:
            raise ValueError(f"dmg_width must be positive, got {self.dmg_width}")
        if not 0 <= self.frozen_stages <= 4:
            raise ValueError(f"frozen_stages must be in 0..4, got {self.frozen_stages}")
        if self.backbone in ("small", "tiny") and self.backbone_weights == "imagenet":
            raise ValueError(f"the {self.backbone!r} backbone has no ImageNet weights; set backbone_weights=None")

    @property
    def dilated_crb(self) -> bool:
        """Whether the CRB 3x3 convolutions use their stage's atrous rate (only the full network)."""
        return self.variant == "full"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["atrous_rates"] = list(self.atrous_rates)
        d["input_size"] = list(self.input_size)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown ModelConfig fields {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        return cls.from_dict(json.loads(text))


def preset(name: str, **overrides: Any) -> ModelConfig:
    """Named configurations: the paper's Table 1 rows and small CPU configs.

    'full', 'dfe_afb', 'dfe': ResNet-101 DFE rows; 'baseline': ResNet-50 encoder-decoder;
    'quick': the full topology on the tiny backbone, trained from scratch at 96x128 (crops of frames
        resized to 124x168, the paper's field of view at 0.4 of its scale) for a CPU run in minutes, with
        the paper's atrous rates (1, 2, 4, 8) (measured against (1, 1, 2, 4) and (2, 4, 8, 16) and against
        120x160 crops: docs/levers.md);
    'tiny': the full topology on the tiny backbone for unit tests.
    """
    presets: dict[str, dict[str, Any]] = {
        "full": dict(variant="full", backbone="resnet101"),
        "dfe_afb": dict(variant="dfe_afb", backbone="resnet101"),
        "dfe": dict(variant="dfe", backbone="resnet101"),
        "baseline": dict(variant="baseline", backbone="resnet50"),
        "quick": dict(
            variant="full",
            backbone="tiny",
            backbone_weights=None,
            dmg_width=32,
            frozen_stages=0,
            freeze_batchnorm=False,
            input_size=(96, 128),
            atrous_rates=(1, 2, 4, 8),
        ),
        "tiny": dict(variant="full", backbone="tiny", backbone_weights=None, dmg_width=8, input_size=(64, 96)),
    }
    if name not in presets:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(presets)}")
    return ModelConfig(**{**presets[name], **overrides})


PRESET_NAMES = ("full", "dfe_afb", "dfe", "baseline", "quick", "tiny")


def describe_model(config: ModelConfig) -> str:
    """'quick (full network, tiny backbone)' for a preset's config, else 'full network, resnet50 backbone'."""
    parts = f"{config.variant} network, {config.backbone} backbone"
    ours = {k: v for k, v in config.to_dict().items() if k != "backbone_weights"}
    for name in PRESET_NAMES:
        if {k: v for k, v in preset(name).to_dict().items() if k != "backbone_weights"} == ours:
            return f"{name} ({parts})"
    return parts


TRAIN_CHOICES: dict[str, tuple[str, ...]] = {
    "source": ("prepared", "synthetic"),
    "precision": ("fp32", "bf16", "fp16"),  # depthnet.precision.PRECISIONS
    "strategy": ("default", "mirrored", "multi_worker"),
    "input_sharding": ("auto", "files", "batches"),
    "verify": ("on", "off"),
}
_AT_LEAST: dict[str, float] = dict(
    batch_size=1, steps_per_epoch=1, train_steps=0, decay_steps=0, decay_epochs=0, dfe_end_lr=0, dmg_end_lr=0,
    eval_every=0, eval_frames=0, checkpoint_every=1, keep_checkpoints=1, log_every=1, image_every=0,
    synthetic_train_frames=1, synthetic_val_frames=1, synthetic_height=1, synthetic_width=1,
)  # fmt: skip
_POSITIVE = ("epochs", "dfe_lr", "dmg_lr", "lr_power")
# What decides how a step is trained (with the resolved decay steps and the training data's fingerprint): a
# resume that changes one is refused unless allow_changed_hyperparameters, and then config.json records the
# settings of each segment by step (depthnet.training.run_record).
HYPERPARAMETERS = (
    "batch_size", "dfe_lr", "dfe_end_lr", "dmg_lr", "dmg_end_lr", "lr_power", "holdout_scenes", "holdout_seed",
    "seed", "deterministic", "precision",
)  # fmt: skip


@dataclasses.dataclass
class TrainConfig:
    """Everything a run needs besides the model architecture (written to config.json)."""

    model_dir: str
    data_dir: str = ""
    source: str = "prepared"  # 'prepared' (data_dir/<train_split>) or 'synthetic' (made on first use)
    train_split: str = "train"
    val_split: str = "test"  # validation split when holdout_scenes == 0
    holdout_scenes: float = (
        0.0  # > 0: validate on this share of the training scenes instead (depthnet.training.holdout)
    )
    holdout_seed: int = 0
    synthetic_train_frames: int = 600
    synthetic_val_frames: int = 60
    synthetic_height: int = 480  # size the synthetic frames are rendered at (NYU's 480x640 by default)
    synthetic_width: int = 640
    batch_size: int = PAPER_BATCH_SIZE
    epochs: float = PAPER_EPOCHS
    steps_per_epoch: int = PAPER_STEPS_PER_EPOCH
    train_steps: int = 0  # > 0 overrides epochs * steps_per_epoch
    decay_epochs: float = PAPER_DECAY_EPOCHS
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
    strategy: str = "default"  # 'default', 'mirrored' or 'multi_worker' (depthnet.training.distribute)
    input_sharding: str = "auto"  # multi-worker input: 'auto', 'files' or 'batches' (depthnet.training.distribute)
    verify: str = "on"  # 'on': shard sha256 checked against the manifest before training; 'off' for huge sets
    allow_changed_hyperparameters: bool = False  # resume with other HYPERPARAMETERS: a new segment in config.json

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raises ValueError naming the first setting no run can use (before anything is written)."""
        for name, choices in TRAIN_CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; choose one of {', '.join(choices)}")
        for name, least in _AT_LEAST.items():
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= least):
                raise ValueError(f"{name} must be >= {least}, got {value}")
        for name in _POSITIVE:
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be > 0, got {value}")
        if not 0 <= self.holdout_scenes < 1:
            raise ValueError(
                f"holdout_scenes must be in [0, 1) (the share of training scenes held out for validation; 0 = "
                f"validate on val_split), got {self.holdout_scenes}"
            )

    @property
    def total_steps(self) -> int:
        return int(self.train_steps) if self.train_steps > 0 else int(round(self.epochs * self.steps_per_epoch))

    @property
    def resolved_decay_steps(self) -> int:
        """decay_steps, or decay_epochs of training; with train_steps, the same fraction (16/20) of it."""
        if self.decay_steps > 0:
            return int(self.decay_steps)
        if self.train_steps > 0:
            return max(1, int(round(self.train_steps * self.decay_epochs / self.epochs)))
        return max(1, int(round(self.decay_epochs * self.steps_per_epoch)))

    @property
    def resolved_eval_every(self) -> int:
        return int(self.eval_every) if self.eval_every > 0 else int(self.steps_per_epoch)


# ---------------------------------------------------------------------------------------------- experiments

QUICK_STEPS = 6600
QUICK_TRAIN_FRAMES = 2400
QUICK_VAL_FRAMES = 60
QUICK_FRAME_SIZE = (240, 320)  # the quick scenes are rendered at this size; the quick model works at 124x168

# The paper's fine-tuning run (sec. 3.4), shared by the four Table 1 rows.
# Validation: 5% of the training scenes (12 of the 249 raw scenes), never the test split (WORKSPACE.md).
PAPER_HOLDOUT_SCENES = 0.05

_PAPER_RUN: dict[str, Any] = dict(
    source="prepared",
    train_split="train",
    holdout_scenes=PAPER_HOLDOUT_SCENES,
    holdout_seed=0,
    batch_size=PAPER_BATCH_SIZE,
    epochs=PAPER_EPOCHS,
    steps_per_epoch=PAPER_STEPS_PER_EPOCH,
    decay_epochs=PAPER_DECAY_EPOCHS,
    dfe_lr=1e-5,
    dfe_end_lr=1e-7,
    dmg_lr=1e-4,
    dmg_end_lr=1e-6,
    lr_power=1.0,
    eval_every=50_000,
    checkpoint_every=5000,
    keep_checkpoints=5,
    log_every=100,
    image_every=2000,
)


def _quick_run(
    steps: int = QUICK_STEPS, train_frames: int = QUICK_TRAIN_FRAMES, val_frames: int = QUICK_VAL_FRAMES
) -> dict[str, Any]:
    """The main job's run: from scratch on a CPU, so 10x the paper's learning rates (1e-3 -> 1e-5),
    decayed over the whole run (the paper's 16-of-20-epoch decay would leave a short run's last fifth
    at 1e-5)."""
    return dict(
        source="synthetic",
        data_dir="data/synthetic",
        synthetic_train_frames=train_frames,
        synthetic_val_frames=val_frames,
        synthetic_height=QUICK_FRAME_SIZE[0],
        synthetic_width=QUICK_FRAME_SIZE[1],
        batch_size=PAPER_BATCH_SIZE,
        train_steps=steps,
        decay_steps=steps,
        eval_every=max(1, steps // 20),  # ~20 points: a curve TensorBoard's default smoothing does not cut off
        checkpoint_every=max(1, steps // 4),
        log_every=100,
        image_every=max(1, steps // 4),
        dfe_lr=1e-3,
        dfe_end_lr=1e-5,
        dmg_lr=1e-3,
        dmg_end_lr=1e-5,
        deterministic=True,  # seeded initialisers, fixed data order, deterministic ops: repeats on one machine
    )


# name -> (model preset, model overrides written to the flagfile, training settings)
EXPERIMENTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "full": ("full", {"backbone_weights": "imagenet"}, _PAPER_RUN),
    "dfe_afb": ("dfe_afb", {"backbone_weights": "imagenet"}, _PAPER_RUN),
    "dfe": ("dfe", {"backbone_weights": "imagenet"}, _PAPER_RUN),
    "baseline": ("baseline", {"backbone_weights": "imagenet"}, _PAPER_RUN),
    "quick": ("quick", {}, _quick_run()),
}


def experiment(
    name: str,
    model_dir: str = "",
    quick_steps: Optional[int] = None,
    quick_train_frames: Optional[int] = None,
    quick_val_frames: Optional[int] = None,
    **train_overrides: Any,
) -> tuple[ModelConfig, TrainConfig]:
    """(ModelConfig, TrainConfig) of a named experiment; `train_overrides` replace training settings.

    For 'quick', `quick_steps` / `quick_train_frames` / `quick_val_frames` resize the run consistently
    (checkpoint and picture intervals follow the step count).
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    preset_name, model_overrides, run = EXPERIMENTS[name]
    if name == "quick":
        run = _quick_run(
            quick_steps or QUICK_STEPS, quick_train_frames or QUICK_TRAIN_FRAMES, quick_val_frames or QUICK_VAL_FRAMES
        )
    return preset(preset_name, **model_overrides), TrainConfig(model_dir=model_dir, **{**run, **train_overrides})


def experiment_flags(name: str) -> list[str]:
    """The `depthnet-train` flags of an experiment, one per line, as in experiments/<name>.flags."""
    preset_name, model_overrides, run = EXPERIMENTS[name]
    return (
        [f"--config={preset_name}"]
        + [f"--{k}={v}" for k, v in model_overrides.items()]
        + [f"--{k}={v}" for k, v in run.items()]
    )


def run_configs(
    config_name: str, model_dir: str, model_overrides: dict[str, Any], train_values: dict[str, Any]
) -> tuple[ModelConfig, TrainConfig]:
    """A preset with `model_overrides` applied (None or empty values keep the preset's) and the TrainConfig of
    `train_values` (TrainConfig field -> value): what `depthnet-train`'s flags describe."""
    unset = {"input_size": (None, [], ()), "dmg_width": (None, 0)}  # 0 frozen stages is a valid count
    overrides = {k: v for k, v in model_overrides.items() if v is not None and v not in unset.get(k, ())}
    if "input_size" in overrides:
        overrides["input_size"] = tuple(int(s) for s in overrides["input_size"])
    return preset(config_name, **overrides), TrainConfig(model_dir=model_dir, **train_values)
