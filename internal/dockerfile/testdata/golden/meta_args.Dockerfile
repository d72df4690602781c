# ARGs before FROM are meta args, usable in FROM.
ARG BASE=python
ARG TAG=3.12-slim
ARG NODEFAULT
FROM ${BASE}:${TAG}
ARG TAG
RUN echo "$TAG"
