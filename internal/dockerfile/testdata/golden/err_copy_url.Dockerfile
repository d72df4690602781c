FROM alpine
COPY https://example.com/model.onnx /models/
