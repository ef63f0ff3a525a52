"""The training fault matrices' shared fixture: a prepared root with a 2-step tiny run."""

import pytest
from helpers import random_frames, tiny_config

from data_prep import write_frames
from depthnet.config import preset
from depthnet.training.loop import train


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A prepared data root and a tiny run with checkpoints at steps 1 and 2 (one per test module)."""
    root = tmp_path_factory.mktemp("faults")
    write_frames(random_frames(4, 0), str(root / "data" / "train"))
    write_frames(random_frames(2, 1), str(root / "data" / "test"))
    train(preset("tiny"), tiny_config(root / "run", root / "data"), log=lambda s: None)
    return root
