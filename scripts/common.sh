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

# Create .venv (Python >= 3.11) and install the project into it with the given extras.
ensure_venv() {
    local extras="${1:-}"
    local py="${PYTHON:-python3}"
    if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "edge-agent needs Python 3.11 or newer; found: $("$py" --version 2>&1)" >&2
        exit 1
    fi
    if [ ! -x .venv/bin/python ]; then
        if ! "$py" -m venv .venv >/dev/null 2>&1; then
            rm -rf .venv
            need_apt dummy-command-never-found python3-venv
            "$py" -m venv .venv
        fi
    fi
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".${extras}"
}
