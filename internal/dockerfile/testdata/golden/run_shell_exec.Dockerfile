FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      ca-certificates \
      curl \
    && rm -rf /var/lib/apt/lists/*
RUN ["/bin/sh", "-c", "echo exec form"]
RUN [ "echo", "spaced json" ]
RUN echo "not json: [a]"
