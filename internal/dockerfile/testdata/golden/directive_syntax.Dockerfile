# syntax=docker/dockerfile:1.7
# check=skip=all
# This is an ordinary comment.
FROM alpine
# A comment between instructions.
RUN echo hi # not a comment: shell sees it
