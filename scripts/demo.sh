#!/usr/bin/env bash
# Install edge-agent (with its ward station) into .venv and run the demo: the bundled clip through
# a local mosquitto into a local station, whose web pages stay up until Ctrl-C; the station mails
# the demo's alarm to a local mailbox (demo-output/mailbox/).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
. scripts/common.sh
ensure_venv station demo
exec .venv/bin/edge-agent demo --out demo-output "$@"
