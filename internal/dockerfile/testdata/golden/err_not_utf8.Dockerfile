FROM alpine
LABEL name="café"
