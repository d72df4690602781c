// Command canned is the ceiling for bench/serve.sh: an HTTP server that
// parses nothing and answers every read from a connection with the same
// response, the tutorial's {"prediction": [0]}. What wrk measures against
// it is what the loopback network and wrk itself leave to any server on
// the machine; no real server can answer faster.
//
// It assumes one request per read, which holds for wrk and curl sending
// small requests one at a time (no pipelining); it is a benchmark tool,
// not a server.
//
// Usage: canned HOST:PORT
package main

import (
	"fmt"
	"net"
	"os"
)

const response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n{\"prediction\":[0]}\n"

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: canned HOST:PORT")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "canned:", err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "canned:", err)
			os.Exit(1)
		}
		go answer(c)
	}
}

// answer writes the response once per read until the client goes away.
func answer(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 16<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
		if _, err := c.Write([]byte(response)); err != nil {
			return
		}
	}
}
