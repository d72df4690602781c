FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build -o /out/app ./cmd/app

FROM python:3.12-slim AS Runtime
COPY --from=build /out/app /usr/local/bin/app
CMD ["app"]
