#!/usr/bin/env bash
# Sets up a fresh Debian machine for strata's tests and runs every test.
# Installs (apt-get, only what is missing) the real components the tests
# use: runc, crun, busybox-static, skopeo, podman, umoci, docker-registry,
# python3-sklearn. Usage: scripts/test.sh [go test flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

need=()
for pkg in runc crun busybox-static skopeo podman umoci docker-registry python3-sklearn python3-joblib; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "== installing: ${need[*]}"
	SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi
echo "== go vet"
go vet ./...
# third_party/gopickle is a module of its own (strata's patched gopickle,
# see its PATCHES.md): ./... stops at its go.mod.
(cd third_party/gopickle && go vet ./...)

echo "== model fixtures: regenerate with scikit-learn and compare with the committed goldens"
/usr/bin/python3 internal/model/testdata/make_fixtures.py --check

echo "== go test (race detector on the concurrent packages)"
# Every package that runs goroutines of its own: the store and its locks,
# unpack and snapshot pipelines, background hashing, the build's
# read-ahead, the ensemble's parallel predict, the server, the runtime's
# monitor and proxy, and the CLI's predict pipeline.
go test -race -count=1 ./internal/content/... ./internal/image/... ./internal/snapshot/ \
	./internal/layer/ ./internal/asynchash/ ./internal/buildctx/ ./internal/build/ \
	./internal/model/ ./internal/serve/ ./internal/runtime/ ./internal/cli/

echo "== go test"
(cd third_party/gopickle && go test -count=1 ./...)
STRATA_E2E_REQUIRE=1 go test -count=1 "$@" ./...
