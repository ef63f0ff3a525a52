"""The seeded example stream behind :func:`depthnet.data.pipeline.train_dataset`.

Serialized examples, each paired with its stateless augmentation seed: per epoch the shard order is
shuffled, ``cycle_length`` shards are interleaved, an optional scene filter applies, and blocks of
``shuffle_buffer`` examples are permuted. All randomness is stateless and derived from one base seed
(module docstring of :mod:`depthnet.data.pipeline`), so a fixed seed gives the same stream every time.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import tensorflow as tf

# Salts that separate the independent random streams derived from one seed.
_SALT_EPOCH = 0x5EED0001
_SALT_AUGMENT = 0x5EED0002


@dataclasses.dataclass(frozen=True)
class StreamConfig:
    """Where the examples come from and how each epoch orders them."""

    paths: tuple[str, ...]
    cycle: int  # shards interleaved at once (already clamped to [1, number of shards])
    shuffle_buffer: int  # 0 = no shuffle (shard order nor examples)
    repeat: bool
    deterministic: bool
    num_parallel_calls: int
    scene_filter: Optional[Any] = None

    @property
    def shuffle(self) -> bool:
        """Whether shards and examples are shuffled."""
        return self.shuffle_buffer > 0


def _shard_files(config: StreamConfig, epoch_key: tf.Tensor) -> tf.Tensor:
    """The shard paths in this epoch's order (shuffled by `epoch_key` when shuffling)."""
    files = tf.constant(list(config.paths))
    if config.shuffle:
        order = tf.argsort(tf.random.stateless_uniform([len(config.paths)], epoch_key))
        files = tf.gather(files, order)
    return files


def _permuted_block(block_key: tf.Tensor, index: tf.Tensor, block: tf.Tensor) -> tf.data.Dataset:
    """One block of serialized examples, permuted by a seed folded from `block_key` and its index."""
    block_seed = tf.random.experimental.stateless_fold_in(block_key, index)
    return tf.data.Dataset.from_tensor_slices(tf.random.experimental.stateless_shuffle(block, block_seed))


def _block_shuffle(ds: tf.data.Dataset, epoch_key: tf.Tensor, buffer: int) -> tf.data.Dataset:
    """Shuffles `ds` in blocks of `buffer` with stateless permutations.

    Dataset.shuffle(seed=<tensor>) breaks when a global seed of 0 is set
    (keras.utils.set_random_seed(0)), and this needs no global state.
    """
    block_key = tf.random.experimental.stateless_fold_in(epoch_key, 1)
    return ds.batch(buffer).enumerate().flat_map(lambda i, b: _permuted_block(block_key, i, b))


def one_epoch(config: StreamConfig, key: tf.Tensor, epoch: tf.Tensor) -> tf.data.Dataset:
    """The serialized examples of one epoch: shard order, interleave, filter, block shuffle."""
    epoch_key = tf.random.experimental.stateless_fold_in(key, epoch)
    ds = tf.data.Dataset.from_tensor_slices(_shard_files(config, epoch_key)).interleave(
        tf.data.TFRecordDataset,
        cycle_length=config.cycle,
        block_length=1,
        num_parallel_calls=config.num_parallel_calls,
        deterministic=config.deterministic,
    )
    if config.scene_filter is not None:
        ds = ds.filter(config.scene_filter)
    if config.shuffle:
        ds = _block_shuffle(ds, epoch_key, config.shuffle_buffer)
    return ds


def base_seeds(seed: Optional[int]) -> tf.data.Dataset:
    """One int64 base seed: `seed`, or with None a fresh one on every iteration."""
    if seed is None:
        # A fresh base key on every iteration (Dataset.random re-draws per iterator).
        return tf.data.Dataset.random(rerandomize_each_iteration=True).take(1)
    return tf.data.Dataset.from_tensors(tf.constant(int(seed), tf.int64))


def seeded_examples(config: StreamConfig, base_seed: tf.Tensor) -> tf.data.Dataset:
    """(augmentation seed int [2], serialized example) over all epochs, keyed by stream position."""
    epoch_key = tf.stack([base_seed, tf.constant(_SALT_EPOCH, tf.int64)])
    aug_key = tf.stack([base_seed, tf.constant(_SALT_AUGMENT, tf.int64)])
    epochs = tf.data.Dataset.counter() if config.repeat else tf.data.Dataset.range(1)
    examples = epochs.flat_map(lambda e: one_epoch(config, epoch_key, e))
    return examples.enumerate().map(lambda i, s: (tf.random.experimental.stateless_fold_in(aug_key, i), s))


def example_stream(config: StreamConfig, seed: Optional[int]) -> tf.data.Dataset:
    """The whole stream of (augmentation seed, serialized example) for `config` and `seed`."""
    return base_seeds(seed).flat_map(lambda base_seed: seeded_examples(config, base_seed))
