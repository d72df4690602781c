FROM alpine
WORKDIR /app
WORKDIR src
ENV DIR=/data
WORKDIR $DIR/work
