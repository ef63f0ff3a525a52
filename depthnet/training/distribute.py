"""Data-parallel training with tf.distribute: `depthnet-train --strategy=default|mirrored|multi_worker`.

default       one device (the original single-process loop, unchanged).
mirrored      MirroredStrategy: one process, one replica per local GPU (on a machine without GPUs,
              one per logical CPU device - see :func:`split_cpu`, used by the tests).
multi_worker  MultiWorkerMirroredStrategy: one process per machine (each may have several GPUs),
              synchronous all-reduce over the network; the cluster comes from `TF_CONFIG`.

What stays the same as on one device
------------------------------------
`--batch_size` is the GLOBAL batch: it is split evenly over the replicas (it must be divisible by
their number), so a run on N replicas takes the same optimisation steps as one device with that
batch. The loss of eq. (3) is a mean over the valid pixels of the *global* batch: every replica
sums its per-pixel errors and divides by the all-reduced global valid-pixel count, and the
gradients are summed over replicas (all-reduce SUM), which is exactly the single-device gradient.
The NaN guard and the fp16 loss scaler decide on the all-reduced loss and gradients, so every
replica applies or skips the same step.

Input: `distribute_datasets_from_function`; each worker builds its own pipeline (`InputContext`),
batched per replica (`get_per_replica_batch_size`). With several workers the data is sharded per
worker (`input_pipeline_id`) in one of two ways (`--input_sharding`):

- ``files`` (default with several workers): worker i reads shard files i, i+W, i+2W, ... of the
  split (needs at least W shard files): no worker decodes another's data.
- ``batches``: every worker reads the whole deterministic stream and keeps its own per-replica
  batches, so the union of the replicas' batches at step k is exactly the single-device global
  batch k (with --deterministic and a --seed): used to check equality with a one-device run;
  costs W x the decoding work. Also the fallback when the split has fewer files than workers.

With one worker (default, mirrored) the pipeline is not sharded: consecutive per-replica batches go
to the replicas, so the union is again the single-device global batch.

Only the chief (task 'chief', or worker 0 when the cluster has no chief) writes: checkpoints go to
`<model_dir>/ckpt` and `<model_dir>/best` from the chief; the other workers save into a private
temporary directory that is deleted right after (every worker must take part in a save), and their
TensorBoard writers are no-ops. All workers restore from `<model_dir>/ckpt`, so for resuming the
model_dir must be shared storage (NFS, GCS, ...). Every worker runs the validation (same weights, so
the same metrics and the same best-checkpoint decision on all of them).

A 2-machine run (each command on its machine; same flags everywhere, only `task.index` differs)::

    # host-a (worker 0 = chief)
    export TF_CONFIG='{"cluster": {"worker": ["host-a:23456", "host-b:23456"]},
                       "task": {"type": "worker", "index": 0}}'
    depthnet-train --strategy=multi_worker --flagfile=experiments/full.flags \\
        --model_dir=/shared/runs/full --data_dir=/shared/data/nyu --batch_size=6
    # host-b
    export TF_CONFIG='{"cluster": {"worker": ["host-a:23456", "host-b:23456"]},
                       "task": {"type": "worker", "index": 1}}'
    depthnet-train ...the same flags...

The ports must be reachable between the machines; start all workers within a few minutes of each
other (the first collective waits for every worker). A worker that dies makes the others fail at
their next collective (set DEPTHNET_COLLECTIVE_TIMEOUT=<seconds> to bound that wait).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, Optional

import tensorflow as tf

from depthnet.config import TRAIN_CHOICES
from depthnet.data import pipeline as data
from depthnet.data import records

STRATEGIES = TRAIN_CHOICES["strategy"]
INPUT_SHARDINGS = TRAIN_CHOICES["input_sharding"]
TIMEOUT_ENV = "DEPTHNET_COLLECTIVE_TIMEOUT"

_MULTI_WORKER: Optional[tf.distribute.Strategy] = None


def split_cpu(num_devices: int) -> list[str]:
    """Splits the physical CPU into `num_devices` logical devices (before TensorFlow initialises).

    Lets MirroredStrategy run several replicas on a machine without GPUs (tests, debugging).
    Returns the logical CPU device names.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(int(num_devices))]
    )
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy for `--strategy`. Create it before any other TensorFlow work."""
    global _MULTI_WORKER
    if name not in STRATEGIES:
        raise ValueError(f"unknown --strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        devices = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
        cross_device_ops = None if any("GPU" in d for d in devices) else tf.distribute.ReductionToOneDevice()
        return tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=cross_device_ops)
    if _MULTI_WORKER is None:  # one per process: it configures the collective runtime
        timeout = os.environ.get(TIMEOUT_ENV)
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.AUTO,
            timeout_seconds=float(timeout) if timeout else None,
        )
        _MULTI_WORKER = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    return _MULTI_WORKER


def worker(strategy: tf.distribute.Strategy) -> tuple[Optional[str], int, bool]:
    """(task type, task id, is chief) of this process; (None, 0, True) outside a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not spec:
        return None, 0, True
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in spec)
    return task_type, task_id, chief


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    return worker(strategy)[2]


def first_local(strategy: tf.distribute.Strategy, value: Any) -> Any:
    """This worker's first replica's part of a (possibly) distributed value; plain values unchanged."""
    return strategy.experimental_local_results(value)[0]


# ---------------------------------------------------------------------------------------- checkpoints


