"""Output names of `depthnet-predict`: one unique stem per input, never onto an input or an existing file.

The rule (:func:`assign_stems`), decided for the whole run before anything is written:

1. every input keeps its own stem (file name without extension) when no earlier input has it, so
   `a_2.png` stays `a_2` even when `a.jpg` and `a.png` are given too;
2. a repeated stem gets the first free `_2`, `_3`, ... (`a.jpg` -> `a`, `a_2.png` -> `a_2`, `a.png` -> `a_3`);
3. a stem is not free when any of its output files is another stem's output or an input file of this
   run (e.g. `scene_depth.png` beside `scene.png` with `--output_dir` the input folder): outputs never
   land on an input, even with `overwrite`.

:func:`refuse_existing` then refuses output files that already exist (a previous run's, or anything
else) unless `overwrite` is given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

from depthnet.errors import InputError

OutputsOf = Callable[[str], Iterable[str]]


def _key(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def assign_stems(inputs: Sequence[str], outputs_of: OutputsOf) -> list[str]:
    """One output stem per input (module docstring); `outputs_of(stem)` lists the files a stem writes."""
    protected = {_key(p) for p in inputs}
    taken_files: set[str] = set()
    used: set[str] = set()

    def free(stem: str) -> bool:
        files = {_key(p) for p in outputs_of(stem)}
        return stem not in used and not (files & protected) and not (files & taken_files)

    def take(stem: str) -> str:
        used.add(stem)
        taken_files.update(_key(p) for p in outputs_of(stem))
        return stem

    stems: list[str | None] = [None] * len(inputs)
    natural = [_stem(p) for p in inputs]
    for i, stem in enumerate(natural):  # first come keeps its own name
        if stem not in used and free(stem):
            stems[i] = take(stem)
    reserved = set(natural)  # an input's own name is never handed to another input
    for i, stem in enumerate(natural):
        if stems[i] is not None:
            continue
        n = 2
        while f"{stem}_{n}" in reserved or not free(f"{stem}_{n}"):
            n += 1
        stems[i] = take(f"{stem}_{n}")
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
