#!/usr/bin/env bash
# bench/serve.sh: strata serve against the Flask tutorial it replaces.
#
# Trains the tutorial's iris RandomForest with Debian's scikit-learn, writes
# the tutorial's Flask app.py, and measures POST /predict with wrk against
#   1. the Flask development server,
#   2. gunicorn with 2 workers (gunicorn -w 2 app:app),
#   3. strata serve on the same model.pkl (and the ceiling: a server that
#      answers every read with a canned response, parsing nothing),
# at 1 and 16 connections (16 connections in ROUNDS interleaved rounds, so
# that a change in the host's load falls on every server, both sharing the
# cores with wrk and with the server on core 0 and wrk on core 1); then batch scoring of 10,000 rows (strata predict
# against scikit-learn's in-process predict), model load time, and strata's
# memory while serving. Everything listens on and targets 127.0.0.1 only,
# and every run is bounded.
#
# Usage: bench/serve.sh            (DURATION=10s, the length of each wrk run;
#                                  ROUNDS=3, rounds at 16 connections)
# Prints a table on stderr, and the Markdown results section on stdout at
# the end (also written to the file $RESULTS, if set).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
RESULTS=${RESULTS:-}
PY=/usr/bin/python3 # Debian's python, with Debian's scikit-learn and Flask

# --- dependencies -----------------------------------------------------------
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v gunicorn >/dev/null || need+=(gunicorn)
$PY -c 'import flask' 2>/dev/null || need+=(python3-flask)
$PY -c 'import sklearn' 2>/dev/null || need+=(python3-sklearn)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
	echo "installing ${need[*]}" >&2
	apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# Other work on the machine skews every number here, latency most: say so.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${LOAD_BEFORE%% *}" 'BEGIN {exit !(l > 0.5)}'; then
	echo "warning: load average $LOAD_BEFORE before the runs: the machine is busy" >&2
fi

echo "building strata" >&2
CGO_ENABLED=0 go build -o "$WORK/strata" ./cmd/strata
go build -o "$WORK/inproc" ./bench/serve/inproc
go build -o "$WORK/canned" ./bench/serve/canned

# --- the tutorial's model and app -------------------------------------------
cd "$WORK"
cat >train.py <<'PY'
import pickle
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

iris = load_iris()
X_train, X_test, y_train, y_test = train_test_split(
    iris.data, iris.target, test_size=0.2, random_state=42)
model = RandomForestClassifier(n_estimators=100, random_state=42)
model.fit(X_train, y_train)
print(f"accuracy {model.score(X_test, y_test):.3f}")
with open("model.pkl", "wb") as f:
    pickle.dump(model, f)
PY
$PY train.py >&2

# The tutorial's app.py, as written there.
cat >app.py <<'PY'
from flask import Flask, request, jsonify
import pickle
import numpy as np

app = Flask(__name__)

with open("model.pkl", "rb") as f:
    model = pickle.load(f)

@app.route("/predict", methods=["POST"])
def predict():
    data = request.get_json()
    features = np.array(data["features"]).reshape(1, -1)
    prediction = model.predict(features).tolist()
    return jsonify({"prediction": prediction})

if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)
PY

cat >post.lua <<'LUA'
wrk.method = "POST"
wrk.body = '{"features": [5.1, 3.5, 1.4, 0.2]}'
wrk.headers["Content-Type"] = "application/json"
LUA

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_up URL: until POST /predict answers the tutorial's {"prediction": [0]}.
wait_up() {
	for _ in $(seq 100); do
		if out=$(curl -s -X POST "$1/predict" -H "Content-Type: application/json" -d '{"features": [5.1, 3.5, 1.4, 0.2]}' 2>/dev/null) &&
			[[ $(tr -d ' \n' <<<"$out") == '{"prediction":[0]}' ]]; then
			return 0
		fi
		sleep 0.1
	done
	echo "no {\"prediction\": [0]} from $1: ${out:-nothing}" >&2
	return 1
}

# to_ms VALUE: wrk's 1.23ms / 456.78us / 1.2s as milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
		else { sub(/s$/, "", v); printf "%.3f", v * 1000 } }'
}

