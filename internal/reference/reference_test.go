package reference

import "testing"

func TestParse(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		in, canonical, familiar, name string
	}{
		{"ml-flask-app", "docker.io/library/ml-flask-app:latest", "ml-flask-app:latest", "docker.io/library/ml-flask-app:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36", "docker.io/library/busybox:1.36"},
		{"docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io/library/busybox:latest"},
		{"index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io/library/busybox:latest"},
		{"user/app:v1", "docker.io/user/app:v1", "user/app:v1", "docker.io/user/app:v1"},
		{"localhost:5000/app:v2", "localhost:5000/app:v2", "localhost:5000/app:v2", "localhost:5000/app:v2"},
		{"127.0.0.1:5000/ns/app", "127.0.0.1:5000/ns/app:latest", "127.0.0.1:5000/ns/app:latest", "127.0.0.1:5000/ns/app:latest"},
		{"app@" + d, "docker.io/library/app@" + d, "app@" + d, "docker.io/library/app"},
		{"app:v1@" + d, "docker.io/library/app:v1@" + d, "app:v1@" + d, "docker.io/library/app:v1"},
		{"public.ecr.aws/x/y:z", "public.ecr.aws/x/y:z", "public.ecr.aws/x/y:z", "public.ecr.aws/x/y:z"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			r, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got := r.String(); got != tc.canonical {
				t.Errorf("String() = %q, want %q", got, tc.canonical)
			}
			if got := r.FamiliarString(); got != tc.familiar {
				t.Errorf("FamiliarString() = %q, want %q", got, tc.familiar)
			}
			if got := r.Name(); got != tc.name {
				t.Errorf("Name() = %q, want %q", got, tc.name)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	for _, in := range []string{"", "UPPER", "a b", "app:", "app@sha256:short", "-lead", "app:bad tag", "a//b"} {
		if r, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, r)
		}
	}
}

func TestParseTaggedRefusesDigest(t *testing.T) {
	if _, err := ParseTagged("app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"); err == nil {
		t.Fatal("ParseTagged accepted a digest")
	}
}

// FuzzParse: Parse never panics, and what it accepts prints as a name that
// parses back to the same reference.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"busybox", "localhost:5000/a/b:c", "a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "UP", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(r.String())
		if err != nil || again != r {
			t.Fatalf("Parse(%q) = %+v, but its String %q parses to %+v, %v", s, r, r.String(), again, err)
		}
	})
}
