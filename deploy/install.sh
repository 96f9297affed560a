#!/usr/bin/env bash
# Turn Raspberry Pi OS Lite (64-bit, Bookworm or Trixie) or Debian (arm64) into an edge-agent
# pole, or upgrade one.
#
#   sudo deploy/install.sh                       # install from this source tree (online)
#   sudo deploy/install.sh --wheel FILE|URL      # install a built wheel (online)
#   sudo deploy/install.sh --wheelhouse DIR      # offline: every wheel needed (scripts/wheelhouse.sh)
#   options: --no-apt (packages already there), --no-start (image build: do not start services)
#
# Idempotent: run it again to upgrade. Each install is a venv built at its final path,
# /opt/edge-agent/venvs/<time>, and /opt/edge-agent/venv is a symlink to the one in use: nothing
# inside a venv ever moves, so its scripts' #! lines stay right. The symlink is switched only once
# the new venv runs (`edge-agent --version`, and `import picamera2` where python3-picamera2 is
# installed); a failed upgrade leaves the previous venv running, and `venv.previous` points to the
# one before for a roll-back. /etc/edge-agent (config, password) and the outbox are kept.
set -euo pipefail

PREFIX=/opt/edge-agent
# The group that may read /etc/edge-agent/config.toml (0640 root:GROUP): the agent's dynamic user
# gets it through SupplementaryGroups= in edge-agent.service.
CONFIG_GROUP=edge-agent-conf
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
if ! command -v systemctl >/dev/null; then
    echo "systemd is needed (no systemctl here): edge-agent runs as a systemd service; apt install systemd" >&2
    exit 1
fi

if [ "$apt" -eq 1 ]; then
    apt-get update -qq
    packages=(python3-venv)
    # picamera2 comes from Raspberry Pi's repository (Raspberry Pi OS); plain Debian has none.
    if apt-cache show python3-picamera2 >/dev/null 2>&1; then
        packages+=(python3-picamera2)
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
fi

# Exactly the versions of uv.lock, each file checked against its hash: requirements-pole.txt is
# the lock's export, for every Python the lock covers (numpy < 2 on Bookworm's Python 3.11, for
# its apt picamera2; numpy 2 on Trixie's 3.13), and pip picks the lines for this Pi's Python.
pins="$SRC/deploy/requirements-pole.txt"

install -d -m 0755 "$PREFIX" "$PREFIX/deploy" "$PREFIX/venvs"
new=$(mktemp -d "$PREFIX/venvs/$(date -u +%Y%m%dT%H%M%SZ)-XXXX")
chmod 0755 "$new"
swapped=0
cleanup() {
    if [ "$swapped" -eq 0 ]; then rm -rf "$new"; fi
}
trap cleanup EXIT

python3 -m venv --system-site-packages "$new"
pip=("$new/bin/python" -m pip install -q --disable-pip-version-check)
if [ -n "$wheelhouse" ]; then
    pip+=(--no-index --find-links "$wheelhouse")
fi
"${pip[@]}" --require-hashes -r "$pins"
if [ -n "$wheelhouse" ]; then
    "${pip[@]}" --no-deps edge-agent
elif [ -n "$wheel" ]; then
    "${pip[@]}" --no-deps "$wheel"
else
    "${pip[@]}" --no-deps "$SRC"
fi

# The checks run the installed command itself (its #! line included), at its final path.
works() {
    local venv=$1
    "$venv/bin/edge-agent" --version || return 1
    if dpkg-query -W -f='${Status}' python3-picamera2 2>/dev/null | grep -q 'ok installed'; then
        # picamera2 imports simplejpeg, which breaks when numpy's ABI does not match
        "$venv/bin/python" -c 'import picamera2' || return 1
    fi
}
if ! works "$new"; then
    echo "the new install does not run; the previous one is left in place" >&2
    exit 1
fi

# Swap: an atomic rename of a symlink. An older install kept a real venv directory here.
previous=$(readlink "$PREFIX/venv" 2>/dev/null || true)
if [ -d "$PREFIX/venv" ] && [ ! -L "$PREFIX/venv" ]; then
    rm -rf "$PREFIX/venv" "$PREFIX/venv.old" "$PREFIX/venv.new"
fi
ln -sfn "venvs/${new##*/}" "$PREFIX/venv.swap"
mv -T "$PREFIX/venv.swap" "$PREFIX/venv"
swapped=1
if ! works "$PREFIX/venv"; then
    echo "the new install does not run from $PREFIX/venv; rolling back" >&2
    if [ -n "$previous" ]; then
        ln -sfn "$previous" "$PREFIX/venv.swap"
        mv -T "$PREFIX/venv.swap" "$PREFIX/venv"
    fi
    rm -rf "$new"
    exit 1
fi
if [ -n "$previous" ]; then
    ln -sfn "$previous" "$PREFIX/venv.swap"
    mv -T "$PREFIX/venv.swap" "$PREFIX/venv.previous"
fi
# Keep only the venv in use and the one before it.
for dir in "$PREFIX"/venvs/*; do
    case "venvs/${dir##*/}" in
        "venvs/${new##*/}" | "$previous") ;;
        *) rm -rf "$dir" ;;
    esac
done

install -m 0755 "$SRC/deploy/provision.sh" "$SRC/deploy/record-failure.sh" "$PREFIX/deploy/"
install -m 0644 "$SRC/README.md" "$PREFIX/README.md"

getent group "$CONFIG_GROUP" >/dev/null || groupadd --system "$CONFIG_GROUP"
install -d -m 0755 /etc/edge-agent
install -m 0644 "$SRC/deploy/edge-agent.toml" /etc/edge-agent/config.toml.example
[ -e /etc/edge-agent/mqtt_password ] || install -m 0600 /dev/null /etc/edge-agent/mqtt_password
# An older install left the config world-readable (it may hold the camera's password).
if [ -e /etc/edge-agent/config.toml ]; then
    chown "root:$CONFIG_GROUP" /etc/edge-agent/config.toml
    chmod 0640 /etc/edge-agent/config.toml
fi
for f in config.toml.rejected config.rejected.txt mqtt_password; do
    if [ -e "/etc/edge-agent/$f" ]; then chmod 0600 "/etc/edge-agent/$f"; fi
done

# The journal lives in RAM only (capped): the SD card is spared the constant writes; a
# technician reads it while the pole runs, and the fleet's health is on the broker (stats).
# Why the agent last failed (and so why the Pi rebooted, after ten failures) is kept on the card
# in /var/log/edge-agent/last-failure.txt by record-failure.sh: a few kB, written only on a failure.
install -d -m 0755 /etc/systemd/journald.conf.d /var/log/edge-agent
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
echo "edge-agent installed in $PREFIX/venv -> venvs/${new##*/}"
