package layer

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"./usr/bin/": "usr/bin", "/etc/passwd": "etc/passwd", "a//b/./c": "a/b/c",
		"a/b/../c": "a/c", ".": "", "./": "", "/": "",
	} {
		got, err := CleanName(in)
		if err != nil || got != want {
			t.Errorf("CleanName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"..", "../x", "a/../../x", "/../x", "./a/../../../etc"} {
		if got, err := CleanName(in); !errors.Is(err, ErrEscapes) {
			t.Errorf("CleanName(%q) = %q, %v; want ErrEscapes", in, got, err)
		}
	}
}

func tarOf(t testing.TB, hdrs ...*tar.Header) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Name))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(h.Name))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func names(t *testing.T, b []byte) []string {
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
}

func TestSanitizeNormalises(t *testing.T) {
	in := tarOf(t,
		&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "./bin", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "/bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755},
		&tar.Header{Name: "./bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox"},
		&tar.Header{Name: "bin/ln", Typeflag: tar.TypeLink, Linkname: "/bin/busybox"},
		&tar.Header{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: "/etc"},
	)
	var out bytes.Buffer
	st, err := Sanitize(bytes.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entries != 5 {
		t.Errorf("Entries = %d, want 5", st.Entries)
	}
	got := strings.Join(names(t, out.Bytes()), " ")
	if want := "bin/ bin/busybox bin/sh bin/ln etc"; got != want {
		t.Fatalf("names %q, want %q", got, want)
	}
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Name == "bin/ln" && h.Linkname != "bin/busybox" {
			t.Errorf("hard link target %q, want bin/busybox", h.Linkname)
		}
	}
}

func TestSanitizeRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		in   []byte
		want error
	}{
		"escape":         {tarOf(t, &tar.Header{Name: "../x", Typeflag: tar.TypeReg}), ErrEscapes},
		"link escape":    {tarOf(t, &tar.Header{Name: "x", Typeflag: tar.TypeLink, Linkname: "../../etc/shadow"}), ErrEscapes},
		"dangling link":  {tarOf(t, &tar.Header{Name: "x", Typeflag: tar.TypeLink, Linkname: "nothere"}), ErrDanglingLink},
		"below symlink":  {tarOf(t, &tar.Header{Name: "d", Typeflag: tar.TypeSymlink, Linkname: "/tmp"}, &tar.Header{Name: "d/f", Typeflag: tar.TypeReg}), ErrBelowSymlink},
		"deep below":     {tarOf(t, &tar.Header{Name: "a/b", Typeflag: tar.TypeSymlink, Linkname: "/"}, &tar.Header{Name: "a/b/c/d", Typeflag: tar.TypeDir}), ErrBelowSymlink},
		"not a tar":      {bytes.Repeat([]byte("nope "), 300), ErrNotAnArchive},
		"truncated data": {tarOf(t, &tar.Header{Name: "0123456789", Typeflag: tar.TypeReg})[:515], ErrTruncated},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Sanitize(bytes.NewReader(tc.in), io.Discard)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Sanitize = %v, want %v", err, tc.want)
			}
		})
	}
}

// A symbolic link replaced by a directory no longer redirects what follows.
func TestSanitizeSymlinkReplaced(t *testing.T) {
	in := tarOf(t,
		&tar.Header{Name: "d", Typeflag: tar.TypeSymlink, Linkname: "/tmp"},
		&tar.Header{Name: "d", Typeflag: tar.TypeDir},
		&tar.Header{Name: "d/f", Typeflag: tar.TypeReg},
	)
	if _, err := Sanitize(bytes.NewReader(in), io.Discard); err != nil {
		t.Fatal(err)
	}
}

// FuzzSanitize: any input either fails cleanly or yields a tar whose every
// name is relative, clean and inside the root.
func FuzzSanitize(f *testing.F) {
	f.Add(tarOf(f, &tar.Header{Name: "a/b", Typeflag: tar.TypeReg}))
	f.Add(tarOf(f, &tar.Header{Name: "../x", Typeflag: tar.TypeReg}))
	f.Add(tarOf(f, &tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc"}, &tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "l"}))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		if _, err := Sanitize(bytes.NewReader(in), &out); err != nil {
			return
		}
		tr := tar.NewReader(&out)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("Sanitize wrote an unreadable tar: %v", err)
			}
			for _, n := range []string{h.Name, func() string {
				if h.Typeflag == tar.TypeLink {
					return h.Linkname
				}
				return "ok"
			}()} {
				if strings.HasPrefix(n, "/") || n == ".." || strings.HasPrefix(n, "../") || strings.Contains(n, "/../") {
					t.Fatalf("Sanitize let %q through", n)
				}
			}
		}
	})
}

func TestDetect(t *testing.T) {
	for want, head := range map[Compression][]byte{
		Gzip: {0x1f, 0x8b, 8, 0}, Zstd: {0x28, 0xb5, 0x2f, 0xfd}, Bzip2: []byte("BZh91AY"),
		Xz: {0xfd, '7', 'z', 'X', 'Z', 0}, None: []byte("ustar......"),
	} {
		c, r, err := Detect(bytes.NewReader(head))
		if err != nil || c != want {
			t.Errorf("Detect(%x) = %s, %v; want %s", head, c, err, want)
		}
		if b, _ := io.ReadAll(r); !bytes.Equal(b, head) {
			t.Errorf("Detect consumed bytes of %s", want)
		}
	}
}
