"""Output names of `depthnet-predict`: one unique stem per input, never onto an input or another output.

The rule (:func:`assign_stems`), decided for the whole run before anything is written:

1. every input keeps its own stem (file name without extension) when no earlier input took its outputs,
   so `a_2.png` stays `a_2` even when `a.jpg` and `a.png` are given too;
2. a stem whose outputs are taken gets the first free `_2`, `_3`, ... (`a.jpg` -> `a`, `a_2.png` -> `a_2`,
   `a.png` -> `a_3`; two videos `a/clip.mp4`, `b/clip.mp4` -> `clip`, `clip_2`);
3. a stem is not free when any of its outputs is another input's output, the run's predictions.json, an
   input file of this run (e.g. `scene_depth.png` beside `scene.png` with `--output_dir` the input folder),
   or, for a folder output, a folder holding an input: outputs never land on an input, even with
   `overwrite`. An image and a video of one stem (`clip.png`, `clip.mp4`) write different files and both
   keep it.

:func:`refuse_existing` then refuses output files that already exist (a previous run's, or anything
else) unless `overwrite` is given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence

from depthnet.errors import InputError

PathsOf = Callable[[int, str], tuple[Mapping[str, str], Mapping[str, str]]]


def key(path: str) -> str:
    """The one spelling of a path that two names of one file share."""
    return os.path.normcase(os.path.realpath(path))


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _ancestors(path: str) -> set[str]:
    out, parent = set(), os.path.dirname(path)
    while parent and parent not in out and parent != os.path.dirname(parent):
        out.add(parent)
        parent = os.path.dirname(parent)
    return out


def assign_stems(inputs: Sequence[str], paths_of: PathsOf, reserved: Iterable[str] = ()) -> list[str]:
    """One output stem per input (module docstring). `paths_of(i, stem)` gives (files, folders) that input i
    writes under `stem`; `reserved` paths are the run's other outputs (predictions.json)."""
    protected = {key(p) for p in inputs}
    holding = set().union(*(_ancestors(k) for k in protected))  # a folder output never holds an input
    taken: set[str] = {key(p) for p in reserved}

    def outputs(i: int, stem: str) -> tuple[list[str], list[str]]:
        files, folders = paths_of(i, stem)
        return [key(p) for p in files.values()], [key(p) for p in folders.values()]

    def free(i: int, stem: str) -> bool:
        files, folders = outputs(i, stem)
        paths = files + folders
        return len(set(paths)) == len(paths) and not (set(paths) & (protected | taken) or set(folders) & holding)

    def take(i: int, stem: str) -> str:
        taken.update(sum(outputs(i, stem), []))
        return stem

    stems: list[str | None] = [None] * len(inputs)
    natural = [_stem(p) for p in inputs]
    for i, stem in enumerate(natural):  # first come keeps its own name
        if free(i, stem):
            stems[i] = take(i, stem)
    reserved_stems = set(natural)  # an input's own name is never handed to another input
    for i, stem in enumerate(natural):
        if stems[i] is not None:
            continue
        n = 2
        while f"{stem}_{n}" in reserved_stems or not free(i, f"{stem}_{n}"):
            n += 1
        stems[i] = take(i, f"{stem}_{n}")
    return [s for s in stems if s is not None]


def refuse_existing(paths: Iterable[str], overwrite: bool, what_to_do: str = "") -> None:
    """Raises InputError naming the output files that already exist, unless `overwrite`."""
    if overwrite:
        return
    existing = sorted({p for p in paths if os.path.lexists(p)})
    if existing:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise InputError(
            f"{len(existing)} output file(s) already exist ({shown}); nothing was written. "
            f"replace them with overwrite=True (depthnet-predict --overwrite){what_to_do}, or choose another "
            f"output folder"
        )
