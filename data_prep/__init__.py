"""Conversion of NYU Depth V2 (and compatible) sources into DepthNet's sharded TFRecords.

- :mod:`data_prep.readers`: one reader per source format, each yielding :class:`depthnet.data.frame.Frame`.
- :mod:`data_prep.plan`: options, sampling and shard assignment (deterministic, with a digest).
- :mod:`data_prep.shards`: atomic shard writing, ``.done`` markers, the manifest, resume checks.
- :mod:`data_prep.prepare`: :func:`prepare`, a whole conversion (what ``depthnet-prepare`` runs).
- :mod:`data_prep.frames`: :func:`write_frames`, frames held in memory written as a split.
"""

__all__ = ["write_frames"]


def __getattr__(name):  # light: an encoding worker (data_prep.workers) starts without importing TensorFlow
    if name == "write_frames":
        from data_prep.frames import write_frames

        return write_frames
    raise AttributeError(f"module 'data_prep' has no attribute {name!r}")
