"""DepthNet: detail-preserving monocular depth estimation (DFE + DMG) in TensorFlow/Keras."""

import ast
import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
README = HERE / "README.md"


def pip_extras() -> dict:
    """Optional runtimes (pip install 'depthnet[litert,onnx,video]') from THE table, depthnet/extras.py's
    PIP_EXTRAS, read as a literal (depthnet itself needs TensorFlow, which may not be installed yet)."""
    tree = ast.parse((HERE / "depthnet" / "extras.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "PIP_EXTRAS" for t in node.targets):
            return {extra: list(reqs) for extra, (reqs, _) in ast.literal_eval(node.value).items()}
    raise RuntimeError("depthnet/extras.py defines no PIP_EXTRAS")


EXTRAS = pip_extras()
TEST = ["pytest>=7.0", "pytest-xdist>=3.0", "plyfile>=1.0", "ruff>=0.6", "import-linter>=2.0", "grimp>=3.0"]

setup(
    name="depthnet",
    version="0.1.0",
    description="Dense Feature Extractor + attention Depth Map Generator for monocular depth (NYU Depth V2).",
    long_description=README.read_text(encoding="utf-8") if README.exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["depthnet", "depthnet.*", "data_prep", "data_prep.*"]),
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.0",
        "tensorflow-datasets>=4.9",
        "tensorboard>=2.16",
        "numpy>=1.24",
        "h5py>=3.8",
        "absl-py>=1.4",
        "matplotlib>=3.7",
        "pillow>=9.0",
        "tqdm>=4.60",
        "scipy>=1.10",
        "importlib_resources>=5.0",  # tensorflow-datasets builders import it without declaring it
    ],
    extras_require={**EXTRAS, "test": TEST + [r for reqs in EXTRAS.values() for r in reqs]},
    entry_points={
        "console_scripts": [
            "depthnet-summary=depthnet.cli.summary:run",
            "depthnet-prepare=depthnet.cli.prepare:run",
            "depthnet-train=depthnet.cli.train:run",
            "depthnet-eval=depthnet.cli.evaluate:run",
            "depthnet-export=depthnet.cli.export:run",
            "depthnet-predict=depthnet.cli.predict:run",
            "depthnet-bench=depthnet.cli.bench:run",
        ]
    },
)
