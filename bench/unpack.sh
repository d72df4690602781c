#!/usr/bin/env bash
# First-run unpack benchmark: a ~1 GB root filesystem like an ML/Python
# base image (large libraries and weights, tens of thousands of small
# files), unpacked into a runnable root filesystem by strata (snapshot
# Prepare: read, verify, decompress, extract), by `umoci unpack` from the
# same OCI layout, and loaded by podman (which unpacks as it loads), side
# by side in one run. Run as root. Prints a Markdown section for
# BENCHMARKS.md.
# Usage: bench/unpack.sh [SIZE_MB] [RUNS]
#        ROOTFS_TAR=rootfs.tar bench/unpack.sh - [RUNS]   (a real root file system instead,
#        e.g. the Debian + Python base bench/build.sh keeps in /var/tmp/strata-bench-base)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
size_mb=${1:-1000}
runs=${2:-3}
[ "$(id -u)" = 0 ] || { echo "bench/unpack.sh: run as root (unpacking keeps owners and devices)" >&2; exit 1; }

need=()
for pkg in umoci podman skopeo python3; do
	command -v "$pkg" >/dev/null || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d /var/tmp/strata-unpack.XXXXXX)
podman=(podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay)
trap '"${podman[@]}" rmi -af >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/strata" ./cmd/strata
go test -c -o "$work/snapshot.test" ./internal/snapshot
strata="$work/strata"

# A root filesystem like a Python/ML base image: 60% of the bytes in 40
# large files (half incompressible, half compressible text), the rest in
# small files of 1-24 KiB spread over many directories.
if [ -n "${ROOTFS_TAR:-}" ]; then
	echo "== using $ROOTFS_TAR" >&2
	cp "$ROOTFS_TAR" "$work/rootfs.tar"
	what="the root file system in \`$(basename "$ROOTFS_TAR")\`"
else
echo "== making a ${size_mb} MB root filesystem" >&2
what="a synthetic root filesystem"
python3 - "$work/rootfs" "$size_mb" <<'PY'
import os, sys, random
root, mb = sys.argv[1], int(sys.argv[2])
random.seed(7)
words = [b"import", b"numpy", b"tensor", b"def", b"return", b"class", b"self", b"layer", b"weights", b"\n", b"    "]
def text(n):
    out = bytearray()
    while len(out) < n:
        out += b" ".join(random.choice(words) for _ in range(256))
    return bytes(out[:n])
large_total = mb * 1024 * 1024 * 6 // 10
lib = os.path.join(root, "usr/lib/python3/site-packages")
os.makedirs(lib, exist_ok=True)
chunk = text(1 << 20)
for i in range(40):
    with open(os.path.join(lib, "big%02d.so" % i), "wb") as f:
        left = large_total // 40
        while left > 0:
            n = min(left, 1 << 20)
            f.write(os.urandom(n) if i % 2 == 0 else chunk[:n])
            left -= n
