FROM alpine
RUN --mount=type=cache,target=/c,size=1g echo
