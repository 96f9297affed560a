#!/usr/bin/env bash
# Manual smoke test (minutes; not run by CI): run deploy/install.sh itself inside a Debian
# bookworm arm64 root (emulated by qemu-user), its apt step included, then run the installed
# `edge-agent` as a Pi 4 (cortex-a72) and as a Pi Zero 2 W / Pi 3 (cortex-a53): `--version` and
# `check-config` of the shipped example. Catches missing aarch64 wheels and a broken install (the
# venv, its #! lines, the constraints).
#
# Not inference: onnxruntime crashes under qemu-user 7.2 (Debian bookworm's; "uncaught target
# signal 11", then a hang), even for one session on zeros. Detection on both CPUs is checked by
# tests/test_image_boot.py, which boots the whole image under qemu-system (EDGE_AGENT_CPU).
#
# Debian's packages stand in for Raspberry Pi OS's: install.sh's apt step runs (python3-venv),
# but python3-picamera2 is not in Debian, so the picamera2 import check and the camera module are
# not covered (README, install section).
#
#   sudo deploy/smoke-qemu.sh [WORKDIR] [--wheelhouse DIR]
#                            # needs: debootstrap systemd-container qemu-user-static binfmt-support
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
work=/var/tmp/edge-agent-smoke
wheelhouse=""
while [ $# -gt 0 ]; do
    case "$1" in
        --wheelhouse) wheelhouse=$(cd "$2" && pwd); shift 2 ;;
        -*) echo "unknown option: $1 (see the comment at the top of $0)" >&2; exit 2 ;;
        *) work=$1; shift ;;
    esac
done
cached="$work/rootfs-systemd"  # the name changes with what debootstrap includes
root="$work/run"
if [ "$(id -u)" -ne 0 ]; then
    echo "run me as root (debootstrap, systemd-nspawn)" >&2
    exit 1
fi
for tool in debootstrap systemd-nspawn; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] \
        || { echo "missing $tool: apt install debootstrap systemd-container qemu-user-static binfmt-support" >&2; exit 1; }
done
if [ "$(uname -m)" != aarch64 ] && ! grep -qs '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
    echo "arm64 programs cannot run here: apt install qemu-user-static binfmt-support" >&2
    exit 1
fi

if [ ! -e "$cached/.complete" ]; then
    rm -rf "$cached"
    debootstrap --arch=arm64 --variant=minbase --include=python3,ca-certificates,systemd bookworm "$cached" \
        http://deb.debian.org/debian
    touch "$cached/.complete"
fi
rm -rf "$root"
cp -a "$cached" "$root"
mkdir -p "$root/var/tmp/edge-agent"
(cd "$src" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$root/var/tmp/edge-agent")

# QEMU_CPU reaches the qemu-user that binfmt starts for every arm64 program in the root.
in_root() {
    local cpu=$1
    shift
    systemd-nspawn -q --register=no --keep-unit --resolv-conf=replace-host --setenv=QEMU_CPU="$cpu" \
        -D "$root" -- "$@"
}

args=(--no-start)
if [ -n "$wheelhouse" ]; then
    cp -r "$wheelhouse" "$root/var/tmp/wheelhouse"
    args+=(--wheelhouse /var/tmp/wheelhouse)
fi
echo "== install.sh ${args[*]} (cortex-a72)"
in_root cortex-a72 bash /var/tmp/edge-agent/deploy/install.sh "${args[@]}"

status=0
for cpu in cortex-a72 cortex-a53; do
    echo "== $cpu"
    if in_root "$cpu" /opt/edge-agent/venv/bin/edge-agent --version \
        && in_root "$cpu" /opt/edge-agent/venv/bin/edge-agent check-config \
            /etc/edge-agent/config.toml.example >/dev/null; then
        echo "== $cpu: ok"
    else
        echo "== $cpu: FAILED" >&2
        status=1
    fi
done
exit "$status"
