FROM alpine
COPY --from=a --from=b /x /y
