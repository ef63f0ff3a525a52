"""Optional dependencies (pip extras): one clear error naming the extra when one is missing.

pip install 'depthnet[litert]'   # ai-edge-litert: run .tflite files
pip install 'depthnet[onnx]'     # onnxruntime, onnx, tf2onnx: export and run .onnx files
pip install 'depthnet[video]'    # imageio + imageio-ffmpeg: depth videos
"""

from __future__ import annotations

import importlib
from types import ModuleType

from depthnet.errors import DepthNetError

EXTRAS = {
    "ai_edge_litert": "litert",
    "onnxruntime": "onnx",
    "onnx": "onnx",
    "tf2onnx": "onnx",
    "imageio": "video",
    "imageio_ffmpeg": "video",
}


class MissingExtraError(DepthNetError, ImportError):
    """An optional runtime is not installed; the message names the pip extra that brings it."""


def require(module: str, purpose: str) -> ModuleType:
    """Imports `module`, or raises MissingExtraError naming the extra to install for `purpose`."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        extra = EXTRAS.get(module.split(".")[0], module.split(".")[0])
        raise MissingExtraError(
            f"{purpose} needs the Python package {module.split('.')[0]!r}, which is not installed "
            f"({e}); install it with: pip install 'depthnet[{extra}]'"
        ) from e
