"""What decides "already done": which finished shards a run may keep, and when a split is complete.

A shard is kept only when its ``.done`` marker says it was made by this run's options and frame list
(``config_digest``), from input files of the same sizes and modification times (``inputs``, see
:func:`data_prep.plan.inputs_fingerprint`), without frames skipped by ``skip_bad`` unless this run
skips bad inputs too, and when the file still has the marker's size and sha256. A split is complete
when its manifest is this run's and every shard is kept. An output made with other options is
refused (pass ``overwrite``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from typing import Optional

from data_prep import shards
from data_prep.shards import DONE_SUFFIX, TMP_SUFFIX, OutputExistsError, read_json, sha256_file
from depthnet.data import records

log = logging.getLogger("depthnet.prepare")

_REFUSE = (
    "{dir} already holds a different conversion ({why}). Pass --overwrite to replace it, or use another --output_dir."
)


@dataclasses.dataclass
class Expected:
    """What this run would write: shard names, the digest of options + frame list, input fingerprints."""

    names: Sequence[str]
    digest: str
    config: dict
    inputs: dict[str, str]  # shard name -> fingerprint of its input files
    skip_bad: bool = False


def flag_diff(old: Optional[dict], new: dict) -> str:
    """What differs between the options an output was made with and this run's."""
    if not isinstance(old, dict):
        return "it was not made by this version of depthnet-prepare"
    keys = sorted(set(old) | set(new))
    diffs = [f"--{k}: {old.get(k)!r} before, {new.get(k)!r} now" for k in keys if old.get(k) != new.get(k)]
    return "; ".join(diffs) if diffs else "the frame list differs (the input's files changed)"


def refuse(split_dir: str, why: str) -> OutputExistsError:
    return OutputExistsError(_REFUSE.format(dir=split_dir, why=why))


def marker_problem(
    split_dir: str, shard: str, exp: Expected, marker: Optional[dict] = None, expect_sha: Optional[str] = None
) -> Optional[str]:
    """Why `shard` must be rewritten, or None when it can be kept."""
    marker = marker or read_json(os.path.join(split_dir, shard + DONE_SUFFIX))
    path = os.path.join(split_dir, shard)
    if not marker or marker.get("config_digest") != exp.digest or not os.path.exists(path):
        return "missing"
    if marker.get("inputs") != exp.inputs.get(shard):
        return "its input files changed (size or modification time) since it was written"
    if marker.get("skipped") and not exp.skip_bad:
        first = marker["skipped"][0]["file"]
        return f"{len(marker['skipped'])} input(s) were skipped by --skip_bad (e.g. {first}); retrying them"
    if os.path.getsize(path) != marker.get("bytes") or (expect_sha and expect_sha != marker.get("sha256")):
        return "the file changed on disk"
    if sha256_file(path)[0] != marker.get("sha256"):
        return "the file does not match its .done marker (sha256)"
    return None


def check_complete(split_dir: str, exp: Expected) -> tuple[Optional[dict], dict[str, dict], dict[str, str]]:
    """For a split with a manifest: (the manifest when complete, else None; the shards that can be kept
    {name: marker}; the others {name: why}). Refuses a manifest of another conversion. Changes nothing."""
    manifest = read_json(os.path.join(split_dir, records.MANIFEST_NAME))
    if manifest is None or manifest.get("config_digest") != exp.digest:
        raise refuse(split_dir, flag_diff((manifest or {}).get("config"), exp.config))
    listed = {s["file"]: s.get("sha256") for s in manifest.get("shards", [])}
    keep, problems = {}, {}
    for name in exp.names:
        marker = read_json(os.path.join(split_dir, name + DONE_SUFFIX))
        why = marker_problem(split_dir, name, exp, marker, listed.get(name)) if name in listed else "missing"
        if why is None:
            keep[name] = marker
        else:
            problems[name] = why
    return (manifest if not problems else None), keep, problems


def check_existing(
    split_dir: str, split: str, exp: Expected, known: Optional[dict[str, dict]] = None
) -> tuple[Optional[dict], dict[str, dict]]:
    """For the folder a run writes into: (its manifest when complete, the shards that can be kept).
    Refuses another conversion's files; deletes a stale manifest. `known`: markers already checked."""
    files = shards.our_files(split_dir, split)
    if records.MANIFEST_NAME in files:
        complete, keep, problems = check_complete(split_dir, exp)
        if complete is not None:
            return complete, keep
        log.warning("%s: manifest present but some shards are missing or changed; rewriting those", split_dir)
        shards.remove(os.path.join(split_dir, records.MANIFEST_NAME))
    markers = dict(known or {})
    for name in files:
        if name.endswith(TMP_SUFFIX) or name.startswith(records.MANIFEST_NAME):
            continue
        shard = name[: -len(DONE_SUFFIX)] if name.endswith(DONE_SUFFIX) else name
        if shard not in exp.names:
            raise refuse(split_dir, f"{name} is not one of this run's {len(exp.names)} shards")
        if name.endswith(DONE_SUFFIX) and shard not in markers:
            marker = read_json(os.path.join(split_dir, name))
            if marker is not None and marker.get("config_digest") != exp.digest:
                raise refuse(split_dir, flag_diff(marker.get("config"), exp.config))
            why = marker_problem(split_dir, shard, exp, marker=marker) if marker is not None else "missing"
            if why is None:
                markers[shard] = marker
            elif why != "missing":
                log.warning("%s: rewriting %s: %s", split_dir, shard, why)
    return None, markers
