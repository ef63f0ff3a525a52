"""A whole conversion: a depth source -> sharded TFRecords + ``manifest.json`` (what ``depthnet-prepare`` runs).

Output, in ``<output_dir>/<split>/`` (format: :mod:`depthnet.data.records`)::

    <split>-00000-of-000NN.tfrecord        frames, full resolution, lossless PNG rgb + uint16 PNG depth (mm)
    <split>-00000-of-000NN.tfrecord.done   resume marker: sha256, frame count, the options that made it
    manifest.json                          written last: source, split, counts, shards + sha256, options, ...

:mod:`data_prep.plan` decides which frames go to which shard; :mod:`data_prep.shards` writes them
atomically; :mod:`data_prep.resume` decides which finished shards a rerun keeps (and refuses to mix
two different conversions); :mod:`data_prep.swap` builds the replacement of a complete split beside
it and swaps it in only when complete; :mod:`data_prep.output_dir` checks the output folder first.
One run converts a split at a time (the lock ``<output_dir>/.<split>.lock``; a second is refused naming the first).
"""

from __future__ import annotations

import datetime
import logging
import os
import time
from typing import Any, Optional

from data_prep import output_dir, readers, resume, shards, swap
from data_prep.plan import (
    DEFAULT_FRAMES_PER_SHARD,
    OUTPUT_DEPTH_SCALE,
    Options,
    Plan,
    content_config,
    evenly_spaced,
    make_plan,
    sample_items,
    shard_bounds,
)
from data_prep.readers import SourceError
from data_prep.shards import DONE_SUFFIX, TMP_SUFFIX, OutputExistsError
from depthnet.data import records
from depthnet.folder_lock import folder_lock

__all__ = [
    "DEFAULT_FRAMES_PER_SHARD",
    "DONE_SUFFIX",
    "OUTPUT_DEPTH_SCALE",
    "TMP_SUFFIX",
    "Options",
    "OutputExistsError",
    "Plan",
    "content_config",
    "evenly_spaced",
    "make_plan",
    "open_reader",
    "prepare",
    "sample_items",
    "shard_bounds",
]

log = logging.getLogger("depthnet.prepare")


def open_reader(opts: Options) -> readers.Reader:
    """The reader `opts` name (:func:`data_prep.readers.make_reader`)."""
    return readers.make_reader(
        opts.source, opts.input, opts.split,
        depth_scale=opts.depth_scale, depth_encoding=opts.depth_encoding, depth=opts.depth,
        splits_mat=opts.splits_mat, tfds_data_dir=opts.tfds_data_dir,
        num_frames=opts.num_frames, seed=opts.seed, height=opts.height, width=opts.width, workers=opts.workers,
    )  # fmt: skip


def prepare(opts: Options, reader: Optional[readers.Reader] = None) -> dict[str, Any]:
    """Runs a conversion (resuming a finished part); returns the manifest. `reader` overrides the source's."""
    start = time.time()
    own_reader = reader is None
    if reader is None:
        reader = open_reader(opts)
    try:
        return _prepare(opts, reader, start)
    finally:
        if own_reader:
            reader.close()


def _prepare(opts: Options, reader: readers.Reader, start: float) -> dict[str, Any]:
    reader.check_depth = opts.check_depth
    plan = make_plan(opts, reader)  # lists (and stats) every input before anything is written
    _log_plan(opts, reader, plan)
    split_dir = os.path.join(opts.output_dir, opts.split)
    output_dir.check_writable(opts.output_dir, split_dir)
    exp = resume.Expected(plan.names, plan.digest, plan.config, plan.inputs, opts.skip_bad)
    with _split_lock(opts, split_dir):
        new_folder = not os.path.exists(split_dir)
        try:
            return _convert(opts, reader, plan, split_dir, exp, start)
        except BaseException:
            if new_folder and os.path.isdir(split_dir) and not os.listdir(split_dir):
                os.rmdir(split_dir)  # a failed first run leaves no empty folder behind
            raise


def _split_lock(opts: Options, split_dir: str):
    """One conversion of a split at a time: the lock `<output_dir>/.<split>.lock` (depthnet.folder_lock), beside
    the split, so it also covers the replacement built beside it and the swap (data_prep.swap)."""
    return folder_lock(
        opts.output_dir,
        f"writing split {opts.split!r}",
        hint="wait for it to finish, or write into another --output_dir",
        name=f".{opts.split}.lock",
        log=log.warning,
        subject=split_dir,
    )


