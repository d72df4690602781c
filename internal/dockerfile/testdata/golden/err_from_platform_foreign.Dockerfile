FROM alpine AS ok
FROM --platform=linux/s390x alpine
