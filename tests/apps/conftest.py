"""Fixtures of the apps tests: tiny clips, and depthnet-predict run in this process with a stand-in model."""

import os

import numpy as np
import pytest


def _write_clip(path, frames=3, height=62, width=90, fps=10, **codec):
    """A clip of a bright square moving right over a dark ramp (H.264 unless `codec` says otherwise)."""
    iio = pytest.importorskip("imageio.v2")
    codec = codec or {"codec": "libx264"}
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    with iio.get_writer(str(path), format="FFMPEG", fps=fps, macro_block_size=1, **codec) as writer:
        for i in range(frames):
            frame = np.tile(np.linspace(0, 120, width, dtype=np.uint8)[None, :, None], (height, 1, 3))
            frame[20:40, 10 + 10 * i : 30 + 10 * i] = 250
            writer.append_data(frame)
    return path


@pytest.fixture
def write_clip():
    return _write_clip


@pytest.fixture(scope="module")
def predict_cli():
    """`run(args) -> (exit status, stdout, stderr, model calls)`: depthnet-predict's main, in this process, with
    a stand-in model (depth = 1 + mean RGB / 64 m) in place of the one the flags name."""
    import tensorflow as tf
    from absl import flags

    from depthnet.cli import common, predict
    from depthnet.inference import Predictor

    fv = flags.FLAGS
    before = set(fv)
    if "video_npy" not in fv:
        predict.define_flags()
    if "verbose" not in fv:
        flags.DEFINE_boolean("verbose", False, "tracebacks")
    calls = []

    def fn(images):
        calls.append(int(images.shape[0]))
        return 1.0 + tf.reduce_mean(tf.cast(images, tf.float32), axis=-1, keepdims=True) / 64.0

    original = predict._predictor
    predict._predictor = lambda *args: Predictor(fn, working=(48, 64))

    def run(args, capsys):
        import sys

        calls.clear()
        argv0, sys.argv[0] = sys.argv[0], "depthnet-predict"  # the tool's name in its error lines
        capsys.readouterr()
        fv.unparse_flags()
        fv(["depthnet-predict", "--saved_model=unused", "--noprogress", *[str(a) for a in args]])
        try:
            code = common.guarded(predict.main)(["depthnet-predict"])
        finally:
            sys.argv[0] = argv0
        out, err = capsys.readouterr()
        return code, out, err, len(calls)

    yield run
    predict._predictor = original
    fv.unparse_flags()
    for name in set(fv) - before:
        delattr(fv, name)
