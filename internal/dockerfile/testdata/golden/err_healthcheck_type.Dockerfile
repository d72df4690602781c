FROM alpine
HEALTHCHECK --interval=1s EXEC true
