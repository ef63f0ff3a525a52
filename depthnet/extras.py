"""Optional dependencies (pip extras): one clear error naming the extra when one is missing.

pip install 'depthnet[litert]'   # ai-edge-litert: run .tflite files
pip install 'depthnet[onnx]'     # onnxruntime, onnx, tf2onnx: export and run .onnx files
pip install 'depthnet[video]'    # imageio + imageio-ffmpeg: depth videos
"""

from __future__ import annotations

import importlib
from types import ModuleType

from depthnet.errors import DepthNetError

# THE table of optional packages: extra -> (pip requirements, modules they provide). setup.py reads this
# literal (without importing depthnet) for its extras_require; the tests install every extra.
PIP_EXTRAS = {
    "litert": (["ai-edge-litert>=2.3,<3"], ["ai_edge_litert"]),  # the LiteRT interpreter for .tflite files
    "onnx": (  # ONNX export (tf2onnx) and runtime
        ["onnxruntime>=1.32,<2", "onnx>=1.23,<2", "tf2onnx>=1.17,<1.18"],
        ["onnxruntime", "onnx", "tf2onnx"],
    ),
    "video": (["imageio>=2.38,<3", "imageio-ffmpeg>=0.8,<1"], ["imageio", "imageio_ffmpeg"]),  # depth videos
}
EXTRAS = {module: extra for extra, (_, modules) in PIP_EXTRAS.items() for module in modules}  # module -> extra


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
