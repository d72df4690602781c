FROM golang:1.22 AS build
RUN echo > /out
FROM alpine
RUN --mount=target=/src go build ./...
RUN --mount=type=bind,from=build,source=/out,target=/in,rw cat /in
RUN --mount=type=bind,src=requirements.txt,dst=/tmp/requirements.txt,readonly=false pip install -r /tmp/requirements.txt
