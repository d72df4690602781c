FROM alpine
# A local directory whose name ends in .git is copied, not cloned.
ADD vendor/lib.git /opt/lib.git
COPY ./repo.git /src/repo.git
COPY --from=builder https://not-a-url-in-a-stage /x
