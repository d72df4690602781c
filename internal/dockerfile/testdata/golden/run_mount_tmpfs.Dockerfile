FROM alpine
RUN --mount=type=tmpfs,target=/tmp du -sh /tmp
RUN --mount=type=tmpfs,target=/scratch,size=64m echo
