"""Named evaluation protocols (presets) of the NYU Depth V2 peers, and the ground-truth kind of each source.

The paper says only that it evaluates "similar to previous works [9, 25, 31, 44]"; every peer mixes the
crop, the ground truth (colorization-filled vs raw Kinect depth), the averaging (per image vs every pixel
of the test set pooled), flip test-time augmentation and the network input differently. A
:class:`Preset` fixes all of them at once; ``depthnet-eval --protocol=<name>`` applies one (individual
flags still override) and records its name and source beside the numbers.

Settings of a preset:

crop: a key of :data:`depthnet.evaluation.metrics.CROP_BOXES_480x640` ('eigen' = the NYU toolbox's
    427x561 projection mask, 'bts' = BTS/AdaBins' 426x560 eval_mask, 'densedepth') or None.
min_depth, max_depth: ground truth outside (min, max) is ignored; predictions are clipped to [min, max].
ground_truth: the depth the peer scores against, 'raw' or 'filled' (checked against the data's kind).
average: 'per_image' (metric per image, then the mean) or 'pooled' (all valid pixels of the test set).
flip_tta: average with the mirrored prediction of the mirrored image.
input: how the RGB frame reaches the network (:data:`INPUT_MODES`).
clip_before_flip: clip each prediction to [min, max] at the network's resolution before the flip average
    and the resize (AdaBins predict_tta, DenseDepth predict); otherwise clip after both.
resize: 'half_pixel' (tf.image.resize / skimage) or 'align_corners' (torch, align_corners=True) for the
    prediction -> ground-truth resize.
relative_to: what abs_rel and sq_rel divide by, 'gt' or 'pred' (DenseDepth's swapped compute_errors).
gt_mask: 'range' (min < gt < max) or 'positive' (every gt > 0; DenseDepth masks nothing).
quantize_gt_mm, quantize_pred_mm: ground truth / the model's prediction as whole millimetres, truncated,
    as BTS stores them in 16-bit PNGs (:func:`depthnet.evaluation.metrics.quantize_mm`).

Only the standard library here (``experiments/table1.py`` imports it without TensorFlow).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

__all__ = [
    "BLACK_BORDER_480x640",
    "DEFAULT_PROTOCOL",
    "INPUT_MODES",
    "PRESETS",
    "Preset",
    "TABLE1_PROTOCOL",
    "black_border_box",
    "center_crop_box",
    "ground_truth_of_manifest",
    "preset",
]

# How the frame reaches the network:
#   whole:        the whole frame at the working scale (312x416 for 480x640; white border included).
#   black_border: the whole frame with everything outside BLACK_BORDER_480x640 set to black, as BTS's
#                 extract_official_train_test_set_from_mat.py writes its test RGB (AdaBins reads those files).
#   center_crop:  only the region the training crop covers (240x320 of 312x416 = rows 55:425, cols
#                 74:566 of 480x640) at the training scale; the prediction is upsampled to that region and
#                 ground truth outside it is not scored.
INPUT_MODES: tuple[str, ...] = ("whole", "black_border", "center_crop")
BLACK_BORDER_480x640 = (7, 474, 7, 632)  # rows 7:474, cols 7:632 are kept (cleinc/bts utils/extract_official_...)
_TRAIN_RESIZE, _TRAIN_CROP = (312, 416), (240, 320)  # paper sec. 4.1 (depthnet.data.pipeline.NYU_RESIZE / NYU_CROP)


@dataclasses.dataclass(frozen=True)
class Preset:
    """One peer's evaluation protocol: every setting that changes the numbers, and where it comes from."""

    name: str
    crop: Optional[str]
    min_depth: float
    max_depth: float
    ground_truth: str
    average: str
    flip_tta: bool
    input: str
    source: str
    notes: str = ""
    clip_before_flip: bool = False
    resize: str = "half_pixel"
    relative_to: str = "gt"
    gt_mask: str = "range"
    quantize_gt_mm: bool = False
    quantize_pred_mm: bool = False

    def settings(self) -> dict[str, Any]:
        """The settings :class:`depthnet.evaluation.evaluate.Protocol` takes (ground_truth as the expected kind)."""
        steps = ("clip_before_flip", "resize", "relative_to", "gt_mask", "quantize_gt_mm", "quantize_pred_mm")
        return {
            "crop": self.crop,
            "min_depth": self.min_depth,
            "max_depth": self.max_depth,
            "average": self.average,
            "flip_tta": self.flip_tta,
            "input": self.input,
            "expected_ground_truth": self.ground_truth,
            **{key: getattr(self, key) for key in steps},
        }


