FROM alpine
LABEL org.opencontainers.image.title="strata demo" \
      org.opencontainers.image.version=1.0
LABEL "quoted key"="v" plain=yes
LABEL multi="line one\
 line two"
