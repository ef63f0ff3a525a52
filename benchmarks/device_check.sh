#!/usr/bin/env bash
# One-shot accelerator check of DepthNet: training steps (fp32, bf16, fp16 + loss scaling; XLA off/on),
# inference fps at batch 1 and 8 (240x320, the paper's ~15 fps), peak memory, tf.data throughput.
# One JSON out (--output, default device_check.json; also printed). No network needed.
#
#   benchmarks/device_check.sh                 # on a GPU machine, under 8 minutes
#   benchmarks/device_check.sh --cpu-smoke     # anywhere, tiny network at 64x96 (CI runs this)
#
# Everything else (--budget_s, --precisions, --xla, --sections): benchmarks/device_check.py --help.
# PYTHON picks the interpreter (default: the repository's .venv, else python3). A hard limit of
# DEVICE_CHECK_TIMEOUT seconds (default 480 = 8 minutes) stops the run; the JSON keeps what was measured.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
exec timeout --signal=INT --kill-after=20 "${DEVICE_CHECK_TIMEOUT:-480}" \
  "$PYTHON" "$ROOT/benchmarks/device_check.py" "$@"
