"""The README's main job on the built-in default (no download needed)."""
from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    from depthnet import summary

    sys.argv = [sys.argv[0], "--config=full", "--backbone_weights=none"]
    summary.run()


if __name__ == "__main__":
    main()
