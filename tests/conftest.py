"""Shared test fixtures: quiet TensorFlow, the real NYU samples in ../shared, small model configs."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # `import helpers` from every test folder (--import-mode=importlib)
sys.path.insert(0, str(REPO))  # the real data_prep package before the tests/data_prep folder
SAMPLES = REPO.parent / "shared" / "nyu_samples"


@pytest.fixture(scope="session")
def nyu_samples() -> pathlib.Path:
    """The real NYU Depth V2 / SUN RGB-D frames shipped beside the project (never copied into it)."""
    if not SAMPLES.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real NYU samples not found at {SAMPLES}; CI must have ../shared beside the clone")
        pytest.skip(f"real NYU samples not found at {SAMPLES}")
    return SAMPLES
