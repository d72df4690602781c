FROM scratch
ADD rootfs.tar.gz /
ADD --chown=0:0 --chmod=644 model.tar /models/
ADD --link weights/*.safetensors /weights/
