FROM --platform=@HOSTPLATFORM@ alpine:3.20 AS base
FROM --platform=$BUILDPLATFORM golang:1.22 AS build
FROM --platform=${TARGETPLATFORM} base
RUN echo ok
