package runtime

import (
	"io/fs"
	"slices"
	"testing"
)

func files(m map[string]string) FileReader {
	return func(name string) ([]byte, error) {
		if b, ok := m[name]; ok {
			return []byte(b), nil
		}
		return nil, fs.ErrNotExist
	}
}

func TestResolveUser(t *testing.T) {
	read := files(map[string]string{
		"/etc/passwd": "# users\nroot:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nnohome:x:1001:1001:::/bin/sh\n",
		"/etc/group":  "root:x:0:\napp:x:1000:\nstaff:x:50:app,other\nvideo:x:44:app\n",
	})
	for _, c := range []struct {
		in         string
		uid, gid   uint32
		home       string
		additional []uint32
	}{
		{"", 0, 0, "/root", nil},
		{"root", 0, 0, "/root", nil},
		{"app", 1000, 1000, "/home/app", []uint32{50, 44}},
		{"app:staff", 1000, 50, "/home/app", nil},
		{"1000", 1000, 1000, "/home/app", []uint32{50, 44}},
		{"1000:7", 1000, 7, "/home/app", nil},
		{"4242", 4242, 0, "/", nil},
		{"nohome", 1001, 1001, "/", nil},
	} {
		u, err := ResolveUser(c.in, read)
		if err != nil {
			t.Errorf("ResolveUser(%q): %v", c.in, err)
			continue
		}
		if u.UID != c.uid || u.GID != c.gid || u.Home != c.home || !slices.Equal(u.AdditionalGids, c.additional) {
			t.Errorf("ResolveUser(%q) = %+v, want %d:%d %s %v", c.in, u, c.uid, c.gid, c.home, c.additional)
		}
	}
	for _, bad := range []string{"nobody", "app:nogroup"} {
		if _, err := ResolveUser(bad, read); err == nil {
			t.Errorf("ResolveUser(%q) succeeded", bad)
		}
	}
	// No passwd file: numeric IDs still work, names do not.
	if u, err := ResolveUser("0", files(nil)); err != nil || u.UID != 0 || u.Home != "/root" {
		t.Errorf("root without passwd: %+v %v", u, err)
	}
	if _, err := ResolveUser("app", files(nil)); err == nil {
		t.Error("a name resolved without a passwd file")
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "A=1"}, []string{"A=2", "B=3", "BARE"})
	if want := []string{"PATH=/bin", "A=2", "B=3"}; !slices.Equal(got, want) {
		t.Errorf("mergeEnv = %v, want %v", got, want)
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]int{"KILL": 9, "sigterm": 15, "SIGHUP": 1, "2": 2} {
		s, err := ParseSignal(in)
		if err != nil || int(s) != want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, s, err, want)
		}
	}
	for _, bad := range []string{"NOPE", "0", "99", ""} {
		if _, err := ParseSignal(bad); err == nil {
			t.Errorf("ParseSignal(%q) succeeded", bad)
		}
	}
}
