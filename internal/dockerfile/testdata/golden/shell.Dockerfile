FROM debian:bookworm-slim
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN curl -fsSL https://example.com | wc -c
RUN ["echo", "exec form ignores SHELL"]
