ARG BASE=alpine
ARG TAG=latest
