#!/usr/bin/env bash
# Move the lock: newer versions of every dependency (or only the named ones), the exports that
# the Pi installs from, then the whole test suite on the new lock. Nothing reaches a pole untested:
# commit uv.lock and the exports only when this ends with the tests passing.
#
#   scripts/upgrade-deps.sh                    # every package to its newest allowed version
#   scripts/upgrade-deps.sh onnxruntime numpy  # only these (and what they need)
#   scripts/upgrade-deps.sh --no-test ...      # only move the lock (then run scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
. scripts/common.sh
run_tests=1
packages=()
for arg in "$@"; do
    case "$arg" in
        --no-test) run_tests=0 ;;
        -*) echo "unknown option: $arg (see the comment at the top of $0)" >&2; exit 2 ;;
        *) packages+=(--upgrade-package "$arg") ;;
    esac
done
[ ${#packages[@]} -gt 0 ] || packages=(--upgrade)
uv=$(ensure_uv)
before=$(mktemp)
trap 'rm -f "$before"' EXIT
cp uv.lock "$before"
"$uv" lock "${packages[@]}"
scripts/lock-exports.sh
# what moved, one line a package: name old -> new
python3 - "$before" uv.lock <<'PY'
import sys, tomllib
def versions(path):
    out = {}
    for p in tomllib.load(open(path, "rb"))["package"]:
        out.setdefault(p["name"], set()).add(p["version"])
    return out
old, new = versions(sys.argv[1]), versions(sys.argv[2])
for name in sorted(old.keys() | new.keys()):
    if old.get(name) != new.get(name):
        print(f"  {name}: {', '.join(sorted(old.get(name, {'-'})))} -> {', '.join(sorted(new.get(name, {'-'})))}")
PY
if [ "$run_tests" -eq 1 ]; then
    scripts/test.sh
    echo "the tests pass on the new lock: commit uv.lock, deploy/requirements-*.txt, scripts/uv-requirements.txt"
fi
