#!/usr/bin/env bash
# An offline wheelhouse for deploy/install.sh --wheelhouse: edge-agent's wheel and every wheel it
# needs, for the Pi's Debian release (its Python and glibc) and CPU: exactly the versions and
# hashes of uv.lock (through its export deploy/requirements-pole.txt, the file install.sh installs
# from), each wheel checked against its hash. Runs on any machine with Python and pip ≥ 24
# (pip 23 checks a --target install's Requires-Python against its own Python, not the Pi's).
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
    bookworm) python_version=3.11; python_full=3.11.2; glibc_minor=36 ;;
    trixie) python_version=3.13; python_full=3.13.5; glibc_minor=41 ;;
    *) echo "--release bookworm or --release trixie (the Pi's Debian / Raspberry Pi OS release)" >&2; exit 2 ;;
esac
case "$arch" in
    aarch64 | x86_64) ;;
    *) echo "--arch aarch64 (a Pi) or x86_64, not $arch" >&2; exit 2 ;;
esac
out=${out:-wheelhouse-$release-$arch}
python=${PYTHON:-python3}
if ! "$python" -c 'import sys, pip; sys.exit(int(pip.__version__.split(".")[0]) < 24)' 2>/dev/null; then
    echo "$python has no pip 24 or newer (PYTHON=/path/to/python, or: $python -m pip install -U pip)" >&2
    exit 2
fi
pins="$src/deploy/requirements-pole.txt"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

platforms=(--platform "manylinux2014_$arch")
for minor in $(seq "$glibc_minor" -1 17); do
    platforms+=(--platform "manylinux_2_${minor}_$arch")
done
target=(--only-binary=:all: --implementation cp --python-version "$python_version" "${platforms[@]}")

# The export covers every Python and CPU of the lock, told apart by environment markers, and pip
# evaluates markers for the machine it runs on, not for --platform: keep the lines whose marker
# holds on the Pi, without it (packaging's own evaluator; pip carries a copy when it is absent).
"$python" - "$pins" "$scratch/pins.txt" "$python_version" "$python_full" "$arch" <<'PY'
import sys
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
src, dest, version, full, arch = sys.argv[1:]
env = {"python_version": version, "python_full_version": full, "platform_machine": arch,
       "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
       "implementation_name": "cpython", "platform_python_implementation": "CPython"}
entries, cur = [], ""
for line in open(src, encoding="utf-8"):
    line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
    if not line:
        continue
    cur += " " + line.rstrip("\\").strip()
    if not line.endswith("\\"):
        entries.append(cur.strip())
        cur = ""
if cur.strip():
    entries.append(cur.strip())
kept = []
for entry in entries:
    spec, _, hashes = entry.partition(" --hash")
    req = Requirement(spec.strip())
    if req.marker is None or req.marker.evaluate(env):
        kept.append(f"{req.name}{req.specifier} --hash{hashes}" if hashes else f"{req.name}{req.specifier}")
with open(dest, "w", encoding="utf-8") as out:
    out.write("\n".join(kept) + "\n")
PY

mkdir -p "$out"
if [ -z "$wheel" ]; then
    "$python" -m pip wheel -q --no-deps --wheel-dir "$out" "$src"
    wheel=$(find "$out" -maxdepth 1 -name 'edge_agent-*.whl' -newer "$src/pyproject.toml" -print | sort | tail -n 1)
    wheel=${wheel:-$(find "$out" -maxdepth 1 -name 'edge_agent-*.whl' -print | sort | tail -n 1)}
else
    cp -f "$wheel" "$out/"
fi

# the project's own wheel joins the pinned list with its hash (pip wants one on every line)
echo "$wheel --hash=sha256:$(sha256sum "$wheel" | cut -d' ' -f1)" >>"$scratch/pins.txt"
pinned=(--require-hashes -r "$scratch/pins.txt")
if [ -n "$report" ]; then
    "$python" -m pip install -q --dry-run --ignore-installed --target "$scratch/t" --report "$report" \
        "${target[@]}" "${pinned[@]}"
    echo "resolved for $release ($arch, Python $python_version): see $report"
else
    "$python" -m pip download -q --dest "$out" "${target[@]}" "${pinned[@]}"
    echo "wheelhouse for $release ($arch, Python $python_version): $out ($(find "$out" -name '*.whl' | wc -l) wheels)"
fi
