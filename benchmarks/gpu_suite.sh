#!/usr/bin/env bash
# Every GPU figure docs/benchmarks.md owes, in one run of at most 8 minutes (benchmarks/gpu_suite.py).
#
#   bash benchmarks/gpu_suite.sh --download-wheels     # where pip reaches an index: fill .whl/
#   bash benchmarks/gpu_suite.sh [--out DIR]           # on the GPU machine, .whl/ beside it
#   bash benchmarks/gpu_suite.sh --device cpu --tiny   # every step at tiny sizes, any machine
#   bash benchmarks/gpu_suite.sh --help                # all options
#
# The interpreter is $PYTHON if set, else the repository's .venv (make setup) if there is one,
# else python3. It needs torch; the suite installs the rest from .whl/ when it is missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -n "${PYTHON:-}" ]]; then
  python="$PYTHON"
elif [[ -x "$root/.venv/bin/python" ]]; then
  python="$root/.venv/bin/python"
else
  python=python3
fi
export PYTHONUNBUFFERED=1
if [[ "${1:-}" == "--download-wheels" ]]; then
  shift
  exec "$python" "$root/benchmarks/gpu_wheels.py" "$@"
fi
exec "$python" "$root/benchmarks/gpu_suite.py" "$@"
