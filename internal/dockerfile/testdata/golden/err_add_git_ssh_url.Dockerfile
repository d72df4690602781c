FROM alpine
ADD ssh://git@example.com/org/repo /src