def _convert(
    opts: Options, reader: readers.Reader, plan: Plan, split_dir: str, exp: resume.Expected, start: float
) -> dict[str, Any]:
    with output_dir.translated(split_dir):
        swap.recover(split_dir)
        target, keep = _target(opts, split_dir, exp)
        if target is None:
            return keep
        os.makedirs(target, exist_ok=True)
        if target != split_dir:
            swap.link_shards(split_dir, target, keep)
        manifest, markers = resume.check_existing(target, opts.split, exp, known=keep)
        new_frames = reused = 0
        if manifest is None:
            shards.remove_our_files(target, opts.split, only_tmp=True)
            todo = [k for k, name in enumerate(plan.names) if name not in markers]
            reused = sum(len(plan.shards[k]) for k in range(len(plan.names)) if k not in todo)
            if reused:
                done = len(plan.names) - len(todo)
                log.info("resuming: %d of %d shards already done (%d frames)", done, len(plan.names), reused)
            new_frames = _write_shards(opts, reader, plan, target, todo, reused, markers)
            manifest = _manifest(opts, reader, plan, [markers[n] for n in plan.names])
            shards.write_json_atomic(os.path.join(target, records.MANIFEST_NAME), manifest)
        if target != split_dir:
            swap.replace(split_dir, target)
        swap.remove_staging(split_dir)
    seconds = time.time() - start
    print(
        f"depthnet-prepare: {manifest['num_frames']} frames in {len(manifest['shards'])} shards -> {split_dir} "
        f"({new_frames} read now, {reused} from finished shards; {manifest['skipped_bad']} bad input(s) skipped; "
        f"{seconds:.1f} s, {new_frames / max(seconds, 1e-9):.1f} frames/s)"
    )
    if "warning" in manifest["source_info"]:
        log.warning("%s", manifest["source_info"]["warning"])
    return manifest


def _target(opts: Options, split_dir: str, exp: resume.Expected) -> tuple[Optional[str], Any]:
    """Where this run writes and the finished shards it keeps: (split_dir, {}) for a new or partly
    written split; (a folder beside it, kept shards) when a complete split must change, or with
    `overwrite`; (None, the manifest) when the split is complete already."""
    has_ours = os.path.isdir(split_dir) and bool(shards.our_files(split_dir, opts.split))
    if opts.overwrite and has_ours:
        return swap.staging_dir(split_dir, exp.digest), {}
    if not os.path.exists(os.path.join(split_dir, records.MANIFEST_NAME)):
        return split_dir, {}
    complete, keep, problems = resume.check_complete(split_dir, exp)
    if complete is not None:
        print(
            f"depthnet-prepare: {split_dir} is already complete ({complete['num_frames']} frames, "
            f"{len(complete['shards'])} shards); nothing to do"
        )
        swap.remove_staging(split_dir)
        return None, complete
    first = next(iter(problems))
    log.warning(
        "%s: %d of %d shards must be rewritten (%s: %s); writing them beside the finished split, which is "
        "replaced only when the new one is complete",
        split_dir, len(problems), len(exp.names), first, problems[first],
    )  # fmt: skip
    return swap.staging_dir(split_dir, exp.digest), keep


def _log_plan(opts: Options, reader: readers.Reader, plan: Plan) -> None:
    unpaired = getattr(reader, "unpaired", None)
    if unpaired:
        log.warning("%d file(s) have no RGB/depth partner and are left out, e.g. %s", len(unpaired), unpaired[:3])
    log.info(
        "%s %s: %d frames listed, %d selected -> %d shard(s) in %s",
        opts.source, reader.source_split, len(plan.items), len(plan.selected), len(plan.names), opts.output_dir,
    )  # fmt: skip


def _write_shards(
    opts: Options, reader: readers.Reader, plan: Plan, split_dir: str, todo: list[int], reused: int, markers: dict
) -> int:
    """Writes the shards numbered `todo` (adding their markers to `markers`); returns the frames read."""
    from depthnet.progress import progress_bar

    remaining = [item for k in todo for item in plan.shards[k]]
    pbar = progress_bar(
        total=len(plan.selected), initial=reused, unit="frame", desc=f"{opts.source}->{opts.split}",
        disable=not opts.progress, dynamic_ncols=True, smoothing=0.1,
    )  # fmt: skip
    # A reader that renders in worker processes has the cores busy: its frames are encoded here.
    encoders = 1 if reader.renders_in_parallel else opts.workers
    stream = shards.encoded(reader.iter_load(remaining), encoders, OUTPUT_DEPTH_SCALE)
    try:
        for k in todo:
            name = plan.names[k]
            markers[name] = shards.write_shard(
                split_dir, name, plan.shards[k], stream,
                digest=plan.digest, config=plan.config, inputs=plan.inputs[name], skip_bad=opts.skip_bad, pbar=pbar,
            )  # fmt: skip
    finally:
        pbar.close()
        close = getattr(stream, "close", None)
        if close:
            close()
    return len(remaining)


def _manifest(opts: Options, reader: readers.Reader, plan: Plan, markers: list[dict]) -> dict[str, Any]:
    """The split's manifest from its shards' markers; refuses a split where every input was bad."""
    if sum(m["num_frames"] for m in markers) == 0:
        skipped = [s for m in markers for s in m["skipped"]]
        first = f"{skipped[0]['file']}: {skipped[0]['error']}" if skipped else "none"
        raise SourceError(f"no frames written: all {len(plan.selected)} selected inputs were bad (first: {first})")
    manifest = shards.split_manifest(
        markers, source=opts.source, split=opts.split, source_split=reader.source_split, depth_scale=OUTPUT_DEPTH_SCALE
    )
    manifest.update(
        sampling={
            "candidates": len(plan.items),
            "selected": len(plan.selected),
            "max_frames_per_scene": opts.max_frames_per_scene,
            "max_frames": opts.max_frames,
            "order": f"shuffled (seed {opts.seed})" if plan.config["shuffle"] else "source order",
        },
        source_info=reader.describe(),
        flags=dict(plan.config, skip_bad=opts.skip_bad, check_depth=opts.check_depth),
        config=plan.config,
        config_digest=plan.digest,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        tool="depthnet-prepare",
    )
    return manifest
