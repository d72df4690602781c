# A static binary on an empty base.
FROM scratch
COPY strata-serve /strata-serve
ENTRYPOINT ["/strata-serve"]
