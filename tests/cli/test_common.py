"""depthnet/cli/common.py: the tools' default output carries no TensorFlow / absl INFO chatter."""

import re
import sys

from helpers import REPO, random_frames, run_cli

from data_prep import write_frames

# absl C++ lines before InitializeLog (oneDNN, cuda drivers, cuInit) and absl Python INFO lines.
CHATTER = re.compile(r"absl::InitializeLog|^[IWE]\d{4} |Sharding callback duration|functional_saver", re.M)


def test_training_tool_prints_no_startup_or_checkpoint_chatter_unless_verbose(tmp_path):
    write_frames(random_frames(4, 0), str(tmp_path / "data" / "train"))
    write_frames(random_frames(2, 1), str(tmp_path / "data" / "test"))
    args = [
        sys.executable,
        "-m",
        "depthnet.cli.train",
        "--config=tiny",
        f"--data_dir={tmp_path / 'data'}",
        "--train_steps=2",
        "--batch_size=2",
        "--eval_every=2",
        "--log_every=1",
        "--checkpoint_every=1",  # two checkpoint saves: absl logs `Sharding callback duration` at INFO for each
    ]
    quiet = run_cli(args + [f"--model_dir={tmp_path / 'quiet'}"])
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert not CHATTER.search(quiet.stderr), quiet.stderr[-3000:]
    assert "step 2/2" in quiet.stdout
    # The same run with --verbose shows what the default output holds back.
    verbose = run_cli(args + [f"--model_dir={tmp_path / 'verbose'}", "--verbose"])
    assert verbose.returncode == 0, verbose.stderr[-3000:]
    assert "Sharding callback duration" in verbose.stderr and "absl::InitializeLog" in verbose.stderr


def test_quiet_native_stderr_holds_back_matching_lines_of_c_code_and_keeps_the_others():
    """Issue 26 item 10: LiteRT's C++ `INFO: Created TensorFlow Lite XNNPACK delegate for CPU.` is written to file
    descriptor 2, past sys.stderr; the context manager filters it and passes every other line, in order."""
    import subprocess

    code = (
        "import os, re, sys\n"
        "from depthnet.cli.common import quiet_native_stderr\n"
        "with quiet_native_stderr([r'INFO: Created TensorFlow Lite XNNPACK delegate', re.compile(r'I\\d{4} ')]):\n"
        "    os.write(2, b'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\nkeep: one\\n')\n"
        "    os.write(2, b'I0000 00:00:1796409836.360094   30585 port.cc:153] oneDNN custom operations are on.\\n')\n"
        "    print('keep: two', file=sys.stderr)\n"
        "print('after', file=sys.stderr)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stderr == "keep: one\nkeep: two\nafter\n", res.stderr
