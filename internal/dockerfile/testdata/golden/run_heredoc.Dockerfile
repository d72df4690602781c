FROM python:3.12-slim
RUN <<EOF
set -e
pip install numpy
EOF
RUN <<-EOT bash
	echo tabs are stripped
	EOT
RUN python3 <<'PY'
print("$HOME is not expanded")
PY
RUN cat <<A && cat <<B
one
A
two
B
