package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// LogEntry is one line of a container's log, as Docker's json-file driver
// writes it.
type LogEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// logFile writes a container's output as JSON lines, one per line of
// output (a partial line is written when its stream ends or its buffer
// fills).
type logFile struct {
	mu sync.Mutex
	f  *os.File
}

func openLog(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open container log: %w", err)
	}
	return &logFile{f: f}, nil
}

func (l *logFile) write(stream string, line []byte) {
	b, err := json.Marshal(LogEntry{Log: string(line), Stream: stream, Time: time.Now().UTC()})
	if err != nil {
		return
	}
	b = append(b, '\n')
	l.mu.Lock()
	l.f.Write(b)
	l.mu.Unlock()
}

// Close closes the log file.
func (l *logFile) Close() error { return l.f.Close() }

// gate holds a stream's output until the container has started: before
// that, what comes on runc's stderr is runc's own error, which strata
// reports its own way.
type gate struct {
	open, drop chan struct{}
}

func newGate() *gate { return &gate{open: make(chan struct{}), drop: make(chan struct{})} }

// copyStream copies r to tee (if any) as it comes and to the log line by
// line, until r ends. With a gate, output waits until the gate opens and
// is discarded if it is dropped instead.
func copyStream(r io.Reader, stream string, log *logFile, tee io.Writer, g *gate) {
	buf := make([]byte, 32*1024)
	var partial, held []byte
	for {
		n, err := r.Read(buf)
		if g != nil {
			if n > 0 {
				held = append(held, buf[:n]...)
			}
			if err != nil {
				select {
				case <-g.open:
				case <-g.drop:
					return
				}
			} else {
				select {
				case <-g.open:
				case <-g.drop:
					held = nil
				default:
					continue
				}
			}
			g = nil
			n = copy(buf, held)
			if n < len(held) {
				buf = held
				n = len(held)
			}
			held = nil
		}
		if n > 0 {
			chunk := buf[:n]
			if tee != nil {
				if _, err := tee.Write(chunk); err != nil {
					tee = nil // a reader that went away (| head) stops the echo, not the log
				}
			}
			if log != nil {
				for {
					i := bytes.IndexByte(chunk, '\n')
					if i < 0 {
						partial = append(partial, chunk...)
						if len(partial) >= 16*1024 {
							log.write(stream, partial)
							partial = partial[:0]
						}
						break
					}
					if len(partial) > 0 {
						partial = append(partial, chunk[:i+1]...)
						log.write(stream, partial)
						partial = partial[:0]
					} else {
						log.write(stream, chunk[:i+1])
					}
					chunk = chunk[i+1:]
				}
			}
		}
		if err != nil {
			break
		}
	}
	if log != nil && len(partial) > 0 {
		log.write(stream, partial)
	}
}

// LogsOptions select what Logs prints.
type LogsOptions struct {
	// Follow keeps printing new lines until the container stops.
	Follow bool
	// Tail is the number of lines from the end to print; negative: all.
	Tail int
	// Timestamps prefixes each line with its time.
	Timestamps bool
}

// Logs writes a container's logged output to stdout and stderr, each line
// to the stream it came from.
func (r *Runtime) Logs(ctx context.Context, st *State, stdout, stderr io.Writer, o LogsOptions) error {
	f, err := os.Open(r.LogPath(st.ID))
	if err != nil {
		if isNotExist(err) {
			if !o.Follow {
				return nil
			}
			f = nil
		} else {
			return fmt.Errorf("open logs: %w", err)
		}
	}
	if f != nil {
		defer f.Close()
	}
	emit := func(line []byte) {
		var e LogEntry
		if json.Unmarshal(line, &e) != nil {
			return
		}
		w := stdout
		if e.Stream == "stderr" {
			w = stderr
		}
		if o.Timestamps {
			fmt.Fprintf(w, "%s %s", e.Time.Format(time.RFC3339Nano), e.Log)
			return
		}
		io.WriteString(w, e.Log)
	}
	var rd *bufio.Reader
	if f != nil {
		rd = bufio.NewReaderSize(f, 64*1024)
		if o.Tail >= 0 {
			var lines [][]byte
			for {
				line, err := rd.ReadBytes('\n')
				if len(line) > 0 && line[len(line)-1] == '\n' {
					lines = append(lines, line)
					if len(lines) > o.Tail {
						lines = lines[1:]
					}
				}
				if err != nil {
					// A partial last line is read again when following.
					if len(line) > 0 && line[len(line)-1] != '\n' {
						f.Seek(-int64(len(line)), io.SeekCurrent)
						rd.Reset(f)
					}
					break
				}
			}
			for _, l := range lines {
				emit(l)
			}
		}
	}
	var pending []byte
	for {
		if rd != nil {
			for {
				line, err := rd.ReadBytes('\n')
				pending = append(pending, line...)
				if err == nil {
					emit(pending)
					pending = pending[:0]
					continue
				}
				break
			}
		}
		if !o.Follow {
			return nil
		}
		cur, err := r.load(st.ID)
		if err != nil || !cur.Running() {
			// One last read for what came before the exit.
			if rd != nil {
				for {
					line, err := rd.ReadBytes('\n')
					pending = append(pending, line...)
					if err != nil {
						break
					}
					emit(pending)
					pending = pending[:0]
				}
			}
			return nil
		}
		if rd == nil {
			if f, err = os.Open(r.LogPath(st.ID)); err == nil {
				defer f.Close()
				rd = bufio.NewReaderSize(f, 64*1024)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}
