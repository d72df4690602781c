FROM alpine
FROBNICATE all the things