PRESETS: dict[str, Preset] = {
    # cleinc/bts, step by step:
    #  utils/extract_official_train_test_set_from_mat.py: GT = 'rawDepths', written as
    #    (depth * 1000.0).astype(np.uint16) PNGs (whole mm, truncated); RGB black outside [7:474, 7:632];
    #  pytorch/bts_test.py: no flip; the prediction is saved the same way, (pred * 1000.0).astype(np.uint16);
    #  utils/eval_with_pngs.py (pytorch/README.md: --min_depth_eval 1e-3 --max_depth_eval 10 --eigen_crop):
    #    both PNGs read as float32 / 1000; pred clipped to [min, max]; valid = min < gt < max;
    #    eval_mask[45:471, 41:601] (crop 'bts'); compute_errors(gt, pred) per image, then .mean().
    "bts": Preset(
        name="bts",
        crop="bts",
        min_depth=1e-3,
        max_depth=10.0,
        ground_truth="raw",
        average="per_image",
        flip_tta=False,
        input="black_border",
        source="cleinc/bts utils/eval_with_pngs.py (--eigen_crop = eval_mask[45:471, 41:601], 1e-3..10 m), "
        "utils/extract_official_train_test_set_from_mat.py (rawDepths as uint16 mm, black border), "
        "pytorch/bts_test.py (no flip, prediction as uint16 mm)",
        quantize_gt_mm=True,
        quantize_pred_mm=True,
    ),
    # shariqfarooq123/AdaBins, step by step (args_test_nyu.txt: --min_depth_eval 1e-3 --max_depth_eval 10
    # --eigen_crop, data = BTS's official_splits/test: black-bordered RGB, raw depth as uint16 mm PNGs that
    # dataloader.py reads as float32 / 1000):
    #  evaluate.py predict_tta: pred = clip(model(image), min_depth, max_depth); pred_lr = clip(flipped
    #    prediction of the flipped image); final = 0.5 * (pred + pred_lr), THEN interpolate(final, image size,
    #    mode='bilinear', align_corners=True);
    #  evaluate.py eval: valid = min < gt < max, eval_mask[45:471, 41:601] (crop 'bts'), compute_errors(gt,
    #    pred) per image, RunningAverageDict = the mean over images.
    "adabins": Preset(
        name="adabins",
        crop="bts",
        min_depth=1e-3,
        max_depth=10.0,
        ground_truth="raw",
        average="per_image",
        flip_tta=True,
        input="black_border",
        source="shariqfarooq123/AdaBins evaluate.py (predict_tta: clip, flip average, align_corners resize; "
        "eval_mask[45:471, 41:601]) + args_test_nyu.txt + dataloader.py (BTS's uint16 mm test files)",
        clip_before_flip=True,
        resize="align_corners",
        quantize_gt_mm=True,
    ),
    # ialhashim/DenseDepth utils.py, step by step:
    #  predict(): clip(DepthNorm(pred), 10, 1000) / 1000, i.e. each prediction clipped to [0.1, 10] m (after
    #    the * 10 of evaluate()) BEFORE the flip average; scale_up(2, ...): skimage resize order=1 (bilinear,
    #    pixel centres; 'reflect' edges equal edge clamping at 2x; no smoothing when upsampling);
    #  evaluate(): 0.5 * pred + 0.5 * fliplr(pred of the mirrored image); crop [crop[0]:crop[1]+1,
    #    crop[2]:crop[3]+1] with nyu_test.zip eigen_test_crop.npy = [20, 459, 24, 615]; no validity mask
    #    (eigen_test_depth.npy is the labeled set's filled 'depths', > 0 everywhere); ONE compute_errors over
    #    all stacked test pixels (pooled), called as compute_errors(predictions, testSetDepths): its 'gt' is
    #    the prediction, so abs_rel = mean(|gt - pred| / pred); whole RGB frame input.
    "densedepth": Preset(
        name="densedepth",
        crop="densedepth",
        min_depth=0.1,
        max_depth=10.0,
        ground_truth="filled",
        average="pooled",
        flip_tta=True,
        input="whole",
        source="ialhashim/DenseDepth utils.py predict() + evaluate() (compute_errors(predictions, testSetDepths)) "
        "+ nyu_test.zip eigen_test_crop.npy [20, 459, 24, 615]",
        notes="DenseDepth calls compute_errors(predictions, testSetDepths), so its abs_rel divides by the "
        "prediction; this preset does the same (eigen divides by the ground truth)",
        clip_before_flip=True,
        relative_to="pred",
        gt_mask="positive",
    ),
    # Eigen et al. NIPS 2014 [9] sec. 4 and Liu et al. [31]: every error is a mean over T, "the total
    # number of pixels in all the evaluated images" (pooled), the textbook abs_rel = mean(|d - d*| / d*);
    # scored inside the NYU toolbox's projection mask (get_projection_mask.m: MATLAB mask(45:471, 41:601),
    # 1-based inclusive, sz = [427 561]: rows 44:471, cols 40:601, crop 'eigen') and only where the raw depth
    # is valid (ialhashim/DenseDepth#174); the whole frame goes to the network.
    "eigen": Preset(
        name="eigen",
        crop="eigen",
        min_depth=1e-3,
        max_depth=10.0,
        ground_truth="raw",
        average="pooled",
        flip_tta=False,
        input="whole",
        source="Eigen et al. NIPS 2014 sec. 4 / Liu et al. 2015 (errors over all test pixels), NYU toolbox "
        "get_projection_mask.m (mask(45:471, 41:601), 427x561), raw depth where valid",
    ),
}

