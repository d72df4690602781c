FROM alpine
COPY --exclude=*.pyc . /app/
