"""Progress bars that suit where they are written: live on a terminal, sparse in a log file.

tqdm redraws up to ten times a second; on a terminal that is one line, but redirected to a file or a
CI log every redraw is kept (about 110 KB for one `make run`). Off a terminal the bar here redraws at
most every :data:`LOG_INTERVAL_SECONDS`, so a log keeps the start, a line every half minute and the end.
"""

from __future__ import annotations

import sys
from typing import Any

LOG_INTERVAL_SECONDS = 30.0


def _on_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def progress_bar(iterable: Any = None, **kwargs: Any):
    """`tqdm(iterable, **kwargs)`, redrawn at most every 30 s when its stream (stderr) is not a terminal."""
    from tqdm import tqdm

    stream = kwargs.get("file") or sys.stderr
    if not _on_terminal(stream):
        kwargs.setdefault("mininterval", LOG_INTERVAL_SECONDS)
        kwargs.setdefault("maxinterval", LOG_INTERVAL_SECONDS)
    return tqdm(iterable, **kwargs)
