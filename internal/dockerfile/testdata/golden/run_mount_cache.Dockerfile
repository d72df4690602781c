FROM python:3.12-slim
RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt
RUN --mount=type=cache,target=/var/cache/apt,id=apt,sharing=locked apt-get update
RUN --mount=type=cache,target=/cache,sharing=private,mode=0700,uid=1000,gid=1000,ro echo