# The protocol closest to the paper's ("similar to previous works [9, 25, 31, 44]": Eigen [9] and Liu [31]
# define the metrics over all test pixels; the compared methods use the Eigen crop): Table 1 and the
# default of depthnet-eval.
TABLE1_PROTOCOL = "eigen"
DEFAULT_PROTOCOL = TABLE1_PROTOCOL


def preset(name: str) -> Preset:
    """The preset called `name`; ValueError naming the choices otherwise."""
    if name not in PRESETS:
        raise ValueError(f"unknown protocol {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def black_border_box(height: int, width: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) kept by the BTS black border, scaled from 480x640 (rounded inwards)."""
    t, b, l, r = BLACK_BORDER_480x640  # noqa: E741 - top, bottom, left, right
    return -((-t * height) // 480), (b * height) // 480, -((-l * width) // 640), (r * width) // 640


def center_crop_box(height: int, width: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of a frame that the training crop covers: 55:425, 74:566 of 480x640."""
    top = round(height * (_TRAIN_RESIZE[0] - _TRAIN_CROP[0]) / 2 / _TRAIN_RESIZE[0])
    left = round(width * (_TRAIN_RESIZE[1] - _TRAIN_CROP[1]) / 2 / _TRAIN_RESIZE[1])
    return top, height - top, left, width - left


# ---------------------------------------------------------------------------------------------- ground truth

# (source, split) -> the kind of depth a depthnet-prepare conversion stores (see WORKSPACE.md):
#   tfds and fastdepth are the same FastDepth (sparse-to-dense) .h5 files: train/ holds raw projected
#   frames of the raw dataset (holes = 0), val/official the 654 labeled test frames with the filled 'depths';
#   labeled_mat: its --depth flag; synthetic: exact rendered depth; pairs: unknown unless declared
#   (depthnet-eval --depth=filled|raw).
_KIND_BY_SOURCE = {  # (source, the source's own split name) -> kind
    ("tfds", "train"): "raw",
    ("tfds", "validation"): "filled",
    ("fastdepth", "train"): "raw",
    ("fastdepth", "val/official"): "filled",
}


def ground_truth_of_manifest(manifest: dict[str, Any]) -> str:
    """'filled', 'raw', 'synthetic' or 'unknown': the depth kind a prepared split holds.

    An explicit `ground_truth` entry wins; then labeled_mat's `--depth`; then the source of a
    depthnet-prepare conversion. In-memory frames (data_prep.write_frames) have no known provenance.
    """
    if manifest.get("ground_truth"):
        return str(manifest["ground_truth"])
    flags = manifest.get("flags") or manifest.get("config") or {}
    if manifest.get("source") == "labeled_mat" and flags.get("depth"):
        return str(flags["depth"])
    if manifest.get("tool") != "depthnet-prepare":
        return "unknown"
    if manifest.get("source") == "synthetic":
        return "synthetic"
    key = (str(manifest.get("source")), str(manifest.get("source_split", "")).replace("\\", "/"))
    return _KIND_BY_SOURCE.get(key, "unknown")
