#!/usr/bin/env bash
# Manual smoke test (minutes; not run by CI): install edge-agent into a Debian bookworm arm64
# root filesystem and run it under qemu-user as a Pi 4 (cortex-a72) and a Pi Zero 2 W / Pi 3
# (cortex-a53). Catches missing aarch64 wheels and illegal-instruction crashes (onnxruntime
# < 1.22 dies with SIGILL on a Pi 4).
#
#   sudo deploy/smoke-qemu.sh [WORKDIR]      # needs: debootstrap qemu-user-static binfmt-support
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/var/tmp/edge-agent-smoke}
root="$work/rootfs"
if [ "$(id -u)" -ne 0 ]; then
    echo "run me as root (debootstrap, chroot)" >&2
    exit 1
fi
for tool in debootstrap qemu-aarch64-static; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt install debootstrap qemu-user-static binfmt-support" >&2; exit 1; }
done

if [ ! -x "$root/usr/bin/python3" ]; then
    debootstrap --arch=arm64 --include=python3,python3-venv,ca-certificates bookworm "$root" \
        http://deb.debian.org/debian
fi
install -m 0755 "$(command -v qemu-aarch64-static)" "$root/usr/bin/qemu-aarch64-static"
rm -rf "$root/opt/edge-agent-src"
mkdir -p "$root/opt/edge-agent-src"
(cd "$src" && git ls-files -z | xargs -0 cp --parents -t "$root/opt/edge-agent-src")
cp /etc/resolv.conf "$root/etc/resolv.conf"

run() {  # run a command in the arm64 root as a given CPU
    local cpu=$1
    shift
    QEMU_CPU=$cpu chroot "$root" /usr/bin/qemu-aarch64-static -cpu "$cpu" "$@"
}

run cortex-a72 /usr/bin/python3 -m venv /opt/venv
run cortex-a72 /opt/venv/bin/python -m pip install -q "numpy<2" /opt/edge-agent-src
status=0
for cpu in cortex-a72 cortex-a53; do
    echo "== $cpu"
    # qemu-user runs ELF binaries, not the console script's shebang: go through python -m
    if run "$cpu" /opt/venv/bin/python -m edge_agent --version \
        && run "$cpu" /opt/venv/bin/python -m edge_agent replay /opt/edge-agent-src/demo/car-detection.mp4 \
            --out "/tmp/smoke-$cpu" --no-progress; then
        echo "== $cpu: ok"
    else
        echo "== $cpu: FAILED" >&2
        status=1
    fi
done
exit "$status"
