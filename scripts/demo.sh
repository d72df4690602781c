#!/usr/bin/env bash
# strata's main job, end to end, on a fresh Debian machine: build strata;
# make a busybox base image; build an image from a Dockerfile (twice, to show
# the cache and why a step reruns); run containers, one publishing a port;
# train the article's scikit-learn model and serve it with `strata serve`,
# no Python at serving time; save the image as an archive docker/podman load.
# Installs (apt-get, only what is missing): busybox-static, runc,
# python3-sklearn.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

need=()
for pkg in busybox-static runc python3-sklearn; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
serve_pid=""
cleanup() {
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
	"$strata" rm -f web >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
export STRATA_ROOT="${STRATA_ROOT:-$work/store}"
strata=$work/strata
run() { printf '\n$ %s\n' "$*" | sed "s|$work|\$WORK|g"; "$@"; }
wget=(/bin/busybox wget -q -O -)

CGO_ENABLED=0 go build -o "$strata" ./cmd/strata
echo "store: $STRATA_ROOT"

echo; echo "== images: a busybox root filesystem imported as an image"
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp" "$work/rootfs/www"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$work/rootfs/bin/$applet"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
echo 'root:x:0:' > "$work/rootfs/etc/group"
echo 'hello from a strata container' > "$work/rootfs/www/index.html"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
run "$strata" import "$work/rootfs.tar" busybox:latest
run "$strata" images

echo; echo "== build: the article's project layout on the busybox base"
app="$work/app"
mkdir -p "$app"
cp examples/ml-flask/app.py examples/ml-flask/requirements.txt examples/ml-flask/.dockerignore "$app/"
cat > "$app/Dockerfile" <<'DOCKERFILE'
FROM busybox
WORKDIR /app
COPY requirements.txt .
RUN cat requirements.txt > installed.txt
COPY . .
EXPOSE 5000
CMD ["cat", "/app/installed.txt"]
DOCKERFILE
run "$strata" build --check examples/ml-flask || true
run "$strata" build -t ml-flask-app "$app"
echo "# app.py changes: only COPY . . and what follows rerun, and strata says why"
echo "# a change" >> "$app/app.py"
run "$strata" build -t ml-flask-app "$app"
run "$strata" history ml-flask-app

if [ "$(id -u)" -eq 0 ]; then
	echo; echo "== run: containers on runc, the image's layers under a writable one"
	run "$strata" run --rm ml-flask-app
	run "$strata" run -d --name web -p 18080:80 busybox httpd -f -p 80 -h /www
	for i in $(seq 50); do "${wget[@]}" http://127.0.0.1:18080/ >/dev/null 2>&1 && break; sleep 0.1; done
	run "${wget[@]}" http://127.0.0.1:18080/
	run "$strata" ps
	run "$strata" stop -t 1 web
	run "$strata" rm web
else
	echo; echo "== run: skipped (containers need root)"
fi

echo; echo "== serve: the article's model, served natively, no Python"
(cd "$work" && /usr/bin/python3 "$OLDPWD/examples/ml-flask/train_model.py")
"$strata" serve --port 15000 "$work/model.pkl" &
serve_pid=$!
for i in $(seq 100); do "${wget[@]}" http://127.0.0.1:15000/readyz >/dev/null 2>&1 && break; sleep 0.1; done
run "${wget[@]}" --header 'Content-Type: application/json' --post-data '{"features": [5.1, 3.5, 1.4, 0.2]}' http://127.0.0.1:15000/predict
echo
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""

echo; echo "== ship: an archive that docker load and podman load accept"
run "$strata" save -o "$work/ml-flask-app.tar" ml-flask-app
run tar -tf "$work/ml-flask-app.tar"
