FROM alpine
ENV NAME=strata
COPY <<EOF /etc/greeting
hello $NAME
EOF
COPY <<-"EOT" /etc/literal
	kept $NAME literally
	EOT
COPY <<one <<two /etc/
first
one
second
two
