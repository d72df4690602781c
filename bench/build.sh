#!/usr/bin/env bash
# Build benchmark (issue 3): strata build against buildah bud --layers, side
# by side in one run, each on its own warm cache, same context and base:
#   (a) no-op rebuild of the article's project (cache-friendly Dockerfile)
#   (b) rebuild after a one-file change (app.py rewritten before each run)
#   (c) cold builds (no cache) of a context of 10,000 small files and of one
#       1 GB random file, with sha256sum, gzip and pigz on the same data for
#       scale, and strata's throughput and CPU use.
# Then a profile of strata on the same cases: per-step times from
# --progress json, a syscall summary (strace -c) and a perf profile.
# Prints a Markdown section for BENCHMARKS.md on stdout; progress on stderr.
#
# Usage: bench/build.sh            (as root; installs buildah, runc, podman,
#        hyperfine, debootstrap, pigz, jq, strace, perf if missing; about
#        9 minutes, plus about 20 the first time for the debootstrap base)
# Env:   RUNS=10 (strata, a and b)  BUILDAH_RUNS=5 (buildah, a and b)
#        SMALL_RUNS=3  BIG_RUNS=2 (c, each tool)  BIG_MB=1024  SMALL_FILES=10000
#        BASE_CACHE=/var/tmp/strata-bench-base (the python:3.10 stand-in,
#        made once by bench/build/mkbase.sh with debootstrap; delete to remake)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export PATH="/usr/local/go/bin:$PATH"
runs=${RUNS:-10}
buildah_runs=${BUILDAH_RUNS:-5}
small_runs=${SMALL_RUNS:-3}
big_runs=${BIG_RUNS:-2}
big_mb=${BIG_MB:-1024}
small_files=${SMALL_FILES:-10000}
base_cache=${BASE_CACHE:-/var/tmp/strata-bench-base}
log() { echo "== $(date -u +%T) $*" >&2; }

need=()
for cmd in buildah:buildah podman:podman hyperfine:hyperfine debootstrap:debootstrap pigz:pigz jq:jq \
	strace:strace perf:linux-perf python3:python3 openssl:openssl /usr/bin/time:time; do
	command -v "${cmd%%:*}" >/dev/null || need+=("${cmd#*:}")
done
# buildah's RUN needs an OCI runtime (only a Recommends of the package).
command -v runc >/dev/null || command -v crun >/dev/null || need+=(runc)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

start_uptime=$(uptime)
start_time=$(date -u '+%Y-%m-%d %H:%M UTC')
t0=$SECONDS

# The base image: the python:3.10 stand-in (cached across runs).
log "base image (cached in $base_cache)"
"$repo/bench/build/mkbase.sh" "$base_cache"
base_kind=$(cat "$base_cache/KIND")
base_tar=$base_cache/rootfs.tar
base_bytes=$(stat -c %s "$base_tar")

work=$(mktemp -d /var/tmp/strata-bench-build.XXXXXX)
B=(buildah --root "$work/buildah" --runroot "$work/buildah-run" --storage-driver overlay)
P=(podman --root "$work/buildah" --runroot "$work/buildah-run" --storage-driver overlay)
cleanup() {
	"${B[@]}" rm -a >/dev/null 2>&1 || true
	"${B[@]}" rmi -a -f >/dev/null 2>&1 || true
	# Anything still mounted under the temp storage (a killed run).
	grep -o " $work/[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done || true
	rm -rf "$work" "${shm:-}"
}
trap cleanup EXIT
log "building strata"
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- cmd internal go.mod go.sum 2>/dev/null || rev="$rev + uncommitted changes"
CGO_ENABLED=0 go build -o "$work/strata" ./cmd/strata
# The same binary with cgo (dynamic, through ld.so and libc): a data point on
# process start, not used for the builds.
CGO_ENABLED=1 go build -o "$work/strata-dynamic" ./cmd/strata
S=$work/strata
export STRATA_ROOT=$work/strata-store
bud=("${B[@]}" bud --layers --pull=never)

