#!/usr/bin/env bash
# A flashable arm64 SD-card image of an edge-agent pole, from Debian's own packages (bookworm):
# Raspberry Pi 4, Pi 3 and Zero 2 W boot files (raspi-firmware), Debian's arm64 kernel, systemd,
# and edge-agent installed by deploy/install.sh. For poles with an RTSP/USB camera; the Pi camera
# module needs Raspberry Pi OS (deploy/pi-gen), whose picamera2 Debian does not carry.
#
#   sudo deploy/build-image.sh [--out DIR] [--work DIR] [--wheelhouse DIR] [--mirror URL]
#
# --wheelhouse: edge-agent and its aarch64 wheels (default: made here by scripts/wheelhouse.sh).
#
# Writes DIR/edge-agent-pole-<version>-arm64.img.xz and its .sha256 (default DIR: ./dist).
# Needs: debootstrap, systemd-nspawn (systemd-container), qemu-user-static and binfmt-support
# (on a non-arm64 machine), dosfstools, mtools, e2fsprogs, fdisk, xz-utils. No loop devices, no
# device mapper: the partitions are made as files and written into the image at their offsets.
# The Debian root is cached in WORK (default /var/cache/edge-agent-image) and reused while its
# package list is unchanged: ≈ 17 min the first time under emulation on 2 cores, ≈ 3 min after.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
out=$src/dist
work=/var/cache/edge-agent-image
wheelhouse=""
mirror=http://deb.debian.org/debian
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --wheelhouse) wheelhouse=$(cd "$2" && pwd); shift 2 ;;
        --mirror) mirror=$2; shift 2 ;;
        *) echo "unknown option: $1 (see the comment at the top of $0)" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" -ne 0 ]; then
    echo "run me as root: sudo $0 (debootstrap, systemd-nspawn)" >&2
    exit 1
fi
for tool in debootstrap:debootstrap systemd-nspawn:systemd-container mkfs.vfat:dosfstools \
    mcopy:mtools mkfs.ext4:e2fsprogs sfdisk:fdisk xz:xz-utils; do
    if ! command -v "${tool%%:*}" >/dev/null && [ ! -x "/usr/sbin/${tool%%:*}" ]; then
        echo "missing ${tool%%:*}: apt install ${tool##*:}" >&2
        exit 1
    fi
done
if [ "$(uname -m)" != aarch64 ]; then
    binfmt=/proc/sys/fs/binfmt_misc
    [ -e "$binfmt/status" ] || mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null || true
    [ -e "$binfmt/qemu-aarch64" ] || update-binfmts --enable qemu-aarch64 2>/dev/null || true
    if ! grep -q '^enabled' "$binfmt/qemu-aarch64" 2>/dev/null || ! grep -q '^flags: .*F' "$binfmt/qemu-aarch64"; then
        echo "arm64 programs cannot run here: apt install qemu-user-static binfmt-support" >&2
        exit 1
    fi
fi
PATH=$PATH:/usr/sbin:/sbin
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$src/pyproject.toml" | head -n 1)
name=edge-agent-pole-$version-arm64

# What the Debian root holds (its cache key). raspi-firmware and the Pi's Wi-Fi firmware are in
# non-free-firmware; linux-image-arm64 carries the Pi device trees.
base=systemd,systemd-sysv,udev,kmod,python3,python3-venv,ca-certificates,iproute2,netbase,dbus,apt
extra="initramfs-tools raspi-firmware firmware-brcm80211 systemd-timesyncd systemd-resolved \
wpasupplicant dosfstools e2fsprogs fdisk openssh-server sudo"
key=$(printf '%s|%s|%s|6' "$base" "$extra" "$mirror" | sha256sum | cut -c1-12)
cached=$work/root-$key

in_root() {  # run a command inside a Debian root (arm64, emulated where needed)
    local root=$1
    shift
    systemd-nspawn -q --register=no --keep-unit --resolv-conf=replace-host -D "$root" -- "$@"
}

mkdir -p "$work" "$out"
if [ ! -e "$cached/.complete" ]; then
    started=$SECONDS
    rm -rf "$cached.partial"
    debootstrap --arch=arm64 --variant=minbase --components=main,non-free-firmware \
        --include="$base" bookworm "$cached.partial" "$mirror"
    r=$cached.partial
    printf 'deb %s bookworm main non-free-firmware\ndeb %s bookworm-updates main non-free-firmware\n' \
        "$mirror" "$mirror" >"$r/etc/apt/sources.list"
    printf 'deb http://deb.debian.org/debian-security bookworm-security main non-free-firmware\n' \
        >>"$r/etc/apt/sources.list"
    # cmdline.txt names the root by label, so one image boots from any card reader or slot
    printf 'ROOTPART="LABEL=RASPIROOT"\nCONSOLES="tty0 ttyS1,115200"\n' >"$r/etc/default/raspi-firmware"
    printf 'LABEL=RASPIROOT / ext4 rw,noatime,commit=120 0 1\nLABEL=RASPIFIRM /boot/firmware vfat rw,noatime,umask=0077 0 2\n' \
        >"$r/etc/fstab"
    echo edge-agent-pole >"$r/etc/hostname"
    printf '127.0.0.1 localhost\n127.0.1.1 edge-agent-pole\n::1 localhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
    mkdir -p "$r/boot/firmware" "$r/etc/systemd/network"
    printf '[Match]\nName=eth* en*\n\n[Network]\nDHCP=yes\n' >"$r/etc/systemd/network/20-wired.network"
    in_root "$r" apt-get update -qq
    # The kernel last, in its own run, after initramfs-tools: the kernel's postinst then builds
    # the initramfs once. Installed together, initramfs-tools' own trigger rebuilt it a second
    # time (≈ 5 min each under emulation).
    apt_install() {
        in_root "$r" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            -o Dpkg::Options::=--force-confold "$@"
    }
    # shellcheck disable=SC2086  # a list of package names
    apt_install $extra
    apt_install linux-image-arm64
    in_root "$r" systemctl enable systemd-networkd systemd-resolved systemd-timesyncd
    in_root "$r" apt-get clean
    rm -rf "$r/var/lib/apt/lists/"*
    touch "$r/.complete"
    mv "$cached.partial" "$cached"
    echo "Debian root built in $((SECONDS - started)) s"
