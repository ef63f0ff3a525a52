"""DepthNet: detail-preserving monocular depth estimation (Dense Feature Extractor + Depth Map Generator).

Public API: `load` (a run or SavedModel -> depth for images of any size), `ModelConfig`, `preset`, `build_model`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of CLI output

from depthnet.config import ModelConfig, preset

__version__ = "0.1.0"
__all__ = ["ModelConfig", "build_model", "load", "preset"]


def __getattr__(name):  # keep `import depthnet` light: TensorFlow loads on first model use
    if name == "build_model":
        from depthnet.modeling.model import build_model

        return build_model
    if name == "load":
        from depthnet.api import load

        return load
    raise AttributeError(f"module 'depthnet' has no attribute {name!r}")
