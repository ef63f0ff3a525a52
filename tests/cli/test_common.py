"""depthnet/cli/common.py: the tools' default output carries no TensorFlow / absl INFO chatter."""

import re
import sys

from helpers import random_frames, run_cli

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
