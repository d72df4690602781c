#!/usr/bin/env bash
# Builds the python:3.10 stand-in root filesystem (Debian bookworm minbase +
# python3, pip, flask, scikit-learn, numpy from Debian packages) as a tarball
# at $1/rootfs.tar, cached: a second call returns at once.
# Falls back to a generated ~1 GB busybox rootfs (needs busybox-static on the
# host) when debootstrap fails; $1/KIND then says FALLBACK.
set -euo pipefail
cache=${1:-/var/tmp/strata-bench-base}
mkdir -p "$cache"
if [ -s "$cache/rootfs.tar" ] && [ -s "$cache/KIND" ]; then exit 0; fi
dir="$cache/rootfs"
rm -rf "$dir" "$cache/rootfs.tar" "$cache/KIND"
mirror=http://deb.debian.org/debian
if debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$cache/debootstrap.log" 2>&1 &&
	chroot "$dir" /bin/sh -c 'mount -t proc proc /proc 2>/dev/null; export DEBIAN_FRONTEND=noninteractive;
		apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-flask python3-sklearn python3-numpy;
		rc=$?; umount /proc 2>/dev/null; exit $rc' >>"$cache/debootstrap.log" 2>&1; then
	ln -sf python3 "$dir/usr/bin/python"
	printf '[global]\nbreak-system-packages = true\n' > "$dir/etc/pip.conf"
	chroot "$dir" apt-get clean
	rm -rf "$dir/var/lib/apt/lists/"* "$dir/var/cache/apt/"*.bin
	kind="debian bookworm minbase + python3 3.11, pip, flask, scikit-learn, numpy (Debian packages with their Recommends)"
else
	echo "debootstrap failed (see $cache/debootstrap.log); generating a ~1 GB fallback rootfs" >&2
	rm -rf "$dir"; mkdir -p "$dir/bin" "$dir/usr/lib/python3" "$dir/etc"
	mkdir -p "$dir/usr/local/bin"
	[ -x /bin/busybox ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
	cp /bin/busybox "$dir/bin/busybox" # static: RUN needs a shell
	for a in sh true cat ls; do ln -s busybox "$dir/bin/$a"; done
	printf '#!/bin/sh\necho "pip stub: $*"\n' > "$dir/usr/local/bin/pip"
	chmod 755 "$dir/usr/local/bin/pip"
	for i in $(seq 1 900); do head -c 1048576 /dev/urandom > "$dir/usr/lib/python3/lib$i.so"; done
	for i in $(seq 1 20000); do echo "module $i" > "$dir/usr/lib/python3/m$i.py"; done
	kind="FALLBACK (debootstrap failed): generated ~1 GB rootfs of busybox, random files and a pip stub script"
fi
tar --numeric-owner -C "$dir" -cf "$cache/rootfs.tar.tmp" .
mv "$cache/rootfs.tar.tmp" "$cache/rootfs.tar"
echo "$kind" > "$cache/KIND"
rm -rf "$dir"
