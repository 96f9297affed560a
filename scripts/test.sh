#!/usr/bin/env bash
# Install edge-agent with its test tools into .venv, then lint and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
. scripts/common.sh
# The real parts the tests start themselves: a broker, PostgreSQL (initdb in a temp folder), a
# Debian root booted with systemd-nspawn, a live RTSP camera (GStreamer's server, fed a clip
# ffmpeg encoded).
need_apt mosquitto mosquitto shellcheck shellcheck openssl openssl systemd-analyze systemd \
    pg_ctlcluster postgresql systemd-nspawn systemd-container debootstrap debootstrap \
    chromium chromium ssh-keygen openssh-client ffmpeg ffmpeg
need_deb gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
    gstreamer1.0-plugins-good gstreamer1.0-plugins-bad python3-gi
ensure_venv station dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest "$@"
