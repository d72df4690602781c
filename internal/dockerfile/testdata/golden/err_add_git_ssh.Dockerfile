FROM alpine
ADD git@github.com:strata-ml/strata /src
