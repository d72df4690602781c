FROM alpine
RUN echo ok
RUN --mount=type=ssh \
    git clone git@github.com:org/private.git
