"""The evaluation protocol: every choice that changes the numbers, built complete before any frame is scored.

:class:`Protocol` is what the one evaluation loop (:func:`depthnet.evaluation.evaluate.evaluate_predictor`)
applies and what `metrics.json` records. :func:`resolve_protocol` builds it from a named preset of
:mod:`depthnet.evaluation.presets`, single-setting overrides (`depthnet-eval --crop=...`), the ground truth's
size and kind, and the predictor's working size, and returns the notes a user must see beside the numbers.

Standard library only (like :mod:`depthnet.evaluation.presets`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from depthnet.evaluation import presets

__all__ = ["OVERRIDABLE", "STEP_DEFAULTS", "Protocol", "resolve_protocol"]

NYU_FRAME = (480, 640)  # the presets' crops are boxes of this frame
OVERRIDABLE = ("crop", "min_depth", "max_depth", "average", "flip_tta", "input")
# The peers' own evaluation steps (presets.Preset): their neutral values, and how describe() names the others.
STEP_DEFAULTS: dict[str, Any] = {
    "clip_before_flip": False,
    "resize": "half_pixel",
    "relative_to": "gt",
    "gt_mask": "range",
    "quantize_gt_mm": False,
    "quantize_pred_mm": False,
}
_STEP_TEXT = {
    "clip_before_flip": "each prediction clipped before the flip average",
    "resize": "align-corners resize",
    "relative_to": "abs_rel / prediction",
    "gt_mask": "every GT > 0 scored",
    "quantize_gt_mm": "GT as uint16 mm",
    "quantize_pred_mm": "prediction as uint16 mm",
}


@dataclasses.dataclass
class Protocol:
    """Every choice that changes the numbers, recorded next to them.

    crop: None or a named window of :data:`depthnet.evaluation.metrics.CROP_BOXES_480x640`.
    min_depth, max_depth: ground truth outside (min, max) is ignored; predictions are clipped to it.
    average: 'per_image' (metric per image, then mean) or 'pooled' (all valid pixels as one set).
    flip_tta: average the prediction with the mirrored prediction of the mirrored image.
    input_size: the predictor's working size (H, W): a frame is resized to its pixel count at the frame's
        own aspect, sides multiples of 4 (:func:`depthnet.inference.working_size_of`).
    ground_truth: 'filled', 'raw' or 'synthetic' depth, as the prepared split records it.
    name: the preset it came from (:mod:`depthnet.evaluation.presets`), '' for none; overrides are named.
    input: 'whole', 'black_border' or 'center_crop' (:data:`depthnet.evaluation.presets.INPUT_MODES`).
    expected_ground_truth: the kind the preset's peer scores against ('' = any).
    clip_before_flip: clip each prediction to [min_depth, max_depth] before the flip average and the resize
        (AdaBins, DenseDepth); otherwise only the resized, averaged prediction is clipped.
    resize: the prediction -> ground-truth bilinear resize, 'half_pixel' (TF) or 'align_corners' (AdaBins).
    relative_to: abs_rel and sq_rel divide by 'gt' (textbook) or 'pred' (DenseDepth's swapped arguments).
    gt_mask: 'range' (min_depth < gt < max_depth counts) or 'positive' (every gt > 0; DenseDepth).
    quantize_gt_mm, quantize_pred_mm: the ground truth / the model's prediction as BTS's uint16 mm PNGs.
    """

    crop: Optional[str] = None
    min_depth: float = 1e-3
    max_depth: float = 10.0
    average: str = "per_image"
    flip_tta: bool = False
    input_size: Sequence[int] = (312, 416)
    ground_truth: str = "unknown"
    name: str = ""
    input: str = "whole"
    expected_ground_truth: str = ""
    clip_before_flip: bool = False
    resize: str = "half_pixel"
    relative_to: str = "gt"
    gt_mask: str = "range"
    quantize_gt_mm: bool = False
    quantize_pred_mm: bool = False

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> Protocol:
        """The preset's settings (:func:`depthnet.evaluation.presets.preset`) with `overrides` applied."""
        return cls(**{**presets.preset(name).settings(), "name": name, **overrides})

    def to_dict(self) -> dict[str, Any]:
        """The settings; `input` and the steps of :data:`STEP_DEFAULTS` only when not their default, the preset
        fields never (see `preset_info`)."""
        d = dataclasses.asdict(self)
        d["input_size"] = list(self.input_size)
        for key in ("name", "expected_ground_truth"):
            d.pop(key)
        for key, default in {"input": "whole", **STEP_DEFAULTS}.items():
            if d[key] == default:
                d.pop(key)
        return d

    def preset_info(self) -> dict[str, Any]:
        """{'name', 'source', 'expected_ground_truth', 'ground_truth_matches'} for results files."""
        base = self.name.split(" with ")[0]  # "eigen with crop=None": the eigen preset, overridden
        return {
            "name": self.name or "none",
            "source": presets.PRESETS[base].source if base in presets.PRESETS else "",
            "expected_ground_truth": self.expected_ground_truth or "any",
            "ground_truth_matches": not self.expected_ground_truth or self.expected_ground_truth == self.ground_truth,
        }

    def describe(self) -> str:
        crop = self.crop or "none"
        tta = ", flip TTA" if self.flip_tta else ""
        how = "" if self.input == "whole" else f" ({self.input.replace('_', ' ')})"
        preset = f", protocol {self.name}" if self.name else ""
        steps = "".join(f", {text}" for key, text in _STEP_TEXT.items() if getattr(self, key) != STEP_DEFAULTS[key])
        return (
            f"crop {crop}, depth {self.min_depth:g}-{self.max_depth:g} m, {self.ground_truth} GT, "
            f"{self.average.replace('_', '-')} mean, input {self.input_size[0]}x{self.input_size[1]}{how}{tta}"
            f"{steps}{preset}"
        )


def resolve_protocol(
    preset_name: str,
    overrides: Mapping[str, Any],
    *,
    frame_size: Optional[Sequence[int]],
    ground_truth: str,
    input_size: Sequence[int],
    stored_predictions: bool = False,
) -> tuple[Protocol, list[str]]:
    """The complete Protocol of a preset with `overrides` (None values ignored) applied; (protocol, notes).

    frame_size: (H, W) of the ground truth; a preset's crop is a box of NYU's 480x640 frame, so other
        sizes are scored uncropped unless `overrides` names a crop.
    stored_predictions: scoring another system's saved depth maps: its flip TTA, input handling and mm
        rounding of the prediction were the predicting system's, so they are dropped (with a note).
    """
    unknown = sorted(set(overrides) - set(OVERRIDABLE))
    if unknown:
        raise ValueError(f"cannot override {unknown}; the overridable settings are {', '.join(OVERRIDABLE)}")
    base = presets.preset(preset_name).settings()
    notes = []
    if stored_predictions:
        dropped = {"flip TTA": base["flip_tta"], "input handling": base["input"] != "whole"}
        dropped["prediction mm rounding"] = base["quantize_pred_mm"]
        if any(dropped.values()):
            base.update(flip_tta=False, input="whole", quantize_pred_mm=False)
            what = " and ".join(k for k, v in dropped.items() if v)
            verb = "are" if " and " in what else "is"
            notes.append(f"{what} of protocol {preset_name} {verb} the predicting system's")
    given = {k: v for k, v in overrides.items() if v is not None}
    if "crop" in given:
        given["crop"] = None if given["crop"] == "none" else given["crop"]
    changed = {k: v for k, v in given.items() if v != base[k]}
    if "crop" not in given and base["crop"] and frame_size and tuple(frame_size) != NYU_FRAME:
        changed["crop"] = None
        notes.append(f"ground truth is {frame_size[0]}x{frame_size[1]}, not NYU's 480x640: scored uncropped")
    name = preset_name + ("" if not changed else " with " + ", ".join(f"{k}={v}" for k, v in changed.items()))
    protocol = Protocol(
        **{**base, **changed}, name=name, ground_truth=ground_truth, input_size=tuple(int(s) for s in input_size)
    )
    if protocol.relative_to == "pred":
        notes.append(
            f"protocol {preset_name} divides abs_rel and sq_rel by the prediction, as DenseDepth's evaluate() does "
            "(compute_errors(predictions, testSetDepths)); eigen divides by the ground truth"
        )
    expected = protocol.expected_ground_truth
    if expected and ground_truth != expected:
        notes.append(
            f"protocol {preset_name} scores against {expected} depth but this data holds {ground_truth} "
            f"depth: the numbers are not comparable with that peer's"
        )
    return protocol, notes
