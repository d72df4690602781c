FROM alpine
ENV PATH=/opt/venv/bin:$PATH LANG=C.UTF-8
ENV GREETING="hello world" EMPTY=""
ENV LEGACY value with spaces
ENV A=1 \
    B=2
ENV ESCAPED=a\ b
