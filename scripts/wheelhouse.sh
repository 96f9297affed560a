#!/usr/bin/env bash
# An offline wheelhouse for deploy/install.sh --wheelhouse: edge-agent's wheel and every wheel it
# needs, for the Pi's Debian release (its Python and glibc) and CPU, resolved with the same
# constraints install.sh applies on that release. Runs on any machine with Python and pip ≥ 23.
#
#   scripts/wheelhouse.sh --release bookworm|trixie [--arch aarch64|x86_64] [--out DIR]
#                         [--wheel FILE] [--dry-run REPORT.json]
#
#   --release    bookworm: Python 3.11, glibc 2.36; trixie: Python 3.13, glibc 2.41
#   --arch       the Pi's CPU (default aarch64: any 64-bit Pi OS)
#   --out        the folder to fill (default wheelhouse-RELEASE-ARCH)
#   --wheel      use this edge-agent wheel instead of building one from this source tree
#   --dry-run    resolve only (nothing downloaded but metadata) and write pip's JSON report
#
# onnxruntime's aarch64 wheels are tagged manylinux_2_27/2_28 (≥ 1.17), which pip's
# `--platform manylinux2014_aarch64` alone never matches: every manylinux tag the release's glibc
# can run is passed here. Then copy the folder to the Pi and: sudo deploy/install.sh --wheelhouse DIR
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
release=""
arch=aarch64
out=""
wheel=""
report=""
while [ $# -gt 0 ]; do
    case "$1" in
        --release) release=$2; shift 2 ;;
        --arch) arch=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --wheel) wheel=$2; shift 2 ;;
        --dry-run) report=$2; shift 2 ;;
        *) echo "unknown option: $1 (see the comment at the top of $0)" >&2; exit 2 ;;
    esac
done
case "$release" in
    bookworm) python_version=3.11; glibc_minor=36 ;;
    trixie) python_version=3.13; glibc_minor=41 ;;
    *) echo "--release bookworm or --release trixie (the Pi's Debian / Raspberry Pi OS release)" >&2; exit 2 ;;
esac
case "$arch" in
    aarch64 | x86_64) ;;
    *) echo "--arch aarch64 (a Pi) or x86_64, not $arch" >&2; exit 2 ;;
esac
out=${out:-wheelhouse-$release-$arch}
python=${PYTHON:-python3}
constraints="$src/deploy/constraints-$release.txt"
[ -e "$constraints" ] || constraints=/dev/null

platforms=(--platform "manylinux2014_$arch")
for minor in $(seq "$glibc_minor" -1 17); do
    platforms+=(--platform "manylinux_2_${minor}_$arch")
done
target=(--only-binary=:all: --implementation cp --python-version "$python_version" "${platforms[@]}"
    -c "$constraints")

mkdir -p "$out"
if [ -z "$wheel" ]; then
    "$python" -m pip wheel -q --no-deps --wheel-dir "$out" "$src"
    wheel=$(find "$out" -maxdepth 1 -name 'edge_agent-*.whl' -newer "$src/pyproject.toml" -print | sort | tail -n 1)
    wheel=${wheel:-$(find "$out" -maxdepth 1 -name 'edge_agent-*.whl' -print | sort | tail -n 1)}
else
    cp -f "$wheel" "$out/"
fi

if [ -n "$report" ]; then
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    "$python" -m pip install -q --dry-run --ignore-installed --target "$scratch" --report "$report" \
        "${target[@]}" "$wheel"
    echo "resolved for $release ($arch, Python $python_version): see $report"
else
    "$python" -m pip download -q --dest "$out" "${target[@]}" "$wheel"
    echo "wheelhouse for $release ($arch, Python $python_version): $out ($(find "$out" -name '*.whl' | wc -l) wheels)"
fi
