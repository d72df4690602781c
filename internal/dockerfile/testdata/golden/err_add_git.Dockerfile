FROM alpine
ADD https://github.com/strata-ml/strata.git /src
