FROM alpine AS base
RUN echo base > /base
FROM base AS test
RUN cat /base
FROM base
COPY --from=test /base /tested
COPY --from=1 /base /byindex
