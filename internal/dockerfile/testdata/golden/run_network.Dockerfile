FROM alpine
RUN --network=none echo offline
RUN --network=host wget -q http://localhost/
RUN --network=default echo default
RUN --security=sandbox echo sandboxed