log "importing the base ($((base_bytes / 1000000)) MB) into both stores"
tm() { # LOG CMD...: runs CMD with its output in LOG, prints its wall seconds
	local out=$1; shift
	/usr/bin/time -o "$work/time" -f %e "$@" >"$out" 2>&1 || { cat "$out" >&2; return 1; }
	cat "$work/time"
}
imp_strata=$(tm "$work/import-strata.log" "$S" import "$base_tar" python:3.10)
imp_buildah=$(tm "$work/import-buildah.log" "${P[@]}" import -q "$base_tar" docker.io/library/python:3.10)

# The article's project (examples/ml-flask), cache-friendly order.
app=$work/app
mkdir -p "$app"
cp examples/ml-flask/app.py examples/ml-flask/requirements.txt examples/ml-flask/train_model.py examples/ml-flask/.dockerignore "$app/"
cat > "$app/Dockerfile" <<'EOF'
FROM python:3.10
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
EXPOSE 5000
CMD ["python", "app.py"]
EOF

log "first builds of the project (RUN pip install)"
first_strata=$(tm "$work/first-strata.log" "$S" build --progress json -t app "$app")
first_steps=$(jq -r 'select(.Status=="done") | "\(.Instruction) \(.DurationMS // 0) ms"' "$work/first-strata.log" | paste -sd';' | sed 's/;/; /g')
first_buildah=$(tm "$work/first-buildah.log" "${bud[@]}" -t app "$app")

# Every timed command runs without a shell (-N): hyperfine then subtracts
# no shell start-up time, which on a loaded machine is noisy enough to turn
# a 30 ms run into "0 ms".
hf() { # NAME HYPERFINE-ARGS...: runs hyperfine, results in $work/NAME.json
	local name=$1; shift
	hyperfine --style basic --export-json "$work/$name.json" "$@" >&2
}
pair() { # NAME STRATA-CMD BUILDAH-CMD STRATA-RUNS BUILDAH-RUNS HYPERFINE-ARGS...
	local name=$1 sc=$2 bc=$3 sr=$4 br=$5; shift 5
	hf "$name-strata" -N --runs "$sr" "$@" -n strata "$sc"
	hf "$name-buildah" -N --runs "$br" "$@" -n buildah "$bc"
}
# med FILE COMMAND: median wall seconds; cpu: (user + sys) / mean wall, in
# cores; cpus: mean user + sys seconds per run.
med() { jq -r ".results[] | select(.command==\"$2\") | .median" "$work/$1.json"; }
cpu() { jq -r ".results[] | select(.command==\"$2\") | ((.user + .system) / .mean)" "$work/$1.json"; }
cpus() { jq -r ".results[] | select(.command==\"$2\") | (.user + .system)" "$work/$1.json"; }
ms() { awk -v s="$1" 'BEGIN { v = s * 1000; if (v < 100) printf "%.1f ms", v; else if (v < 10000) printf "%.0f ms", v; else printf "%.1f s", v / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", b / a }'; }
mbs() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f MB/s", n / 1e6 / s }'; }

log "(a) no-op rebuild"
pair noop "$S build -t app $app" "${bud[*]} -t app $app" "$runs" "$buildah_runs" --warmup 1
# The floor for any strata command: process start (Go runtime and package
# init, no store access).
hf version --warmup 1 --runs "$runs" -N -n "strata version" "$S version" \
	-n "dynamic version" "$work/strata-dynamic version" -n "true" "true"

log "(b) one-file change"
pair change "$S build -t app $app" "${bud[*]} -t app $app" "$runs" "$buildah_runs" \
	--warmup 1 --prepare "$repo/bench/build/newapp.sh $app/app.py"

