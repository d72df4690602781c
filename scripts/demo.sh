#!/usr/bin/env bash
# strata's main job, as far as it goes today: build strata, make a busybox
# root filesystem, import it as an image, list it, show its history, save
# it as an archive that docker/podman load, and load it back.
# Installs (apt-get, only if missing) busybox-static.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

if ! [ -x /bin/busybox ] || ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed"; then
	SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends busybox-static >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export STRATA_ROOT="${STRATA_ROOT:-$work/store}"

run() { printf '\n$ %s\n' "$*"; "$@"; }

CGO_ENABLED=0 go build -o "$work/strata" ./cmd/strata
strata=$work/strata

# A root filesystem: busybox and its applets.
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in sh ls cat echo httpd wget; do ln -s busybox "$work/rootfs/bin/$applet"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .

echo "store: $STRATA_ROOT"
run "$strata" import "$work/rootfs.tar" busybox:latest
run "$strata" tag busybox localhost:5000/busybox:v1
run "$strata" images
run "$strata" history busybox
run "$strata" inspect --format '{{.Id}} {{json .RepoTags}} {{json .RootFS.Layers}}' busybox
run "$strata" save -o "$work/busybox.tar" busybox
run tar -tf "$work/busybox.tar"
run "$strata" rmi busybox localhost:5000/busybox:v1
run "$strata" load -i "$work/busybox.tar"
run "$strata" images --digests
