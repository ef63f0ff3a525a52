"""Model configuration: the paper's network, its ablation rows, and small variants for tests and CPU."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Optional, Sequence

VARIANTS = ("full", "dfe_afb", "dfe", "baseline")
BACKBONES = ("resnet101", "resnet50", "small", "tiny")

# Residual blocks per stage (conv2..conv5) and bottleneck widths, as keras.applications builds them.
BACKBONE_BLOCKS = {
    "resnet101": (3, 4, 23, 3),
    "resnet50": (3, 4, 6, 3),
    "small": (1, 1, 1, 1),
    "tiny": (1, 1, 1, 1),
}
BACKBONE_WIDTHS = {
    "resnet101": (64, 128, 256, 512),
    "resnet50": (64, 128, 256, 512),
    "small": (16, 32, 64, 128),
    "tiny": (8, 16, 32, 64),
}
BACKBONE_STEM = {"resnet101": 64, "resnet50": 64, "small": 32, "tiny": 16}
PAPER_ATROUS_RATES = (1, 2, 4, 8)
PAPER_INPUT_SIZE = (240, 320)


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
    frozen_stages: the stem and this many residual stages are not trained (paper: 2).
    freeze_batchnorm: every BatchNorm keeps its ImageNet statistics and runs in inference mode.
    """

    variant: str = "full"
    backbone: str = "resnet101"
    atrous_rates: Sequence[int] = PAPER_ATROUS_RATES
    input_size: Sequence[int] = PAPER_INPUT_SIZE
    backbone_weights: Optional[str] = "imagenet"
    dmg_width: int = 256
    frozen_stages: int = 2
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
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown ModelConfig fields {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        return cls.from_dict(json.loads(text))


def preset(name: str, **overrides: Any) -> ModelConfig:
    """Named configurations: the paper's Table 1 rows and small CPU configs.

    'full', 'dfe_afb', 'dfe': ResNet-101 DFE rows; 'baseline': ResNet-50 encoder-decoder;
    'quick': the full topology on the tiny backbone, trained from scratch at 120x160 (crops of frames
        resized to 156x208, the paper's field of view at half its scale) for a CPU run in minutes; its
        atrous rates are halved with the resolution (1, 1, 2, 4), so every stage sees the same share of
        the image as the paper's (1, 2, 4, 8) at 240x320;
    'tiny': the full topology on the tiny backbone for unit tests.
    """
    presets: dict[str, dict[str, Any]] = {
        "full": dict(variant="full", backbone="resnet101"),
        "dfe_afb": dict(variant="dfe_afb", backbone="resnet101"),
        "dfe": dict(variant="dfe", backbone="resnet101"),
        "baseline": dict(variant="baseline", backbone="resnet50"),
        "quick": dict(variant="full", backbone="tiny", backbone_weights=None, dmg_width=32, frozen_stages=0,
                      freeze_batchnorm=False, input_size=(120, 160), atrous_rates=(1, 1, 2, 4)),
        "tiny": dict(variant="full", backbone="tiny", backbone_weights=None, dmg_width=8, input_size=(64, 96)),
    }
    if name not in presets:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(presets)}")
    return ModelConfig(**{**presets[name], **overrides})
