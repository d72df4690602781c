#!/usr/bin/env bash
# Run benchmark: wall time of `strata run --rm IMAGE true` against bare
# `runc run` on a prepared bundle (the same spec strata generates, on a
# plain root filesystem directory), `podman run --rm --network none`
# (runc as its runtime) and the floor (a minimal Go program running the
# same runc command), side by side in one hyperfine run. Prints a
# Markdown section for BENCHMARKS.md.
# Usage: bench/run.sh [RUNS [ROUNDS]]   (root; installs runc, podman, hyperfine, busybox-static)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
runs=${1:-50}
rounds=${2:-5}

need=()
for pkg in runc podman hyperfine busybox-static python3; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d /var/tmp/strata-bench-run.XXXXXX)
podman=(podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay --runtime runc --cgroup-manager cgroupfs --events-backend file)
cleanup() {
	"$work/strata" rm -f tmpl >/dev/null 2>&1 || true
	"${podman[@]}" rmi -af >/dev/null 2>&1 || true
	umount -R "$work/podman" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
CGO_ENABLED=0 go build -o "$work/strata" ./cmd/strata
strata="$work/strata"
export STRATA_ROOT="$work/strata-store"

# A busybox root filesystem with every applet.
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

"$strata" import "$work/busybox.tar" busybox >/dev/null 2>&1
"$strata" run --rm busybox true # unpacks the layer once

# Bare runc: strata's own spec for the image, on a prepared bundle.
"$strata" run --name tmpl busybox true
id=$("$strata" inspect -f '{{.Id}}' tmpl)
mkdir -p "$work/bundle"
cp -a "$work/rootfs" "$work/bundle/rootfs"
python3 - "$STRATA_ROOT/containers/$id" "$work/bundle" <<'PY'
import json, shutil, sys, os
src, dst = sys.argv[1], sys.argv[2]
spec = json.load(open(os.path.join(src, "config.json")))
spec["root"]["path"] = "rootfs"
spec["linux"]["cgroupsPath"] = "/strata-bench/runc"
for m in spec["mounts"]:
    if m["source"].startswith(src):
        name = os.path.basename(m["source"])
        shutil.copy(m["source"], os.path.join(dst, name))
        m["source"] = os.path.join(dst, name)
json.dump(spec, open(os.path.join(dst, "config.json"), "w"))
PY
"$strata" rm tmpl >/dev/null

# podman, with runc and limits within this machine's hard limits.
cat >"$work/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
CONF
export CONTAINERS_CONF="$work/containers.conf"
"${podman[@]}" import -q "$work/busybox.tar" busybox >/dev/null
"${podman[@]}" run --rm --network none busybox true

# The floor for any Go program that runs a container with runc: start, run
# runc on the prepared bundle, wait for it. strata does that plus its own
# work (image, snapshots, overlay, spec, state, clean-up).
mkdir -p "$work/floor"
cat >"$work/floor/main.go" <<'GO'
package main

import (
	"os"
	"os/exec"
)

func main() {
	cmd := exec.Command("runc", os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		os.Exit(1)
	}
}
GO
printf 'module floor\ngo 1.22\n' >"$work/floor/go.mod"
(cd "$work/floor" && CGO_ENABLED=0 go build -o "$work/floor/floor" .)

# On a shared machine the load drifts: hyperfine runs in rounds, each
# timing all three commands, and the times of every round are pooled.
for r in $(seq 1 "$rounds"); do
	hyperfine -N --warmup 2 --runs "$(( runs / rounds ))" --export-json "$work/run-$r.json" \
		-n "strata run --rm" "$strata run --rm busybox true" \
		-n "runc run (bundle)" "runc --root $work/runc-state run --bundle $work/bundle bench" \
		-n "go floor" "$work/floor/floor --root $work/runc-state run --bundle $work/bundle bench" \
		-n "podman run --rm" "${podman[*]} run --rm --network none busybox true" >&2
done

python3 - "$work" "$runs" "$rounds" <<'PY'
import glob, json, statistics, sys
work, runs, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
times = {}
for f in sorted(glob.glob(work + "/run-*.json")):
    for x in json.load(open(f))["results"]:
        times.setdefault(x["command"], []).extend(x["times"])
s, b, p = times["strata run --rm"], times["runc run (bundle)"], times["podman run --rm"]
g = times["go floor"]
mean, med = statistics.mean, statistics.median
ms = lambda t: "%.1f ms ± %.1f" % (mean(t) * 1e3, statistics.stdev(t) * 1e3)
md = lambda t: "%.1f ms" % (med(t) * 1e3)
print("## Run: strata run --rm\n")
print("`bench/run.sh %d %d`: hyperfine in %d rounds of %d runs of each command (after 2 warm-ups), times pooled;" % (runs, rounds, rounds, runs // rounds))
print("wall time of a container running `true` from a busybox image whose layer is already unpacked.")
print("Load average when it ended: %s (2 cores)." % open("/proc/loadavg").read().split()[0])
print()
print("| command | mean | median |")
print("|---|---|---|")
print("| `strata run --rm busybox true` | %s | %s |" % (ms(s), md(s)))
print("| `runc run` on a prepared bundle (strata's spec) | %s | %s |" % (ms(b), md(b)))
print("| `podman run --rm --network none busybox true` (runc) | %s | %s |" % (ms(p), md(p)))
print("| the floor: a minimal Go program that runs the same `runc run` and waits | %s | %s |" % (ms(g), md(g)))
print()
print("strata / bare runc: **%.2fx** (median %.2fx); podman / strata: **%.1fx** (median %.1fx)." % (
    mean(s) / mean(b), med(s) / med(b), mean(p) / mean(s), med(p) / med(s)))
print()
print("podman / the floor: %.1fx (median %.1fx): what any Go program over runc could reach here; "
      "strata adds %.1f ms (median %.1f ms) to the floor." % (
    mean(p) / mean(g), med(p) / med(g), (mean(s) - mean(g)) * 1e3, (med(s) - med(g)) * 1e3))
PY
