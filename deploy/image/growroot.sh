#!/usr/bin/env bash
# Debian pole image only: grow the root partition and its ext4 file system to the end of the SD
# card. The image is made just large enough for the system and some outbox room; a 16 or 32 GB
# card would otherwise leave most of itself unused, and the outbox is what keeps a pole's events
# through a long broker outage. Runs at every boot and does nothing once the root fills the card
# (so a card cloned onto a larger one grows too). Raspberry Pi OS grows its own root: not used there.
#
# The partition is grown in place (same start, MBR kept: the Pi 3 and Zero 2 W boot only from
# MBR) with sfdisk, the kernel is told its new size with partx (the disk is in use, so it is not
# re-read whole), and ext4 grows online with resize2fs.
set -euo pipefail
PATH=/usr/sbin:/usr/bin:/sbin:/bin

source=$(findmnt -no SOURCE /)
part=$(basename "$(readlink -f "$source")")
sys=/sys/class/block/$part
if [ ! -e "$sys/partition" ]; then
    echo "edge-agent-growroot: the root ($source) is not a partition; nothing to grow"
    exit 0
fi
number=$(cat "$sys/partition")
disk=$(basename "$(readlink -f "$sys/..")")
start=$(cat "$sys/start")
size=$(cat "$sys/size")
disk_size=$(cat "/sys/class/block/$disk/size")
# sectors of 512 bytes; less than 16 MiB left after the root is not worth a partition table write
if [ $((disk_size - start - size)) -ge 32768 ]; then
    last=$(sfdisk -l -o Device,End -q "/dev/$disk" | awk 'NR > 1 { print $2 }' | sort -n | tail -n 1)
    if [ "$last" -ne $((start + size - 1)) ]; then
        echo "edge-agent-growroot: the root is not the last partition on /dev/$disk; left as it is"
        exit 0
    fi
    echo ", +" | sfdisk -q --no-reread --no-tell-kernel -N "$number" "/dev/$disk"
    partx -u --nr "$number" "/dev/$disk"
    echo "edge-agent-growroot: partition $number of /dev/$disk grown from $((size / 2048)) MiB to $(($(cat "$sys/size") / 2048)) MiB"
fi
# a no-op when the file system already fills its partition
resize2fs "/dev/$part" 2>&1 | grep -v '^resize2fs [0-9]' || true
echo "edge-agent-growroot: / is $(findmnt -bno SIZE / | awk '{ printf "%d MiB", $1 / 1048576 }')"