class NonChiefCheckpointManager:
    """CheckpointManager look-alike for non-chief workers: saves into a temporary dir, then deletes it.

    Every worker has to take part in a save (variables may need collectives to be read); only the
    chief keeps the files. `latest_checkpoint` is the chief's, in the shared `directory`.
    """

    def __init__(self, checkpoint: tf.train.Checkpoint, directory: str, step_counter=None, task: str = "worker"):
        self._checkpoint, self.directory, self._step_counter = checkpoint, directory, step_counter
        self._task = task

    def save(self, checkpoint_number: Optional[int] = None) -> Optional[str]:
        scratch = tempfile.mkdtemp(prefix=f"depthnet_{self._task}_ckpt_")
        try:
            tf.train.CheckpointManager(self._checkpoint, scratch, max_to_keep=1, step_counter=self._step_counter).save(
                checkpoint_number=checkpoint_number
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return None

    @property
    def latest_checkpoint(self) -> Optional[str]:
        return tf.train.latest_checkpoint(self.directory)


def checkpoint_manager(
    checkpoint: tf.train.Checkpoint, directory: str, max_to_keep: int, step_counter, strategy: tf.distribute.Strategy
):
    """tf.train.CheckpointManager on the chief; a write-and-delete stand-in on the other workers."""
    task_type, task_id, chief = worker(strategy)
    if chief:
        return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=max_to_keep, step_counter=step_counter)
    return NonChiefCheckpointManager(checkpoint, directory, step_counter, task=f"{task_type}{task_id}")


def summary_writer(logdir: str, strategy: tf.distribute.Strategy):
    """A TensorBoard writer on the chief; a no-op writer elsewhere."""
    return tf.summary.create_file_writer(logdir) if is_chief(strategy) else tf.summary.create_noop_writer()


# ---------------------------------------------------------------------------------------------- input


def _shard_view(split_dir: str, num_shards: int, index: int) -> str:
    """A split folder holding every `num_shards`-th shard file from `index` (as symbolic links to the
    originals, listed by name: a manifest lists only files inside its folder), deleted at exit."""
    manifest = records.read_manifest(split_dir)
    shards = manifest["shards"][index::num_shards]
    view = tempfile.mkdtemp(prefix=f"depthnet_{os.path.basename(os.path.normpath(split_dir))}_{index}of{num_shards}_")
    atexit.register(shutil.rmtree, view, True)
    listed = []
    for shard in shards:
        name = os.path.basename(shard["file"])
        os.symlink(os.path.abspath(os.path.join(split_dir, shard["file"])), os.path.join(view, name))
        listed.append({**shard, "file": name})
    subset = {**manifest, "shards": listed, "num_frames": sum(int(s["num_frames"]) for s in shards)}
    with open(os.path.join(view, records.MANIFEST_NAME), "w", encoding="utf-8") as f:
        json.dump(subset, f, indent=2)
    return view


def resolve_sharding(sharding: str, num_pipelines: int, num_files: int) -> str:
    """'none' for one pipeline, else 'files' or 'batches' (see the module docstring)."""
    if sharding not in INPUT_SHARDINGS:
        raise ValueError(f"unknown --input_sharding {sharding!r}; choose one of {', '.join(INPUT_SHARDINGS)}")
    if num_pipelines <= 1:
        return "none"
    if sharding == "batches" or num_files < num_pipelines:
        return "batches"
    return "files"


def dataset_fn(
    train_dir: str,
    global_batch: int,
    crop_size: Sequence[int],
    seed: Optional[int],
    deterministic: bool,
    sharding: str = "auto",
    log: Callable[[str], None] = print,
    **kwargs,
) -> Callable[[tf.distribute.InputContext], tf.data.Dataset]:
    """The per-worker pipeline for `strategy.distribute_datasets_from_function` (kwargs -> data.train_dataset)."""

    def make(context: tf.distribute.InputContext) -> tf.data.Dataset:
        per_replica = context.get_per_replica_batch_size(global_batch)
        pipelines, index = context.num_input_pipelines, context.input_pipeline_id
        local_replicas = context.num_replicas_in_sync // pipelines
        mode = resolve_sharding(sharding, pipelines, len(records.shard_paths(train_dir)))
        if sharding == "files" and mode == "batches":
            log(f"input: {train_dir} has fewer shard files than the {pipelines} workers; sharding by batches")
        if mode == "none":
            return data.train_dataset(
                train_dir, batch_size=per_replica, crop_size=crop_size, seed=seed, deterministic=deterministic, **kwargs
            )
        if mode == "files":
            worker_seed = None if seed is None else int(seed) + 1_000_033 * index
            return data.train_dataset(
                _shard_view(train_dir, pipelines, index),
                batch_size=per_replica,
                crop_size=crop_size,
                seed=worker_seed,
                deterministic=deterministic,
                **kwargs,
            )
        # 'batches': the whole stream in per-worker batches, every pipelines-th from `index`, split per replica.
        ds = data.train_dataset(
            train_dir,
            batch_size=per_replica * local_replicas,
            crop_size=crop_size,
            seed=seed,
            deterministic=deterministic,
            **kwargs,
        )
        return ds.shard(pipelines, index).rebatch(per_replica, drop_remainder=True)

    return make


def distributed_train_dataset(
    strategy: tf.distribute.Strategy,
    train_dir: str,
    global_batch: int,
    crop_size: Sequence[int],
    seed: Optional[int],
    deterministic: bool,
    sharding: str = "auto",
    log: Callable[[str], None] = print,
    **kwargs,
):
    """The training stream as a distributed dataset: per step, one per-replica batch on every replica."""
    resolve_sharding(sharding, 1, 1)  # validates the name
    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise ValueError(
            f"--batch_size={global_batch} (the global batch) must be divisible by the "
            f"{replicas} replicas; use a multiple of {replicas}"
        )
    fn = dataset_fn(train_dir, global_batch, crop_size, seed, deterministic, sharding, log, **kwargs)
    options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
    return strategy.distribute_datasets_from_function(fn, options)
