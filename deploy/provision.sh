#!/usr/bin/env bash
# First-boot provisioning: take the technician's edge-agent.toml (configuration) and
# edge-agent.secret (broker password) from the SD card's boot partition into /etc/edge-agent,
# with the right modes, and remove them from the boot partition (readable by any computer).
#
# A configuration that does not validate (check-config exits 2) is kept aside as
# /etc/edge-agent/config.toml.rejected, with the reasons in /etc/edge-agent/config.rejected.txt;
# the agent then refuses to start and prints those reasons (systemctl status edge-agent,
# journalctl), and they are written back to the boot partition as edge-agent.rejected.txt.
# When check-config fails in any other way the installation is broken, not the file: the file
# stays on the boot partition (taken at the next boot) and this script exits 1.
# edge-agent-ssh.pub (the Debian image's SSH login, key only) becomes ssh_authorized_keys.
# Idempotent; each file is taken once (it is removed from the boot partition).
#
# Exit status: 0 done or nothing to do; 1 the installation is broken (check-config did not run).
# Environment: ROOT (a prefix, for tests; default /), EDGE_AGENT (the edge-agent command, may
# have arguments), EDGE_AGENT_GROUP (the group that may read config.toml; default edge-agent-conf).
set -euo pipefail
umask 077  # every file made here is private until it is given its final mode

ROOT=${ROOT:-}
read -r -a agent <<<"${EDGE_AGENT:-/opt/edge-agent/venv/bin/python -m edge_agent}"
group=${EDGE_AGENT_GROUP:-edge-agent-conf}
etc="$ROOT/etc/edge-agent"
max_bytes=1048576

boot=""
for dir in "$ROOT/boot/firmware" "$ROOT/boot"; do
    for name in edge-agent.toml edge-agent.secret edge-agent-ssh.pub; do
        if [ -e "$dir/$name" ]; then
            boot=$dir
            break 2
        fi
    done
done

install -d -m 0755 "$etc"
owner=()
config_owner=()
config_mode=0600
if [ "$(id -u)" -eq 0 ]; then
    owner=(-o root -g root)
    if getent group "$group" >/dev/null; then
        config_owner=(-o root -g "$group")
        config_mode=0640
    fi
fi

# Remove a file from the boot partition, overwriting it first: FAT keeps a deleted file's data
# readable until the clusters are reused.
wipe() {
    local size
    size=$(stat -c %s "$1")
    if [ "$size" -gt 0 ]; then
        head -c "$size" /dev/zero | dd of="$1" conv=notrunc,fsync status=none 2>/dev/null || true
    fi
    rm -f "$1"
    sync -f "$(dirname "$1")" 2>/dev/null || true
}

# A Windows editor may add a UTF-8 byte order mark and CRLF line endings.
clean_text() {
    sed -e '1s/^\xEF\xBB\xBF//' -e 's/\r$//' "$1"
}

# Why a file was refused, from stdin, as NAME on the boot partition: the technician reads it with
# the card in any computer (Notepad's line endings). Best effort: the journal has it too.
note_on_card() {
    sed 's/$/\r/' >"$boot/$1" 2>/dev/null || true
}

if [ -n "$boot" ] && [ -e "$boot/edge-agent.secret" ]; then
    # one line, no trailing newline or Windows line ending
    clean_text "$boot/edge-agent.secret" | tr -d '\r\n' >"$etc/mqtt_password.new"
    mv -f "$etc/mqtt_password.new" "$etc/mqtt_password"
    wipe "$boot/edge-agent.secret"
    echo "edge-agent-provision: broker password installed in $etc/mqtt_password"
fi
if [ ! -e "$etc/mqtt_password" ]; then
    install "${owner[@]}" -m 0600 /dev/null "$etc/mqtt_password"
fi

