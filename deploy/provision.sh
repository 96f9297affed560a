#!/usr/bin/env bash
# First-boot provisioning: take the technician's edge-agent.toml (configuration) and
# edge-agent.secret (broker password) from the SD card's boot partition into /etc/edge-agent,
# with the right modes, and remove them from the boot partition (readable by any computer).
#
# A configuration that does not validate is kept aside as /etc/edge-agent/config.toml.rejected,
# with the reasons in /etc/edge-agent/config.rejected.txt; the agent then refuses to start and
# prints those reasons (systemctl status edge-agent, journalctl). Idempotent.
#
# Environment: ROOT (a prefix, for tests; default /), EDGE_AGENT (the edge-agent command).
set -euo pipefail

ROOT=${ROOT:-}
EDGE_AGENT=${EDGE_AGENT:-/opt/edge-agent/venv/bin/edge-agent}
etc="$ROOT/etc/edge-agent"

boot=""
for dir in "$ROOT/boot/firmware" "$ROOT/boot"; do
    if [ -e "$dir/edge-agent.toml" ] || [ -e "$dir/edge-agent.secret" ]; then
        boot=$dir
        break
    fi
done

install -d -m 0755 "$etc"
owner=()
if [ "$(id -u)" -eq 0 ]; then
    owner=(-o root -g root)
fi

if [ -n "$boot" ] && [ -e "$boot/edge-agent.secret" ]; then
    # one line, no trailing newline or Windows line ending
    tr -d '\r\n' <"$boot/edge-agent.secret" >"$etc/mqtt_password.new"
    install "${owner[@]}" -m 0600 "$etc/mqtt_password.new" "$etc/mqtt_password"
    rm -f "$etc/mqtt_password.new" "$boot/edge-agent.secret"
    echo "edge-agent-provision: broker password installed in $etc/mqtt_password"
fi
if [ ! -e "$etc/mqtt_password" ]; then
    install "${owner[@]}" -m 0600 /dev/null "$etc/mqtt_password"
fi

if [ -n "$boot" ] && [ -e "$boot/edge-agent.toml" ]; then
    candidate="$etc/config.toml.new"
    tr -d '\r' <"$boot/edge-agent.toml" >"$candidate"
    if problems=$("$EDGE_AGENT" check-config "$candidate" 2>&1 >/dev/null); then
        install "${owner[@]}" -m 0644 "$candidate" "$etc/config.toml"
        rm -f "$candidate" "$etc/config.toml.rejected" "$etc/config.rejected.txt"
        echo "edge-agent-provision: configuration installed in $etc/config.toml"
    else
        install "${owner[@]}" -m 0600 "$candidate" "$etc/config.toml.rejected"
        rm -f "$candidate"
        {
            echo "edge-agent.toml from the boot partition was rejected (kept as $etc/config.toml.rejected):"
            echo "${problems//"$candidate"/edge-agent.toml}"
            echo "Fix it, copy it to the boot partition again as edge-agent.toml and reboot."
        } >"$etc/config.rejected.txt"
        chmod 0644 "$etc/config.rejected.txt"
        echo "edge-agent-provision: REJECTED edge-agent.toml:" >&2
        sed 's/^/  /' "$etc/config.rejected.txt" >&2
    fi
    rm -f "$boot/edge-agent.toml"
fi
