#!/usr/bin/env bash
# Helpers shared by scripts/demo.sh and scripts/test.sh: a project venv and Debian packages.
# shellcheck shell=bash

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Install Debian packages that are missing (by the command they provide).
# Usage: need_apt COMMAND PACKAGE [COMMAND PACKAGE ...]
need_apt() {
    local missing=()
    while [ $# -ge 2 ]; do
        if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$1" ]; then
            missing+=("$2")
        fi
        shift 2
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# Debian packages by name, for parts that are libraries rather than commands (GStreamer's RTSP
# server for the test camera): installed when dpkg does not have them.
need_deb() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# uv, the lock's tool, at the version the lock names, into .tools/ (pip with --require-hashes:
# scripts/uv-requirements.txt is exported from uv.lock itself). Prints the path of the uv binary.
ensure_uv() {
    local py="${PYTHON:-python3}"
    local want
    want=$(sed -n 's/^uv==\([0-9.]*\).*/\1/p' scripts/uv-requirements.txt)
    if [ -x .tools/bin/uv ] && [ "$(.tools/bin/uv --version 2>/dev/null | cut -d' ' -f2)" = "$want" ]; then
        echo .tools/bin/uv
        return
    fi
    rm -rf .tools
    if ! "$py" -m venv .tools >/dev/null 2>&1; then
        rm -rf .tools
        need_apt dummy-command-never-found python3-venv >&2
        "$py" -m venv .tools >&2
    fi
    PIP_CONFIG_FILE=/dev/null .tools/bin/python -m pip install -q --disable-pip-version-check \
        --require-hashes -r scripts/uv-requirements.txt >&2
    echo .tools/bin/uv
}

# Create or update .venv (Python >= 3.11) with exactly what uv.lock pins, the project itself
# installed editable, with the given extras. Usage: ensure_venv [EXTRA ...]
ensure_venv() {
    local py="${PYTHON:-python3}"
    if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "edge-agent needs Python 3.11 or newer; found: $("$py" --version 2>&1)" >&2
        exit 1
    fi
    local uv extras=()
    uv=$(ensure_uv)
    for extra in "$@"; do extras+=(--extra "$extra"); done
    # --locked: install the lock as it is, never re-resolve; a lock out of step with
    # pyproject.toml fails here (scripts/upgrade-deps.sh moves it).
    UV_PYTHON_DOWNLOADS=never "$uv" sync --quiet --locked --python "$(command -v "$py")" "${extras[@]}"
}
