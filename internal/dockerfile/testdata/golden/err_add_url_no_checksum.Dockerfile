FROM alpine
ADD https://example.com/model.onnx /models/
