"""What every command-line tool shares: start-up quieting, flag parsing, one `error:` line per failure.

    def main(argv) -> int: ...
    def run() -> None:
        common.run(main, define_flags)

Exit statuses are those of :mod:`depthnet.errors` (0 ok, 1 some inputs failed, 2 usage or bad input,
3 non-finite loss). Expected failures (a :class:`depthnet.errors.DepthNetError`, a missing or
unreadable file, a bad value) print `<tool>: error: <message>`; `--verbose` adds the traceback.
`--help` (or `--helpshort`) prints the tool's docstring and its own flags with their defaults, `--helpfull`
every flag (absl's too); both on stdout, exit status 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Optional, Union

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags

from depthnet import errors

EXPECTED_ERRORS = (errors.DepthNetError, OSError, ValueError)


class UsageError(errors.DepthNetError):
    """Flags that do not fit together; exits with status 2."""


def tool_name() -> str:
    return os.path.basename(sys.argv[0]) or "depthnet"


def fail(message: str, exit_code: int = errors.EXIT_USAGE) -> int:
    """Prints one `<tool>: error: <message>` line; returns `exit_code` for `main` to return."""
    print(f"{tool_name()}: error: {message}", file=sys.stderr, flush=True)
    return exit_code


def _define_common_flags() -> None:
    if "verbose" not in flags.FLAGS:
        flags.DEFINE_boolean("verbose", False, "Show tracebacks of errors (and TensorFlow's INFO logs).")


def _parse_flags(argv: Sequence[str]) -> list[str]:
    try:
        return flags.FLAGS(list(argv))
    except flags.Error as e:
        sys.exit(fail(f"{e} (see {tool_name()} --help)"))


class _HelpFlag(flags.BooleanFlag):
    """A help flag that prints `render()` on stdout and exits 0.

    absl's own --help/--helpshort print the flags of `__main__` (under a console script that is setuptools'
    wrapper: no docstring, no flags) and exit 1, as does --helpfull; these replace them (allow_override)."""

    def __init__(self, name: str, text: str, render: Callable[[], str], short_name: Optional[str] = None):
        super().__init__(name, False, text, short_name=short_name, allow_override=True, allow_hide_cpp=True)
        self._render = render

    def parse(self, argument) -> None:
        if self._parse(argument):
            try:
                print(self._render(), flush=True)
            except BrokenPipeError:  # `depthnet-eval --help | head`
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(errors.EXIT_OK)


def _define_help_flags(module_name: str) -> None:
    """--help/-?/--helpshort: the docstring of the tool's module `module_name` and the flags it and this harness
    defined (each with its default); --helpfull: every flag. Call after the tool's flags are defined."""
    fv, tool = flags.FLAGS, tool_name()
    for flag in fv.get_flags_for_module(module_name) + fv.get_flags_for_module(__name__):
        fv.register_key_flag_for_module(tool, flag)
    doc = (getattr(sys.modules.get(module_name), "__doc__", None) or f"USAGE: {tool} [flags]").strip()

    def short() -> str:
        return f"{doc}\n\nflags:\n{fv.module_help(tool)}\n\nTry --helpfull to get a list of all flags."

    def full() -> str:
        return f"{doc}\n\nflags:\n{fv.get_help()}"

    app.define_help_flags()  # absl's (idempotent: app.run's own call then does nothing), replaced here
    for name, text, render, short_name in (
        ("help", "show this help (the tool's own flags)", short, "?"),
        ("helpshort", "alias for --help", short, None),
        ("helpfull", "show full help (every flag)", full, None),
    ):
        flags.DEFINE_flag(_HelpFlag(name, text, render, short_name), module_name=app.__name__)


# TensorFlow 2.21's C++ start-up lines: absl logging before absl::InitializeLog() goes to stderr whatever
# TF_CPP_MIN_LOG_LEVEL says (oneDNN note, "Could not find cuda drivers", CPU feature note, cuInit).
_STARTUP_CHATTER = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\)"
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
    r"|E\d{4} \d\d:\d\d:\d+\.\d+ +\d+ cuda_\w+\.cc:\d+\] failed call to cuInit"
    r"|To enable the following instructions: "
)


