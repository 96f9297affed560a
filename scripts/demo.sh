#!/usr/bin/env bash
# Install edge-agent into .venv and run the demo: the bundled clip through a local mosquitto.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
. scripts/common.sh
ensure_venv ""
exec .venv/bin/edge-agent demo --out demo-output "$@"
