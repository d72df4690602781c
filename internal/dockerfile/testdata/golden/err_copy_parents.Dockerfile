FROM alpine
COPY --parents ./src/*/main.py /app/
