package runtime

import (
	"errors"
	"fmt"
	"io"
	"net"
	goruntime "runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Listen binds the host side of each published port, before anything is
// created, so that a port in use is a clear error and nothing starts. Port
// 0 picks a free one, recorded in the returned ports.
func Listen(ports []Port) ([]net.Listener, []Port, error) {
	var ls []net.Listener
	out := append([]Port{}, ports...)
	for i, p := range out {
		if p.Proto != "" && p.Proto != "tcp" {
			closeAll(ls)
			return nil, nil, fmt.Errorf("publish %d/%s: only tcp ports can be published", p.ContainerPort, p.Proto)
		}
		out[i].Proto = "tcp"
		if out[i].HostIP == "" {
			out[i].HostIP = "0.0.0.0"
		}
		addr := net.JoinHostPort(out[i].HostIP, strconv.Itoa(p.HostPort))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll(ls)
			if errors.Is(err, unix.EADDRINUSE) {
				return nil, nil, fmt.Errorf("bind for %s failed: port is already allocated", addr)
			}
			return nil, nil, fmt.Errorf("publish %s: %w", addr, err)
		}
		out[i].HostPort = l.Addr().(*net.TCPAddr).Port
		ls = append(ls, l)
	}
	return ls, out, nil
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}

// nsDialer dials TCP connections from inside a network namespace: a
// goroutine locked to an OS thread that has joined the namespace (the
// thread is never returned to Go's pool; it exits with the goroutine).
type nsDialer struct {
	reqs chan dialReq
	done chan struct{}
	once sync.Once
}

type dialReq struct {
	addr string
	resp chan dialResp
}

type dialResp struct {
	conn net.Conn
	err  error
}

// newNSDialer joins the network namespace at path (/proc/PID/ns/net).
func newNSDialer(path string) (*nsDialer, error) {
	d := &nsDialer{reqs: make(chan dialReq), done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		// Never unlocked: the thread has left the host's namespace.
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open network namespace: %w", err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		errc <- nil
		dialer := net.Dialer{Timeout: 5 * time.Second}
		for {
			select {
			case <-d.done:
				return
			case req := <-d.reqs:
				// The socket is created on this thread, so in the
				// namespace; connecting to loopback completes at once.
				c, err := dialer.Dial("tcp", req.addr)
				req.resp <- dialResp{c, err}
			}
		}
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return d, nil
}

func (d *nsDialer) dial(addr string) (net.Conn, error) {
	resp := make(chan dialResp, 1)
	select {
	case d.reqs <- dialReq{addr, resp}:
	case <-d.done:
		return nil, errors.New("the container has stopped")
	}
	r := <-resp
	return r.conn, r.err
}

func (d *nsDialer) close() { d.once.Do(func() { close(d.done) }) }

// proxy forwards the connections each listener accepts to the matching
// container port on the container's loopback.
type proxy struct {
	dialer *nsDialer
	ls     []net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
}

func startProxy(nsPath string, ls []net.Listener, ports []Port) (*proxy, error) {
	d, err := newNSDialer(nsPath)
	if err != nil {
		return nil, err
	}
	p := &proxy{dialer: d, ls: ls, conns: map[net.Conn]bool{}}
	for i, l := range ls {
		target := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[i].ContainerPort))
		p.wg.Add(1)
		go p.serve(l, target)
	}
	return p, nil
}

func (p *proxy) serve(l net.Listener, target string) {
	defer p.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go p.forward(c, target)
	}
}

func (p *proxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	if add {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
	return true
}

func (p *proxy) forward(c net.Conn, target string) {
	defer c.Close()
	if !p.track(c, true) {
		return
	}
	defer p.track(c, false)
	up, err := p.dialer.dial(target)
	if err != nil {
		return // the client sees the connection closed, as with Docker's proxy
	}
	defer up.Close()
	p.track(up, true)
	defer p.track(up, false)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

// close stops accepting, closes open connections and leaves the namespace.
func (p *proxy) close() {
	closeAll(p.ls)
	p.wg.Wait()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.dialer.close()
}
