FROM alpine
RUN --mount=type=cache,target=/c,sharing=exclusive echo
