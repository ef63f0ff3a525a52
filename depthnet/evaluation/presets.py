"""Named evaluation protocols (presets) of the NYU Depth V2 peers, and the ground-truth kind of each source.

The paper says only that it evaluates "similar to previous works [9, 25, 31, 44]"; every peer mixes the
crop, the ground truth (colorization-filled vs raw Kinect depth), the averaging (per image vs every pixel
of the test set pooled), flip test-time augmentation and the network input differently. A
:class:`Preset` fixes all of them at once; ``depthnet-eval --protocol=<name>`` applies one (individual
flags still override) and records its name and source beside the numbers.

Settings of a preset:

crop: a key of :data:`depthnet.evaluation.metrics.CROP_BOXES_480x640` or None.
min_depth, max_depth: ground truth outside (min, max) is ignored; predictions are clipped to [min, max].
ground_truth: the depth the peer scores against, 'raw' or 'filled' (checked against the data's kind).
average: 'per_image' (metric per image, then the mean) or 'pooled' (all valid pixels of the test set).
flip_tta: average with the mirrored prediction of the mirrored image.
input: how the RGB frame reaches the network (:data:`INPUT_MODES`).

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

    def settings(self) -> dict[str, Any]:
        """The settings :class:`depthnet.evaluation.evaluate.Protocol` takes (ground_truth as the expected kind)."""
        return {
            "crop": self.crop,
            "min_depth": self.min_depth,
            "max_depth": self.max_depth,
            "average": self.average,
            "flip_tta": self.flip_tta,
            "input": self.input,
            "expected_ground_truth": self.ground_truth,
        }


PRESETS: dict[str, Preset] = {
    # cleinc/bts utils/eval_with_pngs.py: eval_mask[45:471, 41:601] (--eigen_crop), valid gt in
    # (min_depth_eval, max_depth_eval), pred clipped to them, compute_errors per image then .mean();
    # pytorch/README.md: --min_depth_eval 1e-3 --max_depth_eval 10 --eigen_crop; no flip in bts_test.py.
    # utils/extract_official_train_test_set_from_mat.py: sync_depth = 'rawDepths', RGB black outside [7:474, 7:632].
    "bts": Preset(
        name="bts",
        crop="eigen",
        min_depth=1e-3,
        max_depth=10.0,
        ground_truth="raw",
        average="per_image",
        flip_tta=False,
        input="black_border",
        source="cleinc/bts utils/eval_with_pngs.py (--eigen_crop, 1e-3..10 m), "
        "utils/extract_official_train_test_set_from_mat.py (rawDepths, black border)",
    ),
    # shariqfarooq123/AdaBins evaluate.py: predict_tta (flip, each prediction clipped to [min_depth,
    # max_depth]), eval_mask[45:471, 41:601] with --eigen_crop, RunningAverageDict = mean over images;
    # args_test_nyu.txt: --min_depth_eval 1e-3 --max_depth_eval 10 --eigen_crop, data = BTS's
    # official_splits/test (raw depth, black-bordered RGB).
    "adabins": Preset(
        name="adabins",
        crop="eigen",
        min_depth=1e-3,
        max_depth=10.0,
        ground_truth="raw",
        average="per_image",
        flip_tta=True,
        input="black_border",
        source="shariqfarooq123/AdaBins evaluate.py + args_test_nyu.txt (BTS's test files)",
    ),
    # ialhashim/DenseDepth utils.py evaluate(): true_y[:, crop[0]:crop[1]+1, crop[2]:crop[3]+1] with
    # nyu_test.zip eigen_test_crop.npy = [20, 459, 24, 615] (inclusive), flip TTA 0.5/0.5, one
    # compute_errors over all stacked test pixels (pooled); predict() clips to [10, 1000] / 1000 * 10
    # = [0.1, 10] m; eigen_test_depth.npy is the labeled set's filled 'depths'; whole RGB frame input.
    "densedepth": Preset(
        name="densedepth",
        crop="densedepth",
        min_depth=0.1,
        max_depth=10.0,
        ground_truth="filled",
        average="pooled",
        flip_tta=True,
        input="whole",
        source="ialhashim/DenseDepth utils.py evaluate() + nyu_test.zip eigen_test_crop.npy [20, 459, 24, 615]",
        notes="DenseDepth calls compute_errors(predictions, testSetDepths), so its abs_rel divides by the "
        "prediction; we divide by the ground truth as everyone else does",
    ),
    # Eigen et al. NIPS 2014 [9] sec. 4 and Liu et al. [31]: every error is a mean over T, "the total
    # number of pixels in all the evaluated images" (pooled); scored inside the NYU toolbox's projection
    # mask (get_projection_mask.m: mask(45:471, 41:601), the box BTS/AdaBins call the Eigen crop) and only
    # where the raw depth is valid (ialhashim/DenseDepth#174); the whole frame goes to the network.
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
        "get_projection_mask.m (the Eigen crop), raw depth where valid",
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