small_total = mb * 1024 * 1024 - large_total
i = 0
pool = text(1 << 21)
while small_total > 0:
    d = os.path.join(root, "usr/lib/python3/pkg%03d/mod%02d" % (i // 400, (i // 20) % 20))
    os.makedirs(d, exist_ok=True)
    n = random.randint(1024, 24 * 1024)
    off = random.randint(0, len(pool) - n)
    with open(os.path.join(d, "file%d.py" % i), "wb") as f:
        f.write(pool[off:off + n])
    small_total -= n
    i += 1
os.symlink("python3", os.path.join(root, "usr/lib/python"))
os.makedirs(os.path.join(root, "usr/bin"), exist_ok=True)
os.link(os.path.join(lib, "big00.so"), os.path.join(root, "usr/bin/hardlinked.so"))
PY
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
rm -rf "$work/rootfs"
fi
bytes=$(stat -c %s "$work/rootfs.tar")
files=$(tar -tf "$work/rootfs.tar" | wc -l)
echo "tarball: $bytes bytes, $files entries" >&2

# One image, two layouts: the layer uncompressed (as strata import stores
# it) and gzip-compressed (as registries serve it).
export STRATA_ROOT="$work/store"
"$strata" import "$work/rootfs.tar" big:plain >/dev/null
rm -f "$work/rootfs.tar"
"$strata" save -o "$work/plain.tar" big:plain
mkdir -p "$work/oci-plain" && tar -C "$work/oci-plain" -xf "$work/plain.tar"
skopeo copy -q --dest-compress --dest-compress-format gzip "oci:$work/oci-plain:plain" "oci:$work/oci-gzip:gzip"
# The gzip layout, packed as an archive strata and podman load.
(cd "$work/oci-gzip" && tar -cf "$work/gzip.tar" .)
"$strata" load -i "$work/gzip.tar" >/dev/null
# The loaded image, by its ID (the config's digest).
gzip_id=$(python3 - "$work/oci-gzip" <<'PY'
import json, sys
d = sys.argv[1]
m = json.load(open(d + "/index.json"))["manifests"][0]["digest"].split(":")[1]
print(json.load(open(d + "/blobs/sha256/" + m))["config"]["digest"])
PY
)
gzip_bytes=$(du -sb "$work/oci-gzip/blobs" | cut -f1)

# Runs are interleaved (strata, strata until flushed to disk, umoci, podman; then
# again), so a machine whose load changes during the benchmark affects
# every tool alike. Each run starts with nothing unpacked, after sync and
# with the page cache dropped.
fresh() {
	rm -rf "$work/bundle" "$STRATA_ROOT"/snapshots/sha256/*
	"${podman[@]}" rmi -af >/dev/null 2>&1 || true
	sync
	echo 3 > /proc/sys/vm/drop_caches
}
measure() { # LABEL COMMAND
	fresh
	/usr/bin/time -f "%e %U %S" -o "$work/time" bash -c "$2" >/dev/null
	echo "$1 $(cat "$work/time")" >> "$work/times"
}
unpack() { # IMAGE [ENV...]
	echo "env STRATA_ROOT=$STRATA_ROOT STRATA_BENCH_IMAGE=$1 ${*:2} $work/snapshot.test -test.run '^TestUnpackImage\$'"
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: > "$work/times"
for run in $(seq 1 "$runs"); do
	echo "== run $run of $runs" >&2
	for layout in plain gzip; do
		img=big:$layout
		[ $layout = gzip ] && img=$gzip_id
		measure "strata/$layout" "$(unpack "$img")"
		measure "strata-flushed/$layout" "$(unpack "$img" STRATA_BENCH_FLUSH=1)"
		measure "umoci/$layout" "umoci unpack --image $work/oci-$layout:$layout $work/bundle"
	done
	measure "podman/gzip" "${podman[*]} load -q -i $work/gzip.tar"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cat "$work/times" >&2

command="bench/unpack.sh $size_mb $runs"
[ -z "${ROOTFS_TAR:-}" ] || command="ROOTFS_TAR=$ROOTFS_TAR bench/unpack.sh - $runs"
python3 - "$work" "$bytes" "$files" "$gzip_bytes" "$command" "$runs" "$load_before" "$load_after" "$what" <<'PY'
import sys, statistics
work, size, files, gz, command, runs, lb, la, what = sys.argv[1:10]
size, files, gz = int(size), int(files), int(gz)
wall, cpu = {}, {}
for line in open(f"{work}/times"):
    label, e, u, s = line.split()
    wall.setdefault(label, []).append(float(e))
    cpu.setdefault(label, []).append(float(u) + float(s))
med = lambda d, k: statistics.median(d[k])
print("## Run: first-run unpack\n")
if what.startswith("a synthetic"):
    what = (f"a {size/1e6:.0f} MB root filesystem of {files} entries (60% of the bytes in 40 large files, "
            f"half incompressible; the rest 1-24 KiB text files; a symlink and a hard link)")
else:
    what = f"{what}, {size/1e6:.0f} MB in {files} entries"
print(f"One image, {what}, as one layer: "
      f"uncompressed ({size/1e6:.0f} MB, as `strata import` stores it) or gzip ({gz/1e6:.0f} MB, as registries "
      f"serve it). Time from nothing unpacked to a root filesystem ready to mount, after `sync` and with the "
      f"page cache dropped before each run.\n")
print("| layer | strata, ready to run | strata, on disk | umoci unpack | umoci / strata (ready) | umoci / strata (on disk) |")
print("|---|---|---|---|---|---|")
for layout in ("plain", "gzip"):
    s, n, u = (med(wall, f"{t}/{layout}") for t in ("strata", "strata-flushed", "umoci"))
    print(f"| {layout}, wall | {s:.2f} s | {n:.2f} s | {u:.2f} s | {u/s:.1f}x | {u/n:.1f}x |")
    s, n, u = (med(cpu, f"{t}/{layout}") for t in ("strata", "strata-flushed", "umoci"))
    print(f"| {layout}, CPU (user+sys) | {s:.2f} s | {n:.2f} s | {u:.2f} s | {u/s:.1f}x | {u/n:.1f}x |")
p = med(wall, "podman/gzip")
print(f"\n`podman load` of the gzip archive (podman copies the blobs into its store and unpacks them as it "
      f"loads): {p:.2f} s wall, {med(cpu, 'podman/gzip'):.2f} s CPU.")
print(f"\nstrata is snapshot Prepare: the blob read and its digest verified, gzip decompressed and the diff ID "
      f"checked in one goroutine, entries created in a second, file contents and metadata written in a third; "
      f"then a pending mark (fsynced) and the rename that makes the snapshot visible: ready to run. "
      f"`strata run` then starts `strata flush-snapshots` in the background, whose `syncfs` puts the files "
      f"on disk: the on-disk column is unpack and flush in one process. umoci unpack also "
      f"writes an mtree manifest of what it unpacked and does not sync. Medians of {runs} interleaved runs; "
      f"load average {lb} before, {la} after. Command: `{command}`.")
PY