@contextlib.contextmanager
def quiet_native_stderr(patterns: Union[str, re.Pattern, Sequence[Union[str, re.Pattern]]]) -> Iterator[None]:
    """Holds back, inside the block, the stderr lines (of C/C++ code too: file descriptor 2 is redirected) that
    match one of `patterns` (`re.match`, at the line's start); the other lines are written out after the block.

        with common.quiet_native_stderr(r"INFO: Created TensorFlow Lite XNNPACK delegate"):
            interpreter = Interpreter(model_path=path)
    """
    if isinstance(patterns, (str, re.Pattern)):
        patterns = [patterns]
    compiled = [re.compile(p) for p in patterns]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode("utf-8", "replace").splitlines()
            kept = [line for line in lines if not any(p.match(line) for p in compiled)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow and finds its devices with its C++ start-up chatter held back (other lines pass).

    Also the initializer of depthnet-prepare's encoding processes (:data:`data_prep.workers.TENSORFLOW_IMPORT`)."""
    if "tensorflow" in sys.modules:
        return
    with quiet_native_stderr(_STARTUP_CHATTER):
        import tensorflow as tf

        tf.config.list_physical_devices()


class _ToolLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        return f"{tool_name()}: {level}{record.getMessage()}"


def log_to_stderr(logger_name: str, level: int = logging.INFO) -> None:
    """The records of logger `logger_name` from `level` up as `<tool>: <message>` lines on stderr
    (`<tool>: warning: <message>` from WARNING up), instead of absl's `I1204 18:43:59.298 ... file.py:184]`."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(h.formatter, _ToolLines) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_ToolLines())
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def _quiet_tensorflow() -> None:
    """Without --verbose: no C++ start-up lines, and absl / TensorFlow Python logs from WARNING up only
    (e.g. no `functional_saver.py ... Sharding callback duration` INFO line at each checkpoint)."""
    from absl import logging as absl_logging

    if not flags.FLAGS.verbose:
        import_tensorflow_quietly()
        absl_logging.set_verbosity(absl_logging.WARNING)
        logging.getLogger("tensorflow").setLevel(logging.WARNING)


def guarded(main: Callable[[list[str]], Optional[int]]) -> Callable[[list[str]], int]:
    """Wraps `main`: expected failures become one `error:` line and their exit status."""

    def wrapped(argv: list[str]) -> int:
        _quiet_tensorflow()
        try:
            return int(main(argv) or 0)
        except KeyboardInterrupt:
            return fail("interrupted", 130)
        except app.UsageError as e:
            return fail(str(e), errors.EXIT_USAGE)
        except EXPECTED_ERRORS as e:
            if flags.FLAGS.verbose:
                traceback.print_exc()
            return fail(str(e) or type(e).__name__, getattr(e, "exit_code", errors.EXIT_USAGE))

    return wrapped


def run(main: Callable[[list[str]], Optional[int]], define_flags: Callable[[], None]) -> None:
    """Defines the tool's flags (once), parses them and runs `main` under :func:`guarded`."""
    define_flags()
    _define_common_flags()
    _define_help_flags(main.__module__)
    app.run(guarded(main), flags_parser=_parse_flags)


# ---------------------------------------------------------------------------------------------- model source


def define_model_flags(saved_model: bool = True) -> None:
    """--model_dir / --checkpoint / --precision (and --saved_model): where a tool's model comes from."""
    flags.DEFINE_string("model_dir", None, "A depthnet-train model_dir (restored with --checkpoint).")
    flags.DEFINE_string(
        "checkpoint", "best", "With --model_dir: best (best validation abs_rel), latest, or a checkpoint prefix."
    )
    flags.DEFINE_string("precision", "fp32", "With --model_dir: fp32 or bf16 (Keras mixed precision).")
    if saved_model:
        flags.DEFINE_string("saved_model", None, "A SavedModel written by depthnet-export (instead of --model_dir).")


def no_extra_args(argv: Sequence[str], hint: str = "") -> None:
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments {list(argv[1:])}{hint}")
