#!/usr/bin/env bash
# Write the two files exported from uv.lock, or check that they are current (--check):
#   deploy/requirements-pole.txt   the pole's dependencies, exact versions and hashes, for every
#                                  Python and CPU the lock covers (install.sh, wheelhouse.sh)
#   deploy/requirements-station.txt  the ward station's (the `station` extra), the same way
#   scripts/uv-requirements.txt    uv itself, for scripts/common.sh to bootstrap it with pip
# Run by scripts/upgrade-deps.sh after it moves the lock; checked by tests/test_lock.py.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
. scripts/common.sh
check=0
if [ "${1:-}" = "--check" ]; then check=1; fi
uv=${UV:-$(ensure_uv)}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

{
    echo "# The pole's dependencies, exported from uv.lock by scripts/lock-exports.sh: do not edit."
    echo "# pip install --require-hashes -r deploy/requirements-pole.txt (deploy/install.sh does)"
    "$uv" export --quiet --locked --no-dev --no-emit-project --no-header --format requirements-txt
} >"$scratch/requirements-pole.txt"
{
    echo "# The ward station's dependencies, exported from uv.lock by scripts/lock-exports.sh: do not edit."
    echo "# pip install --require-hashes -r deploy/requirements-station.txt (docs/install-station.md)"
    "$uv" export --quiet --locked --no-dev --extra station --no-emit-project --no-header --format requirements-txt
} >"$scratch/requirements-station.txt"
{
    echo "# uv, exported from uv.lock by scripts/lock-exports.sh: do not edit."
    "$uv" export --quiet --locked --extra dev --no-emit-project --no-header --no-annotate \
        --format requirements-txt | awk '/^uv==/ {on = 1; print; next} on && /^ +--hash/ {print; next} {on = 0}'
} >"$scratch/uv-requirements.txt"

status=0
for pair in "requirements-pole.txt:deploy/requirements-pole.txt" \
    "requirements-station.txt:deploy/requirements-station.txt" "uv-requirements.txt:scripts/uv-requirements.txt"; do
    made=$scratch/${pair%%:*}
    target=${pair#*:}
    if [ "$check" -eq 1 ]; then
        if ! cmp -s "$made" "$target"; then
            echo "$target is not what uv.lock exports: run scripts/lock-exports.sh" >&2
            status=1
        fi
    else
        cp "$made" "$target"
        echo "wrote $target"
    fi
done
exit "$status"