# The technician's SSH public key(s), for the Debian image's `pole` account (key login only;
# sshd runs only once a key is here). Each line must be an OpenSSH public key; a private key put
# there by mistake is erased from the card and refused.
if [ -n "$boot" ] && [ -e "$boot/edge-agent-ssh.pub" ]; then
    keys="$etc/ssh_authorized_keys.new"
    refused=""
    if [ "$(stat -c %s "$boot/edge-agent-ssh.pub")" -gt 65536 ]; then
        refused="the file is larger than 64 kB; a public key is one line of about 100 characters"
    elif grep -q 'PRIVATE KEY' "$boot/edge-agent-ssh.pub"; then
        refused="it is a PRIVATE key: put the .pub file there (e.g. id_ed25519.pub), never the private one; it has been erased from the card"
    elif ! command -v ssh-keygen >/dev/null; then
        refused="ssh-keygen is not installed here (apt install openssh-client), so the key cannot be checked"
    else
        : >"$keys"
        line_no=0
        while IFS= read -r line || [ -n "$line" ]; do
            line_no=$((line_no + 1))
            case "$line" in "" | "#"*) continue ;; esac
            if printf '%s\n' "$line" | ssh-keygen -l -f - >/dev/null 2>&1; then
                printf '%s\n' "$line" >>"$keys"
            else
                refused="line $line_no is not an OpenSSH public key (it should start with ssh-ed25519, ssh-rsa or ecdsa-sha2-…)"
                break
            fi
        done < <(clean_text "$boot/edge-agent-ssh.pub")
        if [ -z "$refused" ] && [ ! -s "$keys" ]; then
            refused="the file holds no key"
        fi
    fi
    if [ -z "$refused" ]; then
        install "${owner[@]}" -m 0644 "$keys" "$etc/ssh_authorized_keys"
        echo "edge-agent-provision: $(wc -l <"$keys") SSH key(s) installed in $etc/ssh_authorized_keys"
        rm -f "$boot/edge-agent-ssh.rejected.txt"
    else
        echo "edge-agent-provision: REJECTED edge-agent-ssh.pub: $refused" >&2
        printf 'edge-agent-ssh.pub was refused: %s\nThe keys installed before (if any) are kept. Fix it, copy it again and reboot.\n' \
            "$refused" | note_on_card edge-agent-ssh.rejected.txt
    fi
    rm -f "$keys"
    wipe "$boot/edge-agent-ssh.pub"
fi

if [ -n "$boot" ] && [ -e "$boot/edge-agent.toml" ]; then
    candidate="$etc/config.toml.new"
    status=0
    if [ "$(stat -c %s "$boot/edge-agent.toml")" -gt "$max_bytes" ]; then
        problems="the file is larger than 1 MB; a pole's configuration is a few kB"
        status=2
    else
        clean_text "$boot/edge-agent.toml" >"$candidate"
        problems=$("${agent[@]}" check-config "$candidate" 2>&1 >/dev/null) || status=$?
    fi
    if [ "$status" -eq 0 ]; then
        install "${config_owner[@]}" -m "$config_mode" "$candidate" "$etc/config.toml"
        rm -f "$candidate" "$etc/config.toml.rejected" "$etc/config.rejected.txt" "$boot/edge-agent.rejected.txt"
        echo "edge-agent-provision: configuration installed in $etc/config.toml"
    elif [ "$status" -eq 2 ]; then
        if [ -e "$candidate" ]; then
            mv -f "$candidate" "$etc/config.toml.rejected"
        else
            install "${owner[@]}" -m 0600 /dev/null "$etc/config.toml.rejected"
        fi
        {
            echo "edge-agent.toml from the boot partition was rejected (kept as $etc/config.toml.rejected):"
            echo "${problems//"$candidate"/edge-agent.toml}"
            echo "Fix it, copy it to the boot partition again as edge-agent.toml and reboot."
        } >"$etc/config.rejected.txt"
        # the agent reads it to say why it refuses to start: the config's modes, never 0644
        if [ ${#config_owner[@]} -gt 0 ]; then
            chown "root:$group" "$etc/config.rejected.txt"
        fi
        chmod "$config_mode" "$etc/config.rejected.txt"
        echo "edge-agent-provision: REJECTED edge-agent.toml:" >&2
        sed 's/^/  /' "$etc/config.rejected.txt" >&2
        note_on_card edge-agent.rejected.txt <"$etc/config.rejected.txt"
    else
        rm -f "$candidate"
        {
            echo "edge-agent-provision: the installation is broken, not edge-agent.toml:"
            echo "  '${agent[*]} check-config' failed with exit status $status:"
            printf '%s\n' "$problems" | tail -n 20 | sed 's/^/  /'
            echo "  edge-agent.toml stays on the boot partition and is taken at the next boot;"
            echo "  repair the installation first: run deploy/install.sh again (README, install section)."
        } >&2
        exit 1
    fi
    wipe "$boot/edge-agent.toml"
fi