# (c) cold builds: FROM scratch + COPY, so the time is the context's walk,
# hashing, layer writing and (strata) compression. Before each run both
# stores drop the previous result, so nothing is reused.
log "(c) making the contexts: $small_files small files, ${big_mb} MB file"
small=$work/small big=$work/big
mkdir -p "$small" "$big"
python3 - "$small" "$small_files" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(3)
words = [b"import", b"numpy", b"def", b"return", b"model", b"self", b"tensor", b"\n", b"    "]
for i in range(n):
    d = os.path.join(root, "src", "pkg%02d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    size = rnd.randint(500, 4000)
    with open(os.path.join(d, "mod%05d.py" % i), "wb") as f:
        f.write(b" ".join(rnd.choice(words) for _ in range(size // 5))[:size])
PY
head -c "$((big_mb * 1048576))" /dev/urandom > "$big/model.bin"
printf 'FROM scratch\nCOPY . /data\n' > "$small/Dockerfile"
printf 'FROM scratch\nCOPY model.bin /data/model.bin\n' > "$big/Dockerfile"
printf 'Dockerfile\n' > "$big/.dockerignore"
small_bytes=$(du -sb --exclude=Dockerfile "$small" | cut -f1)
big_bytes=$(stat -c %s "$big/model.bin")
drop_s="$S rmi -f cold >/dev/null 2>&1 || true; $S prune -f >/dev/null 2>&1 || true"
drop_b="${B[*]} rmi -f cold >/dev/null 2>&1 || true; ${B[*]} rmi -p -f >/dev/null 2>&1 || true"
# sync: the root file system is mounted with `discard`, so deleting the
# previous run's 1 GB of blobs sends the disk discards at the next journal
# commit, which would otherwise land inside the timed run that follows.
printf '%s\n%s\nsync\n' "$drop_s" "$drop_b" > "$work/drop.sh"

log "(c) cold build, small files"
pair small "$S build --no-cache -t cold $small" "${bud[*]} --no-cache -t cold $small" \
	"$small_runs" "$small_runs" --warmup 1 --prepare "sh $work/drop.sh"
log "(c) cold build, ${big_mb} MB file"
pair big "$S build --no-cache -t cold $big" "${bud[*]} --no-cache -t cold $big" \
	"$big_runs" "$big_runs" --prepare "sh $work/drop.sh"

# The same builds with the store on tmpfs: what strata's walking, hashing
# and compression do with no disk under them. Faster than the disk runs,
# they show the disk, not strata, bounds the cold builds.
shm=$(mktemp -d /dev/shm/strata-bench.XXXXXX)
Sm="env STRATA_ROOT=$shm/store $S"
printf '%s rmi -f cold >/dev/null 2>&1 || true; %s prune -f >/dev/null 2>&1 || true\n' "$Sm" "$Sm" > "$work/drop-shm.sh"
log "(c) cold builds, store on tmpfs"
hf tmpfs -N --prepare "sh $work/drop-shm.sh" --runs "$big_runs" \
	-n small "$Sm build --no-cache -t cold $small" -n big "$Sm build --no-cache -t cold $big"
rm -rf "$shm"

log "(c) reference points on the same data"
hf ref-small --warmup 1 --runs 3 \
	-n "tar | sha256sum" "tar -C $small -cf - . | sha256sum" \
	-n "tar | gzip -1" "tar -C $small -cf - . | gzip -1 >/dev/null" \
	-n "tar | pigz -6" "tar -C $small -cf - . | pigz -6 >/dev/null"
hf ref-big --runs 2 \
	-n "sha256sum" "sha256sum $big/model.bin" \
	-n "gzip -1" "gzip -1 -c $big/model.bin >/dev/null" \
	-n "pigz -1" "pigz -1 -c $big/model.bin >/dev/null" \
	-n "pigz -6" "pigz -6 -c $big/model.bin >/dev/null" \
	-n "openssl sha256" "openssl dgst -sha256 $big/model.bin" \
	-n "cat" "cat $big/model.bin >/dev/null" \
	-n "dd fsync" "dd if=$big/model.bin of=$work/ddcopy bs=4M conv=fsync status=none"

# Profile: where strata's time goes.
log "profile: per-step times, strace, perf"
steps() { # CTX ARGS...: "INSTRUCTION: N ms" per executed step, total wall
	local ctx=$1; shift
	local t=$(date +%s%N)
	"$S" build --progress json "$@" "$ctx" 2>"$work/steps.json" >/dev/null
	local wall=$(( ($(date +%s%N) - t) / 1000000 ))
	jq -r 'select(.Status=="done" or .Status=="cached") | "\(.Instruction) \(if .Status=="cached" then "cached" else "\(.DurationMS // 0) ms" end)"' "$work/steps.json" | paste -sd';' | sed 's/;/; /g'
	echo "process wall ${wall} ms"
}
"$S" build -t app "$app" >/dev/null 2>&1
prof_noop=$(steps "$app" -t app)
"$repo/bench/build/newapp.sh" "$app/app.py"
prof_change=$(steps "$app" -t app)
eval "$drop_s"
prof_big=$(steps "$big" --no-cache -t cold)
strace -f -c -o "$work/strace-noop.txt" "$S" build -t app "$app" >/dev/null 2>&1
"$repo/bench/build/newapp.sh" "$app/app.py"
strace -f -c -o "$work/strace-change.txt" "$S" build -t app "$app" >/dev/null 2>&1
sysc() { awk '$1 ~ /^[0-9.]+$/ && NF >= 5 && n++ < 8 { printf "%s x%s (%.1f ms), ", $NF, $4, $2 * 1000 }' "$1"; }
# fsync-like calls and their count
syncs() { awk '$NF ~ /^(fsync|fdatasync|syncfs|sync_file_range)$/ { printf "%s x%s (%s s) ", $NF, $4, $2 }' "$1"; }
noop_top=$(sysc "$work/strace-noop.txt")
change_sync=$(syncs "$work/strace-change.txt")
noop_sync=$(syncs "$work/strace-noop.txt")
eval "$drop_s"
perf record -q -F 499 -g -o "$work/perf.data" -- "$S" build --no-cache -t cold "$big" >/dev/null 2>&1 || true
# Function totals with callees for strata's own code (what calls the time).
own() { perf report -i "$1" --stdio --children --sort symbol -g none 2>/dev/null |
	awk '/^ +[0-9.]+%/ && $4 ~ /strata-ml\/strata\/internal\/(build|buildctx|content|layer)\./ { sub(/.*strata-ml\/strata\/internal\//, "", $4); if ($4 !~ /^build\.(Build|\(\*builder\)\.(buildStage|runStep|prepare|prepareCopy))$/) printf "%s %s\n", $1, $4 }' | head -n "$2" || true; }
big_own=$(own "$work/perf.data" 8)
eval "$drop_s"
perf record -q -F 999 -g -o "$work/perf-small.data" -- "$S" build --no-cache -t cold "$small" >/dev/null 2>&1 || true
small_own=$(own "$work/perf-small.data" 8)
small_top=$(perf report -i "$work/perf-small.data" --stdio --no-children --sort symbol 2>/dev/null |
	awk '/^ +[0-9.]+%/ { printf "%s %s%s\n", $1, ($2 == "[k]" ? "kernel:" : ""), $3 }' | head -n 8 || true)
small_kernel=$(perf report -i "$work/perf-small.data" --stdio --no-children --sort dso 2>/dev/null | awk '/kernel/ { print $1; exit }' || true)
perf_top=$(perf report -i "$work/perf.data" --stdio --no-children --sort symbol 2>/dev/null |
	awk '/^ +[0-9.]+%/ { printf "%s %s%s\n", $1, ($2 == "[k]" ? "kernel:" : ""), $3 }' | head -n 12 || true)
eval "$drop_s"
"$S" build -t app "$app" >/dev/null 2>&1
perf record -q -F 4999 -g -o "$work/perf-noop.data" -- sh -c "for i in 1 2 3 4 5 6 7 8 9 10; do $S build -t app $app >/dev/null 2>&1; done" || true
perf_noop=$(perf report -i "$work/perf-noop.data" --stdio --no-children --sort dso 2>/dev/null |
	awk '/^ +[0-9.]+%/ { printf "%s %s\n", $1, $2 }' | head -n 8 || true)

end_uptime=$(uptime)
elapsed=$((SECONDS - t0))

# The report.
for c in noop change small big; do
	eval "s_$c=\$(med $c-strata strata) b_$c=\$(med $c-buildah buildah)"
	eval "sc_$c=\$(cpus $c-strata strata) bc_$c=\$(cpus $c-buildah buildah)"
	eval "su_$c=\$(cpu $c-strata strata) bu_$c=\$(cpu $c-buildah buildah)"
done
sv=$(med version "strata version") svc=$(cpus version "strata version")
svs=$(med version "dynamic version") svsc=$(cpus version "dynamic version")
tv=$(med version "true") tvc=$(cpus version "true")
mn() { jq -r ".results[] | select(.command==\"$2\") | .min" "$work/$1.json"; }
goal() { awk -v v="$1" -v g="$2" 'BEGIN { print (v * 1000 < g) ? "met" : "missed" }'; }
cores() { printf %.2f "$1"; }
cmdline="RUNS=$runs BUILDAH_RUNS=$buildah_runs SMALL_RUNS=$small_runs BIG_RUNS=$big_runs BIG_MB=$big_mb SMALL_FILES=$small_files bench/build.sh"
cat <<EOF
## Build: strata build vs buildah bud --layers

Measured $start_time with \`$cmdline\`
($elapsed s in all; strata at $rev, built with CGO_ENABLED=0): \`strata build\` against \`buildah bud --layers --pull=never\`
(buildah $(buildah --version | awk '{print $3}'), Debian package, overlay storage in a temp
dir), each on its own warm build cache, same context and base. hyperfine
medians of $runs strata and $buildah_runs buildah runs for (a) and (b), $small_runs and $big_runs runs
each for (c); page cache warm in every case. CPU is user + sys per run.

- Base: \`python:3.10\` stand-in, $base_kind;
  tarball $((base_bytes / 1000000)) MB, imported in ${imp_strata} s by strata, ${imp_buildah} s by \`podman import\` into buildah's storage.
- Project: the article's \`app.py\`, \`requirements.txt\`, \`train_model.py\`,
  \`.dockerignore\` (examples/ml-flask) with the cache-friendly Dockerfile
  (\`COPY requirements.txt .\` / \`RUN pip install\` / \`COPY . .\`). First build
  (runs pip): strata ${first_strata} s (${first_steps}), buildah ${first_buildah} s. (b) rewrites
  \`app.py\` with new content before each run (\`bench/build/newapp.sh\`).
- (c): \`FROM scratch\` + \`COPY\` of $small_files files of 0.5-4 KB ($((small_bytes / 1000000)) MB) or of one
  ${big_mb} MiB random file; both tools drop the previous result before each run
  (\`rmi\` + \`prune\`, not timed). strata writes gzip layers (level 6, pgzip) to its store;
  buildah stores the layer uncompressed in overlay (it compresses only on push).
- Load average at start: \`${start_uptime#*load average: }\`; at end: \`${end_uptime#*load average: }\`
  (2 cores, shared with other engineers' test runs: wall times are inflated
  by waiting for a CPU; CPU times and ratios are the steadier numbers).

| case | strata median (min) | buildah median (min) | buildah / strata | strata CPU | buildah CPU | goal |
|---|---|---|---|---|---|---|
| (a) no-op rebuild | $(ms "$s_noop") ($(ms "$(mn noop-strata strata)")) | $(ms "$b_noop") ($(ms "$(mn noop-buildah buildah)")) | $(ratio "$s_noop" "$b_noop") | $(ms "$sc_noop") | $(ms "$bc_noop") | < 30 ms: **$(goal "$s_noop" 30)** |
| (b) one-file change (app.py) | $(ms "$s_change") ($(ms "$(mn change-strata strata)")) | $(ms "$b_change") ($(ms "$(mn change-buildah buildah)")) | $(ratio "$s_change" "$b_change") | $(ms "$sc_change") | $(ms "$bc_change") | < 50 ms: **$(goal "$s_change" 50)** |
| (c) cold, $small_files small files ($((small_bytes / 1000000)) MB) | $(ms "$s_small") | $(ms "$b_small") | $(ratio "$s_small" "$b_small") | $(ms "$sc_small") | $(ms "$bc_small") | |
| (c) cold, ${big_mb} MiB file | $(ms "$s_big") | $(ms "$b_big") | $(ratio "$s_big" "$b_big") | $(ms "$sc_big") | $(ms "$bc_big") | disk speed, 2 cores |
| \`strata version\` (process start only) | $(ms "$sv") ($(ms "$(mn version "strata version")")) | | | $(ms "$svc") | | |
| same, built with cgo (dynamic) | $(ms "$svs") ($(ms "$(mn version "dynamic version")")) | | | $(ms "$svsc") | | |
| \`true\` (fork + exec floor) | $(ms "$tv") | | | $(ms "$tvc") | | |

Throughput and cores used in (c) (cores = CPU / wall; 2 is both cores), with
standard tools on the same data for scale:

| on the data | ${small_files} small files | ${big_mb} MiB file |
|---|---|---|
| strata build --no-cache | $(mbs "$small_bytes" "$s_small"), $(cores "$su_small") cores | $(mbs "$big_bytes" "$s_big"), $(cores "$su_big") cores |
| strata build --no-cache, store on tmpfs | $(mbs "$small_bytes" "$(med tmpfs small)"), $(cores "$(cpu tmpfs small)") cores | $(mbs "$big_bytes" "$(med tmpfs big)"), $(cores "$(cpu tmpfs big)") cores |
| buildah bud --layers --no-cache | $(mbs "$small_bytes" "$b_small"), $(cores "$bu_small") cores | $(mbs "$big_bytes" "$b_big"), $(cores "$bu_big") cores |
| sha256sum | $(mbs "$small_bytes" "$(med ref-small "tar | sha256sum")") (tar \| sha256sum) | $(mbs "$big_bytes" "$(med ref-big sha256sum)") |
| gzip -1 (1 core) | $(mbs "$small_bytes" "$(med ref-small "tar | gzip -1")") (tar \| gzip -1) | $(mbs "$big_bytes" "$(med ref-big "gzip -1")") |
| pigz -1 | | $(mbs "$big_bytes" "$(med ref-big "pigz -1")"), $(cores "$(cpu ref-big "pigz -1")") cores |
| openssl dgst -sha256 (SHA-NI, 1 core) | | $(mbs "$big_bytes" "$(med ref-big "openssl sha256")") |
| cat (read, page cache) | | $(mbs "$big_bytes" "$(med ref-big cat)") |
| dd bs=4M conv=fsync (disk write) | | $(mbs "$big_bytes" "$(med ref-big "dd fsync")") |
| pigz -6 (strata's level) | $(mbs "$small_bytes" "$(med ref-small "tar | pigz -6")") (tar \| pigz -6) | $(mbs "$big_bytes" "$(med ref-big "pigz -6")"), $(cores "$(cpu ref-big "pigz -6")") cores |

Where strata's time goes (one run each; step times from \`--progress json\`,
the rest of the process's wall time is process start, reading the
Dockerfile, walking and hashing the context, opening the store, tagging):

- (a) ${prof_noop//$'\n'/; }
- (b) ${prof_change//$'\n'/; }
- (c) ${big_mb} MiB: ${prof_big//$'\n'/; }
- (a) syscalls (\`strace -f -c\`, most time first): ${noop_top%, }
- sync calls: (a) ${noop_sync:-none}; (b) ${change_sync:-none}
- (a) CPU by binary (\`perf\`, 10 no-op builds): $(echo "$perf_noop" | paste -sd';' | sed 's/;/; /g')
- (c) ${big_mb} MiB, CPU by function (\`perf\`): $(echo "$perf_top" | paste -sd';' | sed 's/;/; /g')
- (c) ${big_mb} MiB, strata functions with callees: $(echo "$big_own" | paste -sd';' | sed 's/;/; /g')
- (c) $small_files files, CPU by function (\`perf\`, kernel ${small_kernel:-?} in all): $(echo "$small_top" | paste -sd';' | sed 's/;/; /g')
- (c) $small_files files, strata functions with callees: $(echo "$small_own" | paste -sd';' | sed 's/;/; /g')
EOF
