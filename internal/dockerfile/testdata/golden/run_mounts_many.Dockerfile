FROM python:3.12-slim
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,source=requirements.txt,target=/r.txt \
    --mount=type=tmpfs,target=/tmp \
    --network=none \
    pip install --no-index -r /r.txt
