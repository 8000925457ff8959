#!/usr/bin/env bash
# Install everything (Python packages, and Debian's chromium + CJK fonts for the browser
# tests), then run the test suite. Extra arguments go to pytest.
# Default: -m "not slow" (the slow set is large data: 1M+ lines, minutes). Any -m of yours
# replaces it: ./test.sh -m slow runs the slow set, ./test.sh -m "" runs everything.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install.sh test
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
      || echo "warning: could not install chromium/fonts-noto-cjk; browser tests will fail" >&2
  fi
fi
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False GRADIO_ANALYTICS_ENABLED=False
marks=(-m "not slow")
for arg in "$@"; do
  case "$arg" in -m|-m*) marks=() ;; esac
done
set +e
.venv/bin/python -m pytest "${marks[@]}" "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then echo "pytest collected no tests: that is a failure" >&2; exit 1; fi
exit "$rc"
