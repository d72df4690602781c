FROM alpine
COPY --chown a /b
