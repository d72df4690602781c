package runtime

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

func TestLogsRoundTrip(t *testing.T) {
	r, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &State{ID: strings.Repeat("a", 64), Status: Exited}
	if err := os.MkdirAll(r.Dir(st.ID), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := saveState(r.Dir(st.ID), st); err != nil {
		t.Fatal(err)
	}
	lf, err := openLog(r.LogPath(st.ID))
	if err != nil {
		t.Fatal(err)
	}
	var tee bytes.Buffer
	copyStream(strings.NewReader("one\ntwo\nthr"), "stdout", lf, &tee, nil)
	copyStream(io.MultiReader(strings.NewReader("err1\n")), "stderr", lf, nil, nil)
	lf.Close()
	if tee.String() != "one\ntwo\nthr" {
		t.Errorf("tee got %q", tee.String())
	}
	b, _ := os.ReadFile(r.LogPath(st.ID))
	if n := strings.Count(string(b), "\n"); n != 4 || !strings.Contains(string(b), `{"log":"one\n","stream":"stdout","time":"`) {
		t.Errorf("log file (%d lines):\n%s", n, b)
	}
	var out, errb bytes.Buffer
	if err := r.Logs(context.Background(), st, &out, &errb, LogsOptions{Tail: -1}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "one\ntwo\nthr" || errb.String() != "err1\n" {
		t.Errorf("logs: stdout %q stderr %q", out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if err := r.Logs(context.Background(), st, &out, &errb, LogsOptions{Tail: 2}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "thr" || errb.String() != "err1\n" {
		t.Errorf("logs --tail 2: stdout %q stderr %q", out.String(), errb.String())
	}
}

func TestGateDropsRuncErrors(t *testing.T) {
	g := newGate()
	var tee bytes.Buffer
	done := make(chan struct{})
	go func() {
		copyStream(strings.NewReader("runc run failed: boom\n"), "stderr", nil, &tee, g)
		close(done)
	}()
	close(g.drop)
	<-done
	if tee.Len() != 0 {
		t.Errorf("a dropped gate let %q through", tee.String())
	}
	g = newGate()
	tee.Reset()
	close(g.open)
	copyStream(strings.NewReader("real output\n"), "stderr", nil, &tee, g)
	if tee.String() != "real output\n" {
		t.Errorf("an open gate gave %q", tee.String())
	}
}
