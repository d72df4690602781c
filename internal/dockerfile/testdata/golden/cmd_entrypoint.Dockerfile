FROM python:3.12-slim
ENTRYPOINT ["python3", "-m", "server"]
CMD ["--port", "8080"]
FROM alpine
ENTRYPOINT exec /bin/app --flag
CMD echo "shell form"
FROM alpine
ENTRYPOINT []
CMD []
