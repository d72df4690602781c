FROM alpine
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/model.onnx /models/model.onnx
ADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 http://example.com/a.txt /a.txt
