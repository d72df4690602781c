# escape=`
FROM alpine
RUN echo one `
    two
COPY C:\src\app.exe /app/
RUN echo back\slash
