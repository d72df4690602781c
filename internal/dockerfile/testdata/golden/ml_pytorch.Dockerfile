# syntax=docker/dockerfile:1
ARG PYTHON=3.11
FROM python:${PYTHON}-slim AS deps
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --prefix=/install -r requirements.txt

FROM python:${PYTHON}-slim
LABEL org.opencontainers.image.source=https://github.com/strata-ml/strata
COPY --from=deps /install /usr/local
COPY --chown=1000:1000 model/ /app/model/
COPY serve.py /app/
USER 1000
EXPOSE 8000
HEALTHCHECK --interval=10s CMD python -c "import urllib.request as u; u.urlopen('http://localhost:8000/health')"
ENTRYPOINT ["python", "/app/serve.py"]
CMD ["--workers", "2"]
