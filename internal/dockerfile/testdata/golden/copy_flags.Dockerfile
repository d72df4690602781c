FROM alpine
COPY --chown=1000:1000 --chmod=0755 entrypoint.sh /usr/local/bin/
COPY --link --chown=app:app app/ /app/
COPY --chmod=u=rwx,g=rx,o= run.sh /run.sh
