#!/usr/bin/env bash
# Install everything, build the demo knowledge base if absent, and serve the chat app
# on http://127.0.0.1:7860.  Extra arguments go to `guanxi start` (e.g. --workspace DIR --port P).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install.sh
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False GRADIO_ANALYTICS_ENABLED=False
exec .venv/bin/guanxi start "$@"
