FROM alpine
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --start-interval=1s --retries=3 CMD curl -f http://localhost:8080/healthz || exit 1
FROM alpine
HEALTHCHECK CMD ["wget", "-q", "-O-", "http://localhost/"]
FROM alpine
HEALTHCHECK NONE
