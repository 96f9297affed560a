#!/bin/bash -e
# pi-gen: install edge-agent into the image with the same script a technician runs on a Pi.
# EDGE_AGENT_SRC: the edge-agent source tree (default: three folders up from this script).
src="${EDGE_AGENT_SRC:-$(cd "$(dirname "$0")/../../../.." && pwd)}"
rm -rf "${ROOTFS_DIR}/tmp/edge-agent"
mkdir -p "${ROOTFS_DIR}/tmp/edge-agent"
cp -a "${src}/." "${ROOTFS_DIR}/tmp/edge-agent/"
rm -rf "${ROOTFS_DIR}/tmp/edge-agent/.git" "${ROOTFS_DIR}/tmp/edge-agent/.venv"
on_chroot <<CHROOT
bash /tmp/edge-agent/deploy/install.sh --no-start
rm -rf /tmp/edge-agent
CHROOT
# the example's name must not be edge-agent.toml or .secret: provisioning takes only those two
install -m 0644 "${src}/deploy/edge-agent.toml" "${ROOTFS_DIR}/boot/firmware/edge-agent-example.toml"
