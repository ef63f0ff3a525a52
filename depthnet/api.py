"""`depthnet.load`: a training run or an exported SavedModel -> a depth estimator for images of any size.

    import depthnet

    estimator = depthnet.load("runs/quick")          # a run (its best checkpoint) or a depthnet-export folder
    depth_m = estimator("photo.jpg")                  # float32 H x W metres at the photo's size

The estimator takes a file path (decoded by THE rule of :mod:`depthnet.data.decode`, as `depthnet-predict`
and the training data are), a uint8 RGB array, or a float RGB array in [0, 1] (quantised to 8 bits,
``round(x * 255)``: the network was trained on 8-bit images), as one H x W x 3 image or a B x H x W x 3
batch of one size. Everything else (resize to the run's working size and back) is
:class:`depthnet.inference.Predictor`'s rule, the one evaluation and serving use.
"""

from __future__ import annotations

import os
from typing import Any, Union

import numpy as np

from depthnet.data.decode import decode_bytes
from depthnet.errors import InputError, ModelLoadError
from depthnet.inference import Predictor

__all__ = ["DepthEstimator", "load"]

ImageLike = Union[str, os.PathLike, np.ndarray]


def _as_uint8(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.dtype == np.uint8:
        return a
    if np.issubdtype(a.dtype, np.floating):
        if a.size and not (np.isfinite(a).all() and a.min() >= 0.0 and a.max() <= 1.0):
            raise InputError(
                f"a float image must hold RGB in [0, 1], got values {np.nanmin(a):.3g}..{np.nanmax(a):.3g}; "
                "divide 0-255 values by 255 or pass uint8"
            )
        return np.rint(a * 255.0).astype(np.uint8)
    raise InputError(f"expected a uint8 or float RGB image, got dtype {a.dtype}")


class DepthEstimator:
    """Images of any size -> float32 depth in metres at the same size (module docstring)."""

    def __init__(self, predictor: Predictor):
        self.predictor = predictor

    @property
    def info(self) -> dict[str, Any]:
        """What was loaded (source, checkpoint or SavedModel, model config)."""
        return self.predictor.info

    @property
    def working_size(self) -> tuple[int, int]:
        """The pixel-count reference the network works at (a 480x640 frame goes exactly to it)."""
        return tuple(self.predictor.working)

    def __call__(self, image: ImageLike, flip_tta: bool = False) -> np.ndarray:
        """H x W depth for a path or an H x W x 3 image; B x H x W for a B x H x W x 3 batch."""
        if isinstance(image, (str, os.PathLike)):
            with open(image, "rb") as f:
                image = decode_bytes(f.read(), os.fspath(image))
        rgb = _as_uint8(image)
        if rgb.ndim == 3 and rgb.shape[-1] == 3:
            return self.predictor.predict(rgb, flip_tta=flip_tta)
        if rgb.ndim == 4 and rgb.shape[-1] == 3:
            return np.stack([self.predictor.predict(one, flip_tta=flip_tta) for one in rgb])
        raise InputError(f"expected an H x W x 3 RGB image or a B x H x W x 3 batch, got shape {rgb.shape}")


def load(path: Union[str, os.PathLike], checkpoint: str = "best", precision: str = "fp32") -> DepthEstimator:
    """A :class:`DepthEstimator` from a `depthnet-train` run folder (`checkpoint`: 'best', 'latest' or a
    checkpoint prefix; `precision` of the restored model) or a `depthnet-export` SavedModel folder."""
    path = os.fspath(path)
    if os.path.isfile(os.path.join(path, "saved_model.pb")) or os.path.isfile(
        os.path.join(path, "saved_model", "saved_model.pb")
    ):  # a SavedModel, or an export folder holding one (depthnet-export writes <export_dir>/saved_model/)
        return DepthEstimator(Predictor.from_saved_model(path))
    if os.path.isfile(os.path.join(path, "config.json")):
        return DepthEstimator(Predictor.from_model_dir(path, checkpoint, precision))
    raise ModelLoadError(
        f"{path!r} is neither a training run (no config.json; train one with `make run` or depthnet-train) "
        f"nor a SavedModel (no saved_model.pb; write one with depthnet-export)"
    )
