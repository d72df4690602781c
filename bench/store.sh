#!/usr/bin/env bash
# Store benchmark: import and save of a ~500 MB root filesystem tarball,
# strata against podman (import/save), side by side in one run, plus the
# disk's read speed and sha256 speed for scale. Prints a Markdown section
# for BENCHMARKS.md.
# Usage: bench/store.sh [SIZE_MB]   (installs podman, hyperfine if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
size_mb=${1:-500}

need=()
for pkg in podman hyperfine python3; do
	command -v "$pkg" >/dev/null || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d /var/tmp/strata-bench.XXXXXX)
trap 'podman --root "$work/podman" --runroot "$work/podman-run" rmi -af >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/strata" ./cmd/strata
strata="$work/strata"
export STRATA_ROOT="$work/strata-store"
podman=(podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay)

# A root filesystem like an ML base image: some large files (libraries,
# weights) that do not compress, and many small ones.
echo "== making a ${size_mb} MB root filesystem tarball" >&2
mkdir -p "$work/rootfs/usr/lib" "$work/rootfs/usr/share/doc"
large=$(( size_mb * 8 / 10 ))
for i in $(seq 1 "$large"); do head -c 1048576 /dev/urandom > "$work/rootfs/usr/lib/lib$i.so"; done
python3 - "$work/rootfs/usr/share/doc" "$(( size_mb - large ))" <<'PY'
import os, sys, random
root, mb = sys.argv[1], int(sys.argv[2])
random.seed(1)
words = [b"model", b"layer", b"tensor", b"python", b"numpy", b"strata", b"weights", b"\n"]
n = mb * 1024 * 1024 // 8192
for i in range(n):
    d = os.path.join(root, "pkg%03d" % (i % 500))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%d.txt" % i), "wb") as f:
        f.write(b" ".join(random.choice(words) for _ in range(1200))[:8192])
PY
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
rm -rf "$work/rootfs"
bytes=$(stat -c %s "$work/rootfs.tar")
files=$(tar -tf "$work/rootfs.tar" | wc -l)
echo "tarball: $bytes bytes, $files entries" >&2

# Scale: how fast this machine reads the file and hashes it.
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
cold=$( { /usr/bin/time -f %e dd if="$work/rootfs.tar" of=/dev/null bs=1M status=none; } 2>&1 )
warm=$( { /usr/bin/time -f %e dd if="$work/rootfs.tar" of=/dev/null bs=1M status=none; } 2>&1 )
sha=$( { /usr/bin/time -f %e sha256sum "$work/rootfs.tar" >/dev/null; } 2>&1 )

hf() { hyperfine --style none --runs 5 --export-json "$work/$1.json" "${@:2}" >&2; }
hf import \
	--prepare "$strata rmi -f big >/dev/null 2>&1 || true; ${podman[*]} rmi -f big >/dev/null 2>&1 || true; sync" \
	-n "strata import" "$strata import $work/rootfs.tar big" \
	-n "podman import" "${podman[*]} import $work/rootfs.tar big"
"$strata" import "$work/rootfs.tar" big >/dev/null
"${podman[@]}" import "$work/rootfs.tar" big >/dev/null
hf save \
	--prepare "rm -f $work/out.tar; sync" \
	-n "strata save" "$strata save -o $work/out.tar big" \
	-n "podman save" "${podman[*]} save -o $work/out.tar localhost/big:latest"

python3 - "$work" "$bytes" "$cold" "$warm" "$sha" "$size_mb" <<'PY'
import json, sys
work, size, cold, warm, sha, mb = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
mbs = lambda s: size / s / 1e6
def load(n):
    return {r["command"]: r for r in json.load(open(f"{work}/{n}.json"))["results"]}
print(f"## Store: import and save\n")
print(f"A {size/1e6:.0f} MB root filesystem tarball (80% incompressible large files, the rest 8 KiB text files).")
print(f"Disk read: {mbs(cold):.0f} MB/s cold (caches dropped), {mbs(warm):.0f} MB/s warm; `sha256sum`: {mbs(sha):.0f} MB/s.\n")
print("| operation | strata | podman | podman / strata | strata throughput |")
print("|---|---|---|---|---|")
for op in ("import", "save"):
    r = load(op)
    s, p = r[f"strata {op}"], r[f"podman {op}"]
    print(f"| {op} | {s['median']*1000:.0f} ms | {p['median']*1000:.0f} ms | {p['median']/s['median']:.1f}x | {mbs(s['median']):.0f} MB/s |")
print()
print(f"Medians of 5 runs (hyperfine). Command: `bench/store.sh {mb}`.")
PY
