FROM alpine
RUN --security=insecure mount -t proc proc /proc
