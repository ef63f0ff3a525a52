"""Progress bars: live on a terminal, a few lines in a log file."""

import io
import time

from depthnet.progress import progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(stream: io.StringIO, steps: int = 120, pause: float = 0.01) -> str:
    bar = progress_bar(total=steps, file=stream, desc="work")
    for _ in range(steps):  # ~1.2 s of work
        time.sleep(pause)
        bar.update(1)
    bar.close()
    return stream.getvalue()


def test_a_bar_written_to_a_log_keeps_only_its_start_and_end():
    text = _run(io.StringIO())
    assert text.count("\r") <= 2, text  # tqdm's first draw and the final one
    assert "120/120" in text


def test_a_bar_on_a_terminal_redraws_as_it_goes():
    text = _run(_Terminal())
    assert text.count("\r") >= 5, text
    assert "120/120" in text