# bench NAME URL CONNS [KEY]: req/s and p99 (ms) into RPS[KEY], P99[KEY]
# (KEY defaults to NAME/CONNS).
declare -A RPS P99 ERRS
# WRK_PREFIX and WRK_THREADS, when set, change how wrk runs.
bench() {
	local name=$1 url=$2 c=$3 key=${4:-$1/$3} t=1 out
	((c > 1)) && t=2
	t=${WRK_THREADS:-$t}
	out=$(${WRK_PREFIX:-} wrk -t"$t" -c"$c" -d"$DURATION" --timeout 5s --latency -s post.lua "$url/predict")
	echo "$out" >"wrk-${key//\//-}.txt"
	RPS[$key]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
	P99[$key]=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
	ERRS[$key]=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
	printf '%-12s c=%-3s %8s req/s  p99 %8s ms %s\n' "$key" "$c" "${RPS[$key]}" "${P99[$key]}" "${ERRS[$key]}" >&2
}

# median VALUE...: the middle value (the lower of the two middle ones).
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# rss_kb PID...: the summed resident set of processes, in KiB.
rss_kb() { local s=0 p; for p in "$@"; do s=$((s + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status"))); done; echo $s; }

# --- 1. Flask's development server (what app.run starts) -------------------
# app.run's host and port are the tutorial's 0.0.0.0:5000; `flask run` starts
# the same threaded Werkzeug server on 127.0.0.1 and a free port instead.
port=$(free_port)
$PY -m flask --app app run --host 127.0.0.1 --port "$port" >flask.log 2>&1 &
PIDS+=($!)
FLASK_PID=$!
wait_up "http://127.0.0.1:$port"
bench flask "http://127.0.0.1:$port" 1
bench flask "http://127.0.0.1:$port" 16
FLASK_RSS=$(rss_kb "$FLASK_PID")
kill "$FLASK_PID"; wait "$FLASK_PID" 2>/dev/null || true

# --- 2. gunicorn with 2 workers, strata serve, and the ceiling ---------------
# All of them start now and stay up, idle but for their turn, so that the
# 16-connection runs take turns in rounds.
declare -A URL
# start NAME CMD...: start a server, output to NAME.log, on the address
# in $addr (a free port on 127.0.0.1), and wait for its answer.
start() {
	local name=$1
	shift
	"$@" >"$name.log" 2>&1 &
	PIDS+=($!)
	eval "${name^^}_PID=\$!"
	URL[$name]=http://$addr
	wait_up "${URL[$name]}"
}
# strata first, so that its start and model load (its banner) do not
# compete with gunicorn's workers importing scikit-learn.
addr=127.0.0.1:$(free_port); start strata ./strata serve --host 127.0.0.1 --port "${addr##*:}" model.pkl
# The same server on one thread (GOMAXPROCS=1), wrk as before on the same
# 2 cores: a second Go thread mostly wakes the first and takes CPU from wrk.
addr=127.0.0.1:$(free_port); start one ./strata serve --threads 1 --host 127.0.0.1 --port "${addr##*:}" model.pkl
# bench/serve/canned answers every read with the same response and parses
# nothing: the most any server can answer here through the same loopback
# and the same wrk, on one thread and on as many as there are CPUs.
addr=127.0.0.1:$(free_port); start canned1 env GOMAXPROCS=1 ./canned "$addr"
addr=127.0.0.1:$(free_port); start canned ./canned "$addr"
addr=127.0.0.1:$(free_port); start gunicorn gunicorn -w 2 -b "$addr" app:app
# The same servers on core 0 with wrk (one thread) on core 1, so that
# neither preempts the other: each server has one core to itself, and the
# latency is the server's, not the scheduler's.
addr=127.0.0.1:$(free_port); start pinned taskset -c 0 ./strata serve --threads 1 --host 127.0.0.1 --port "${addr##*:}" model.pkl
addr=127.0.0.1:$(free_port); start canned1p taskset -c 0 env GOMAXPROCS=1 ./canned "$addr"
addr=127.0.0.1:$(free_port); start gunicornp taskset -c 0 gunicorn -w 2 -b "$addr" app:app
STRATA_IDLE_RSS=$(rss_kb "$STRATA_PID")

for name in gunicorn strata one; do bench "$name" "${URL[$name]}" 1; done
SHARED=(gunicorn strata one canned1 canned) PINNED=(gunicornp pinned canned1p)
# cpu_ticks PID...: CPU time the processes have used, in clock ticks.
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
declare -A TICKS PROCS=([gunicorn]="$GUNICORN_PID $(pgrep -P "$GUNICORN_PID" | tr '\n' ' ')" [strata]=$STRATA_PID [one]=$ONE_PID)
for r in $(seq "$ROUNDS"); do
	for name in "${SHARED[@]}"; do
		before=$(cpu_ticks ${PROCS[$name]:-})
		bench "$name" "${URL[$name]}" 16 "$name/16/$r"
		TICKS[$name]=$((${TICKS[$name]:-0} + $(cpu_ticks ${PROCS[$name]:-}) - before))
	done
	for name in "${PINNED[@]}"; do
		WRK_PREFIX="taskset -c 1" WRK_THREADS=1 bench "$name" "${URL[$name]}" 16 "$name/16/$r"
	done
done
# Each server's median over the rounds, and each round's ratio to gunicorn
# in the same round and the same setting.
declare -A RATIOS
for name in "${SHARED[@]}" "${PINNED[@]}"; do
	base=gunicorn
	[[ " ${PINNED[*]} " == *" $name "* ]] && base=gunicornp
	rps=() p99=()
	for r in $(seq "$ROUNDS"); do
		rps+=("${RPS[$name/16/$r]}") p99+=("${P99[$name/16/$r]}")
		RATIOS[$name]+="$(awk -v a="${RPS[$name/16/$r]}" -v b="${RPS[$base/16/$r]}" 'BEGIN {printf "%.0f", (b > 0 ? a / b : 0)}') "
	done
	RPS[$name/16]=$(median "${rps[@]}") P99[$name/16]=$(median "${p99[@]}")
	RATIOS[$name]=$(median ${RATIOS[$name]})x\ \(rounds:\ $(sed 's/ *$//; s/ /x, /g; s/$/x/' <<<"${RATIOS[$name]}")\)
done
# How many of the cores each server used while wrk ran against it.
declare -A CORES
for name in "${!PROCS[@]}"; do
	CORES[$name]=$(awk -v t="${TICKS[$name]}" -v hz="$(getconf CLK_TCK)" -v ms="$(to_ms "$DURATION")" -v r="$ROUNDS" 'BEGIN {printf "%.2f", t / hz / (r * ms / 1000)}')
done

GUNI_RSS=$(rss_kb "$GUNICORN_PID" $(pgrep -P "$GUNICORN_PID"))
STRATA_RSS=$(rss_kb "$STRATA_PID")
# strata's own histogram of the time in its handler (no network, no
# queueing for a CPU): the bucket that holds the 99th percentile.
HANDLER_P99=$(curl -s "${URL[strata]}/metrics" | awk '
	/^strata_http_request_duration_seconds_bucket\{endpoint="\/predict"/ {
		match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5); n++; les[n] = le; cnt[n] = $2 }
	END { total = cnt[n]; for (i = 1; i <= n; i++) if (cnt[i] >= 0.99 * total) { printf "%g", les[i] * 1000; exit } }')
STRATA_HWM=$(awk '/^VmHWM:/ {print $2}' "/proc/$STRATA_PID/status")
kill -TERM "$STRATA_PID"
wait "$STRATA_PID" && STRATA_EXIT=0 || STRATA_EXIT=$?
BANNER=$(head -1 strata.log)
for p in "$GUNICORN_PID" "$ONE_PID" "$CANNED1_PID" "$CANNED_PID" "$GUNICORNP_PID" "$PINNED_PID" "$CANNED1P_PID"; do
	kill "$p"
	wait "$p" 2>/dev/null || true
done
c1=${RPS[canned1/16]:-0} c2=${RPS[canned/16]:-0}
CEILING=$(( c1 > c2 ? c1 : c2 ))

# --- 4. batch of 10,000 rows ------------------------------------------------
cat >batch.py <<'PY'
import pickle, sys, time
import numpy as np
rng = np.random.default_rng(0)
from sklearn.datasets import load_iris
X = load_iris().data
rows = X[rng.integers(0, len(X), 10000)] + rng.normal(0, 0.3, (10000, 4)).round(1)
np.savetxt("rows.csv", rows, delimiter=",", fmt="%.1f")
rows = np.loadtxt("rows.csv", delimiter=",")
with open("model.pkl", "rb") as f:
    model = pickle.load(f)
best = best_e2e = 1e9
for _ in range(5):
    t = time.perf_counter(); pred = model.predict(rows); best = min(best, time.perf_counter() - t)
for _ in range(5):
    t = time.perf_counter()
    r = np.loadtxt("rows.csv", delimiter=","); p = model.predict(r); np.savetxt("sk.csv", p, fmt="%d")
    best_e2e = min(best_e2e, time.perf_counter() - t)
np.savetxt("sklearn-pred.csv", pred, fmt="%d", header="prediction", comments="")
# pickle.load alone, sklearn already imported
best_load = 1e9
for _ in range(20):
    t = time.perf_counter()
    with open("model.pkl", "rb") as f:
        pickle.load(f)
    best_load = min(best_load, time.perf_counter() - t)
print(f"{best*1000:.2f} {best_e2e*1000:.2f} {best_load*1000:.2f}")
PY
read -r SK_PREDICT_MS SK_E2E_MS SK_LOAD_MS < <($PY batch.py)
# What starting any process costs here (best of 5 runs of /bin/true): part
# of every strata predict run, and of none of scikit-learn's in-process ones.
TRUE_MS=1e9
for _ in 1 2 3 4 5; do
	s=$(date +%s%N)
	/bin/true
	e=$(date +%s%N)
	TRUE_MS=$(awk -v a="$TRUE_MS" -v b="$(( (e - s) / 1000 ))" 'BEGIN {b /= 1000; printf "%.2f", (b < a ? b : a)}')
done
STRATA_BATCH_MS=1e9
for _ in 1 2 3 4 5; do
	s=$(date +%s%N)
	./strata predict model.pkl --input rows.csv >strata-pred.csv
	e=$(date +%s%N)
	STRATA_BATCH_MS=$(awk -v a="$STRATA_BATCH_MS" -v b="$(( (e - s) / 1000 ))" 'BEGIN {b /= 1000; printf "%.2f", (b < a ? b : a)}')
done
if cmp -s strata-pred.csv sklearn-pred.csv; then SAME=yes; else SAME=NO; fi

# --- 5. model load, and strata's predict in process --------------------------
read -r LOAD_FIRST_MS LOAD_MEDIAN_MS GO_PREDICT_MS GO_PAR_MS < <(./inproc model.pkl rows.csv)
BANNER_LOAD=$(sed -n 's/.*(loaded in \(.*\))$/\1/p' <<<"$BANNER")

# --- report -----------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f", a / b; else print "n/a" }'; }
ratio1() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
met() { if awk "BEGIN {exit !($1)}"; then echo "met"; else echo "**not met**"; fi; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
NCPU=$(nproc)
SKV=$($PY -c 'import sklearn; print(sklearn.__version__)')
FLV=$($PY -c 'import importlib.metadata as m; print(m.version("flask"))')
GUV=$(gunicorn --version 2>&1 | grep -o '[0-9][0-9.]*' | head -1)
GOV=$(go env GOVERSION)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

{
	cat <<EOF
Measured by \`bench/serve.sh\` (\`DURATION=$DURATION\`; run from the repository root) on $(date -u +%Y-%m-%d):
$NCPU cores ($CPU), Debian's Python $($PY -c 'import platform; print(platform.python_version())'), scikit-learn $SKV, Flask $FLV,
gunicorn $GUV; strata built with $GOV. The model is the tutorial's: \`RandomForestClassifier(n_estimators=100,
random_state=42)\` on the iris training split, pickled by \`pickle.dump\`. Every server answers the tutorial's
\`curl\` body with \`{"prediction": [0]}\` before it is measured. wrk (\`wrk -t1 -c1\` and \`wrk -t2 -c16\`,
$DURATION each, \`--latency\`, a Lua script POSTing \`{"features": [5.1, 3.5, 1.4, 0.2]}\`) runs on the same
$NCPU cores as the server it measures, except in the rows that put the server on core 0 and wrk on core 1.
At 16 connections gunicorn, strata and the ceiling took turns in $ROUNDS rounds, all of them up
throughout, in two settings: sharing the $NCPU cores with wrk, and each server on core 0 with wrk
(\`-t1\`) on core 1. Their rows give the median of the rounds' req/s and of their p99s, and the ratio
column the median of the rounds' ratios to gunicorn's req/s in the same round and setting.
Load average (1, 5, 15 min) before the runs: $LOAD_BEFORE; after: $LOAD_AFTER.

| POST /predict, one row | connections | req/s | p99 latency | strata's req/s is |
|---|---:|---:|---:|---:|
| Flask development server | 1 | ${RPS[flask/1]} | ${P99[flask/1]} ms | $(ratio "${RPS[strata/1]}" "${RPS[flask/1]}")x |
| Flask development server | 16 | ${RPS[flask/16]} | ${P99[flask/16]} ms | $(ratio "${RPS[strata/16]}" "${RPS[flask/16]}")x |
| gunicorn -w 2 | 1 | ${RPS[gunicorn/1]} | ${P99[gunicorn/1]} ms | $(ratio "${RPS[strata/1]}" "${RPS[gunicorn/1]}")x |
| gunicorn -w 2 | 16 | ${RPS[gunicorn/16]} | ${P99[gunicorn/16]} ms | ${RATIOS[strata]} |
| **strata serve** | 1 | ${RPS[strata/1]} | ${P99[strata/1]} ms | |
| **strata serve** | 16 | ${RPS[strata/16]} | ${P99[strata/16]} ms | |
| **strata serve --threads 1** | 1 | ${RPS[one/1]} | ${P99[one/1]} ms | $(ratio "${RPS[one/1]}" "${RPS[gunicorn/1]}")x gunicorn's |
| **strata serve --threads 1** | 16 | ${RPS[one/16]} | ${P99[one/16]} ms | ${RATIOS[one]} gunicorn's |
| the ceiling: a canned response to every read (bench/serve/canned), one thread | 16 | ${RPS[canned1/16]} | ${P99[canned1/16]} ms | ${RATIOS[canned1]} gunicorn's |
| the ceiling, a thread per CPU | 16 | ${RPS[canned/16]} | ${P99[canned/16]} ms | ${RATIOS[canned]} gunicorn's |
| gunicorn -w 2 on core 0, wrk (\`-t1\`) on core 1 | 16 | ${RPS[gunicornp/16]} | ${P99[gunicornp/16]} ms | ${RATIOS[pinned]} |
| **strata serve --threads 1** on core 0, wrk (\`-t1\`) on core 1 | 16 | ${RPS[pinned/16]} | ${P99[pinned/16]} ms | ${RATIOS[pinned]} gunicorn's |
| the ceiling, one thread on core 0, wrk (\`-t1\`) on core 1 | 16 | ${RPS[canned1p/16]} | ${P99[canned1p/16]} ms | ${RATIOS[canned1p]} gunicorn's |

| Other measurements | strata | Python | |
|---|---:|---:|---|
| 10,000 rows, predict only, in process | ${GO_PREDICT_MS} ms on one core (${GO_PAR_MS} ms on $NCPU) | ${SK_PREDICT_MS} ms (one core) | strata: one \`Model.Predict\` call for all the rows, with GOMAXPROCS=1 and then all cores (bench/serve/inproc); scikit-learn: \`model.predict(X)\` (the tutorial's forest has n_jobs=None: one core); best of 5 each |
| 10,000 rows, CSV in, CSV out | ${STRATA_BATCH_MS} ms | ${SK_E2E_MS} ms | \`strata predict model.pkl --input rows.csv\` as a new process each time (start, load, parse, predict, write), best of 5 (starting \`/bin/true\` took ${TRUE_MS} ms, best of 5); Python: \`np.loadtxt\` + \`predict\` + \`np.savetxt\` in process; same predictions: $SAME |
| model load | ${LOAD_FIRST_MS} ms first, ${LOAD_MEDIAN_MS} ms median | ${SK_LOAD_MS} ms | strata: \`model.Load\` in a fresh process (bench/serve/inproc), then the median of 49 more (\`strata serve\` reported ${BANNER_LOAD}); Python: \`pickle.load\` with scikit-learn already imported, best of 20 |
| resident memory while serving | $(mb "$STRATA_RSS") MB (peak $(mb "$STRATA_HWM") MB, $(mb "$STRATA_IDLE_RSS") MB idle) | Flask $(mb "$FLASK_RSS") MB, gunicorn $(mb "$GUNI_RSS") MB (master + 2 workers) | after the 16-connection run |

Goals of the issue:
- ≥100x gunicorn's req/s at 16 connections, each server on core 0 and wrk on core 1 (every server gets the same CPU, and wrk a core of its own): strata ${RATIOS[pinned]}, $(met "${RATIOS[pinned]%%x*} >= 100"); the ceiling ${RATIOS[canned1p]}. Sharing the $NCPU cores with wrk: ${RATIOS[strata]} by default, $(met "${RATIOS[strata]%%x*} >= 100"); with \`--threads 1\`, ${RATIOS[one]}, $(met "${RATIOS[one]%%x*} >= 100"); the ceiling (a server that parses nothing) reached ${RATIOS[canned1]} on one thread and ${RATIOS[canned]} on $NCPU, and strata's best median is $(awk -v a="${RPS[one/16]}" -v b="${RPS[strata/16]}" -v c="$CEILING" 'BEGIN {if (b > a) a = b; if (c > 0) printf "%.0f", 100 * a / c; else print "n/a"}')% of the ceiling's. Sharing the cores is not an even match: gunicorn used ${CORES[gunicorn]} cores while wrk ran against it (wrk idles at its rate), strata ${CORES[strata]} by default and ${CORES[one]} with one thread, leaving the rest to a wrk sending ~100x as many requests.
- p99 < 2 ms at 16 connections, each server on core 0 and wrk on core 1: strata ${P99[pinned/16]} ms, $(met "${P99[pinned/16]} < 2") (gunicorn ${P99[gunicornp/16]} ms, the ceiling ${P99[canned1p/16]} ms). Sharing the cores: ${P99[strata/16]} ms by default and ${P99[one/16]} ms with \`--threads 1\`, $(met "${P99[one/16]} < 2 || ${P99[strata/16]} < 2"); the ceiling's ${P99[canned1/16]} ms on one thread and ${P99[canned/16]} ms on $NCPU. At 1 connection: ${P99[strata/1]} ms by default, ${P99[one/1]} ms with one thread. 99% of the requests spent at most ${HANDLER_P99} ms in strata's handler (its own histogram, over all its runs).
- batch of 10k rows ≥3x faster than scikit-learn in process: in process, strata's predict is $(ratio1 "$SK_PREDICT_MS" "$GO_PREDICT_MS")x scikit-learn's on one core and $(ratio1 "$SK_PREDICT_MS" "$GO_PAR_MS")x on $NCPU; \`strata predict\` as a whole process took ${STRATA_BATCH_MS} ms against ${SK_PREDICT_MS} ms for scikit-learn's \`predict\` call alone ($(ratio1 "$SK_PREDICT_MS" "$STRATA_BATCH_MS")x, not the goal's measure: it adds process start, CSV parsing and writing); in process, $(met "$GO_PREDICT_MS * 3 <= $SK_PREDICT_MS").
- model load < 10 ms: ${LOAD_FIRST_MS} ms, $(met "$LOAD_FIRST_MS < 10").
- RSS < 30 MB: $(mb "$STRATA_HWM") MB peak, $(met "$STRATA_HWM < 30 * 1024").
- strata exited with status $STRATA_EXIT on SIGTERM after the runs.
EOF
} >results.md
[[ -z $RESULTS ]] || cp results.md "$RESULTS"

printf '\n%-10s %5s %10s %10s\n' server conns req/s p99ms >&2
for n in flask gunicorn strata one canned1 canned gunicornp pinned canned1p; do
	for c in 1 16; do [[ -z ${RPS[$n/$c]:-} ]] || printf '%-10s %5s %10s %10s\n' "$n" "$c" "${RPS[$n/$c]}" "${P99[$n/$c]}" >&2; done
	[[ $n == gunicorn* || -z ${RATIOS[$n]:-} ]] || echo "           $n/gunicorn at 16 connections: ${RATIOS[$n]}" >&2
done
echo >&2
cat results.md
