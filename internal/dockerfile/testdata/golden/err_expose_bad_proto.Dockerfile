FROM alpine
EXPOSE 8080/http
