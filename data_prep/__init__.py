"""Conversion of NYU Depth V2 (and compatible) sources into DepthNet's sharded TFRecords.

- :mod:`data_prep.readers`: one reader per source format, each yielding :class:`depthnet.records.Frame`.
- :mod:`data_prep.prepare`: the ``depthnet-prepare`` command (sampling, sharding, resume, manifest).
"""
