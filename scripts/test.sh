#!/usr/bin/env bash
# Install edge-agent with its test tools into .venv, then lint and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
. scripts/common.sh
# The real parts the tests start themselves: a broker, PostgreSQL (initdb in a temp folder), a
# Debian root booted with systemd-nspawn.
need_apt mosquitto mosquitto shellcheck shellcheck openssl openssl systemd-analyze systemd \
    pg_ctlcluster postgresql systemd-nspawn systemd-container debootstrap debootstrap \
    chromium chromium ssh-keygen openssh-client
ensure_venv station dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest "$@"
