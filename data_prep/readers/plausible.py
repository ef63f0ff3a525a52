"""Is a converted depth map plausible for an indoor RGB-D set (NYU Depth V2, SUN RGB-D)?

Kinect-class sensors see 0.5-10 m (NYU caps depth at 10 m), so a frame whose median valid depth lies
beyond 10 m ("most values above the max depth") or under 0.1 m was decoded with the wrong unit or
encoding, e.g. a SUN RGB-D PNG read as plain millimetres gives 0.16-64 m (median 21 m) instead of
1.06-9.87 m. :func:`depth_problem` says what is wrong with such a frame's depth and (from the
reader's :meth:`~data_prep.readers.Reader.depth_hint`) which decoding would make it plausible; the
reader refuses the frame with it (a bad input: ``skip_bad`` skips it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import numpy as np

MAX_MEDIAN_M = 10.0  # NYU's depth cap; a median beyond it means most pixels lie beyond it
MIN_MEDIAN_M = 0.1  # under a Kinect's ~0.5 m minimum range by 5x: a unit error
MIN_VALID_SHARE = 0.01  # frames with fewer valid pixels are not judged


def depth_summary(depth_m: np.ndarray) -> Optional[tuple[float, float, float]]:
    """(min, median, max) of the valid (finite, > 0) depth; None when under 1% of the pixels are valid."""
    d = np.asarray(depth_m, np.float64)
    valid = d[np.isfinite(d) & (d > 0)]
    if valid.size < max(1, MIN_VALID_SHARE * d.size):
        return None
    return float(valid.min()), float(np.median(valid)), float(valid.max())


def plausible(summary: Optional[tuple[float, float, float]]) -> bool:
    return summary is None or MIN_MEDIAN_M <= summary[1] <= MAX_MEDIAN_M


def describe(summary: tuple[float, float, float]) -> str:
    lo, median, hi = summary
    return f"{lo:.2f}-{hi:.2f} m, median {median:.2f} m"


def depth_problem(depth_m: np.ndarray, hint: Callable[[], str] = lambda: "") -> Optional[str]:
    """What is implausible about a frame's depth for an indoor RGB-D set, or None when it is plausible."""
    summary = depth_summary(depth_m)
    if plausible(summary):
        return None
    side = "beyond" if summary[1] > MAX_MEDIAN_M else "under"
    limit = MAX_MEDIAN_M if summary[1] > MAX_MEDIAN_M else MIN_MEDIAN_M
    return (
        f"converted depth is implausible for indoor RGB-D ({describe(summary)}: median {side} {limit:g} m); "
        f"{hint() or 'check the depth unit of this source'}. Pass --nocheck_depth only if such depth is real."
    )
