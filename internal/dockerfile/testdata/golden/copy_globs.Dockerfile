FROM python:3.12-slim
COPY requirements*.txt setup.py /app/
COPY src/**/*.py /app/src/
COPY ["file with spaces.txt", "/app/dest dir/"]
COPY model.pkl /app/model.pkl
