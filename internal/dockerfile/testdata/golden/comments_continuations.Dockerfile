FROM alpine
RUN echo a \
# a comment inside a continuation is dropped
    b \
    c
RUN echo d \

    e
  COPY    x   /y
