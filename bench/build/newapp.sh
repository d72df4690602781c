#!/bin/sh
# Rewrites the article's app.py at $1 with new, unique content (a one-file
# code change): the original app plus a version line that differs each call.
set -eu
src=$(dirname "$0")/../../examples/ml-flask/app.py
{ cat "$src"; printf '\nVERSION = "%s-%s"\n' "$(date +%s%N)" "$$"; } > "$1.tmp"
mv "$1.tmp" "$1"
