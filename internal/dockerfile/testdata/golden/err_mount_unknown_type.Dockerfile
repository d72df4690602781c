FROM alpine
RUN --mount=type=cach,target=/c echo
