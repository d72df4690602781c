FROM alpine extra
