# check=skip=JSONArgsRecommended
FROM alpine
# check=error=true
RUN echo a
# A comment about the next stage.
#check=skip=all
FROM alpine AS second
