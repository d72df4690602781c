# comment
RUN echo too early
FROM alpine
