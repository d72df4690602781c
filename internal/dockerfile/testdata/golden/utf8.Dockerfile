FROM alpine
LABEL name="café ☕"
RUN <<EOF
echo 🐳
EOF
