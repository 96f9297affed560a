#!/usr/bin/env bash
# Turn Raspberry Pi OS Lite (64-bit, Bookworm or Trixie) into an edge-agent pole, or upgrade one.
#
#   sudo deploy/install.sh                       # install from this source tree (online)
#   sudo deploy/install.sh --wheel FILE|URL      # install a built wheel (online)
#   sudo deploy/install.sh --wheelhouse DIR      # offline: every wheel needed, for aarch64
#   options: --no-apt (packages already there), --no-start (image build: do not start services)
#
# Idempotent: run it again to upgrade. The new venv is built beside the running one and swapped
# in only once it works (`edge-agent --version`); a failed upgrade leaves the previous venv
# running. /etc/edge-agent (config, password) and /var/lib/edge-agent (outbox) are kept.
set -euo pipefail

PREFIX=/opt/edge-agent
SRC=$(cd "$(dirname "$0")/.." && pwd)
wheel=""
wheelhouse=""
apt=1
start=1
while [ $# -gt 0 ]; do
    case "$1" in
        --wheel) wheel=$2; shift 2 ;;
        --wheelhouse) wheelhouse=$2; shift 2 ;;
        --no-apt) apt=0; shift ;;
        --no-start) start=0; shift ;;
        *) echo "unknown option: $1 (see the comment at the top of $0)" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" -ne 0 ]; then
    echo "run me as root: sudo $0" >&2
    exit 1
fi

if [ "$apt" -eq 1 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-picamera2 python3-venv
fi

# numpy and OpenCV must suit the apt picamera2 of this release (same interpreter).
codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release)
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
case "$codename" in
    bookworm) printf 'numpy<2\nopencv-python-headless<4.11\n' >"$constraints" ;;
    *) : >"$constraints" ;;
esac

install -d -m 0755 "$PREFIX" "$PREFIX/deploy"
rm -rf "$PREFIX/venv.new"
python3 -m venv --system-site-packages "$PREFIX/venv.new"
pip=("$PREFIX/venv.new/bin/python" -m pip install -q -c "$constraints")
if [ -n "$wheelhouse" ]; then
    "${pip[@]}" --no-index --find-links "$wheelhouse" edge-agent
elif [ -n "$wheel" ]; then
    "${pip[@]}" "$wheel"
else
    "${pip[@]}" "$SRC"
fi
if ! "$PREFIX/venv.new/bin/edge-agent" --version; then
    echo "the new install does not run; the previous one is left in place" >&2
    rm -rf "$PREFIX/venv.new"
    exit 1
fi

# Swap: the old venv is kept as venv.old for a manual roll-back.
if [ -d "$PREFIX/venv" ]; then
    rm -rf "$PREFIX/venv.old"
    mv "$PREFIX/venv" "$PREFIX/venv.old"
fi
mv "$PREFIX/venv.new" "$PREFIX/venv"

install -m 0755 "$SRC/deploy/provision.sh" "$PREFIX/deploy/provision.sh"
install -m 0644 "$SRC/README.md" "$PREFIX/README.md"
install -d -m 0755 /etc/edge-agent
install -m 0644 "$SRC/deploy/edge-agent.toml" /etc/edge-agent/config.toml.example
[ -e /etc/edge-agent/mqtt_password ] || install -m 0600 /dev/null /etc/edge-agent/mqtt_password

# The journal lives in RAM only (capped): the SD card is spared the constant writes; a
# technician reads it while the pole runs, and the fleet's health is on the broker (stats).
install -d -m 0755 /etc/systemd/journald.conf.d
printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=48M\n' >/etc/systemd/journald.conf.d/edge-agent.conf

install -m 0644 "$SRC/systemd/edge-agent.service" "$SRC/systemd/edge-agent-provision.service" \
    /etc/systemd/system/
systemctl enable edge-agent-provision.service edge-agent.service  # works in an image chroot too
if [ "$start" -eq 1 ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl restart systemd-journald
    if [ -e /etc/edge-agent/config.toml ]; then
        systemctl restart edge-agent.service
    else
        echo "now write /etc/edge-agent/config.toml (see config.toml.example) and: systemctl start edge-agent"
    fi
fi
echo "edge-agent installed in $PREFIX/venv"
