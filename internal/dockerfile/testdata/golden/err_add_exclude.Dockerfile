FROM alpine
ADD --exclude=*.pyc . /app/
