FROM alpine AS first
RUN touch /built
FROM alpine
COPY --from=python:3.12-slim /usr/local/bin/python3 /usr/bin/python3
COPY --from=0 /built /built
COPY --from=first --link /built /again
