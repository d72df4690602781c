FROM alpine
ARG SRC=build
RUN --mount=from=$SRC,target=/in echo