fi

# The image's root: a copy of the cached one, with edge-agent installed by its own script.
started=$SECONDS
root=$work/build
rm -rf "$root"
cp -a "$cached" "$root"
rm -f "$root/.complete"
mkdir -p "$root/var/tmp/edge-agent"
(cd "$src" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$root/var/tmp/edge-agent")
# The wheels come from a wheelhouse made here (pip runs natively, with this machine's network
# settings), not from pip under emulation.
if [ -z "$wheelhouse" ]; then
    wheelhouse=$work/wheelhouse
    rm -rf "$wheelhouse"
    "$src/scripts/wheelhouse.sh" --release bookworm --arch aarch64 --out "$wheelhouse"
fi
cp -r "$wheelhouse" "$root/var/tmp/wheelhouse"
args=(--no-apt --no-start --wheelhouse /var/tmp/wheelhouse)
in_root "$root" bash /var/tmp/edge-agent/deploy/install.sh "${args[@]}"
install -m 0644 "$src/deploy/edge-agent.toml" "$root/boot/firmware/edge-agent-example.toml"
# The image's own parts (deploy/image/): the root grows to fill the card at first boot, and SSH
# for the technician's key only (edge-agent-ssh.pub on the boot partition; no password login, no
# host keys in the image: each pole makes its own).
install -m 0755 "$src/deploy/image/growroot.sh" "$root/usr/local/sbin/edge-agent-growroot"
install -m 0644 "$src/deploy/image/edge-agent-growroot.service" "$root/etc/systemd/system/"
install -d "$root/etc/systemd/system/ssh.service.d"
install -m 0644 "$src/deploy/image/ssh-service-edge-agent.conf" "$root/etc/systemd/system/ssh.service.d/edge-agent.conf"
install -m 0644 "$src/deploy/image/sshd-edge-agent.conf" "$root/etc/ssh/sshd_config.d/edge-agent.conf"
rm -f "$root"/etc/ssh/ssh_host_*
in_root "$root" systemctl enable edge-agent-growroot.service ssh.service
in_root "$root" useradd --create-home --shell /bin/bash --groups sudo,adm,systemd-journal pole
in_root "$root" usermod --password '*' pole  # no password: key login only
printf 'pole ALL=(ALL) NOPASSWD: ALL\n' >"$root/etc/sudoers.d/010_pole-nopasswd"
chmod 0440 "$root/etc/sudoers.d/010_pole-nopasswd"
rm -rf "$root/var/tmp/edge-agent" "$root/var/tmp/wheelhouse" "$root/root/.cache"
: >"$root/etc/machine-id"  # each pole makes its own at first boot
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
echo "edge-agent installed in $((SECONDS - started)) s"

# Assembly: a FAT boot partition and an ext4 root, as files, then written into the image.
started=$SECONDS
boot_mib=256
root_mib=$(( ($(du -sm "$root" | cut -f1) * 13 / 10 + 700) / 64 * 64 ))  # room for the outbox
fat=$work/boot.img
ext=$work/root.img
rm -f "$fat" "$ext"
mkfs.vfat -C -F 32 -n RASPIFIRM "$fat" $((boot_mib * 1024)) >/dev/null
mcopy -s -i "$fat" "$root/boot/firmware/"* ::/
mv "$root/boot/firmware" "$work/firmware.tmp"
mkdir "$root/boot/firmware"
mkfs.ext4 -q -L RASPIROOT -d "$root" "$ext" "${root_mib}M"
rmdir "$root/boot/firmware"
mv "$work/firmware.tmp" "$root/boot/firmware"
img=$work/$name.img
rm -f "$img"
truncate -s $(( (4 + boot_mib + root_mib) * 1024 * 1024 )) "$img"
sfdisk -q "$img" <<EOF
label: dos
start=4MiB, size=${boot_mib}MiB, type=c, bootable
start=$((4 + boot_mib))MiB, type=83
EOF
dd if="$fat" of="$img" bs=1M seek=4 conv=notrunc,sparse status=none
dd if="$ext" of="$img" bs=1M seek=$((4 + boot_mib)) conv=notrunc,sparse status=none
rm -f "$fat" "$ext"
xz -T0 -3 -f -k "$img"
mv "$img.xz" "$out/"
(cd "$out" && sha256sum "$name.img.xz" >"$name.img.xz.sha256")
echo "assembled in $((SECONDS - started)) s"
echo "image: $out/$name.img.xz ($(du -h "$out/$name.img.xz" | cut -f1)); raw image kept for tests: $img"
