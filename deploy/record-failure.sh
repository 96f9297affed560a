#!/usr/bin/env bash
# ExecStopPost= of edge-agent.service (run with full privileges: the `+` prefix): when the agent
# stopped with a failure, keep why on the SD card. The journal lives in RAM only, so after the
# reboot that ten failures in 30 minutes cause (StartLimitAction=reboot), this file is the only
# record of what happened: /var/log/edge-agent/last-failure.txt (≤ 4 kB, root only, the previous
# one kept as last-failure.1.txt). A clean stop writes nothing, so the card is spared.
#
# Environment (from systemd): SERVICE_RESULT, EXIT_CODE, EXIT_STATUS, INVOCATION_ID.
# DIR overrides the folder (tests).
set -uo pipefail
umask 077  # the log lines stay root-only, as the journal is

result=${SERVICE_RESULT:-unknown}
if [ "$result" = success ]; then
    exit 0
fi
dir=${DIR:-/var/log/edge-agent}
mkdir -p "$dir" || exit 0
tmp="$dir/.last-failure.tmp"
{
    echo "edge-agent failed at $(date -u +%Y-%m-%dT%H:%M:%SZ) (boot $(cat /proc/sys/kernel/random/boot_id 2>/dev/null))"
    echo "result: $result; exit: ${EXIT_CODE:-?} ${EXIT_STATUS:-?}"
    echo "restarts since boot: $(systemctl show -P NRestarts edge-agent.service 2>/dev/null || echo '?')"
    echo "(ten failures in 30 minutes reboot the Pi: StartLimitBurst= in edge-agent.service)"
    echo "last lines of the agent's log:"
    if [ -n "${INVOCATION_ID:-}" ]; then
        journalctl --no-pager -q -o short-iso -n 25 \
            "_SYSTEMD_INVOCATION_ID=$INVOCATION_ID" + "INVOCATION_ID=$INVOCATION_ID" 2>/dev/null
    fi
} | head -c 4096 >"$tmp"
if [ -e "$dir/last-failure.txt" ]; then
    mv -f "$dir/last-failure.txt" "$dir/last-failure.1.txt"
fi
mv -f "$tmp" "$dir/last-failure.txt"
sync -f "$dir" 2>/dev/null || true
exit 0
