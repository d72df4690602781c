package cli

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/strata-ml/strata/internal/runtime"
)

func TestParsePort(t *testing.T) {
	for in, want := range map[string]runtime.Port{
		"80":                   {ContainerPort: 80, Proto: "tcp"},
		"5000:5000":            {HostPort: 5000, ContainerPort: 5000, Proto: "tcp"},
		"127.0.0.1:8080:80":    {HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		"127.0.0.1::80/tcp":    {HostIP: "127.0.0.1", ContainerPort: 80, Proto: "tcp"},
		"[::1]:8080:80":        {HostIP: "::1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		"0.0.0.0:18080:80/tcp": {HostIP: "0.0.0.0", HostPort: 18080, ContainerPort: 80, Proto: "tcp"},
	} {
		got, err := parsePort(in)
		if err != nil || got != want {
			t.Errorf("parsePort(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "80/udp", "1:2:3:4", "70000:80", "80:0", "-1:80"} {
		if _, err := parsePort(bad); err == nil {
			t.Errorf("parsePort(%q) succeeded", bad)
		}
	}
}

func TestParseVolume(t *testing.T) {
	m, err := parseVolume("/data/:/mnt/data:ro")
	if err != nil || m != (runtime.Mount{Source: "/data", Destination: "/mnt/data"}) {
		t.Errorf("parseVolume ro = %+v, %v", m, err)
	}
	m, err = parseVolume("/a:/b")
	if err != nil || !m.RW {
		t.Errorf("parseVolume rw = %+v, %v", m, err)
	}
	for _, bad := range []string{"named:/data", "/a", "/a:b", "/a:/b:zz", "/a:/b:ro:x"} {
		if _, err := parseVolume(bad); err == nil {
			t.Errorf("parseVolume(%q) succeeded", bad)
		}
	}
}

func TestParseEnv(t *testing.T) {
	t.Setenv("STRATA_TEST_FROM_HOST", "host")
	f := filepath.Join(t.TempDir(), "env")
	os.WriteFile(f, []byte("# comment\n\nFILE=1\nSTRATA_TEST_FROM_HOST\nSTRATA_TEST_UNSET\n"), 0o644)
	got, err := parseEnv([]string{"A=1", "STRATA_TEST_FROM_HOST", "EMPTY="}, []string{f})
	want := []string{"FILE=1", "STRATA_TEST_FROM_HOST=host", "A=1", "STRATA_TEST_FROM_HOST=host", "EMPTY="}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("parseEnv = %v, %v; want %v", got, err, want)
	}
	if _, err := parseEnv([]string{"=x"}, nil); err == nil {
		t.Error("an empty name was accepted")
	}
	if _, err := parseEnv(nil, []string{"/no/such/file"}); err == nil {
		t.Error("a missing env file was accepted")
	}
}

func TestShellJoin(t *testing.T) {
	if got := shellJoin([]string{"sh", "-c", "exit 3", "it's"}); got != `sh -c 'exit 3' 'it'\''s'` {
		t.Errorf("shellJoin = %s", got)
	}
}
