FROM alpine
RUN --mount=type=cache,targt=/c echo
