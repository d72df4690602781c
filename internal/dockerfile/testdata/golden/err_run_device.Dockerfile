FROM alpine
RUN --device=nvidia.com/gpu=all nvidia-smi
