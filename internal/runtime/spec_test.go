package runtime

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestSpecDockerDefaults(t *testing.T) {
	s, err := Spec(SpecConfig{ID: "abc", Hostname: "abc", Root: "rootfs", Args: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	var ns []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		ns = append(ns, n.Type)
	}
	for _, want := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace, specs.NetworkNamespace} {
		if !slices.Contains(ns, want) {
			t.Errorf("namespaces %v lack %s", ns, want)
		}
	}
	if !s.Process.NoNewPrivileges {
		t.Error("no_new_privileges is off")
	}
	if got := s.Process.Capabilities.Bounding; len(got) != 14 || !slices.Contains(got, "CAP_NET_BIND_SERVICE") || slices.Contains(got, "CAP_SYS_ADMIN") {
		t.Errorf("capabilities %v are not Docker's", got)
	}
	if len(s.Process.Capabilities.Inheritable) != 0 {
		t.Error("inheritable capabilities are set")
	}
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"} {
		if !slices.Contains(s.Linux.MaskedPaths, p) {
			t.Errorf("%s is not masked", p)
		}
	}
	if !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") {
		t.Error("/proc/sys is not read-only")
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno || len(s.Linux.Seccomp.Syscalls) == 0 {
		t.Fatalf("seccomp profile: %+v", s.Linux.Seccomp)
	}
	var allowsMount bool
	for _, sc := range s.Linux.Seccomp.Syscalls {
		if sc.Action == specs.ActAllow && slices.Contains(sc.Names, "mount") {
			allowsMount = true
		}
	}
	if allowsMount {
		t.Error("the seccomp profile allows mount without CAP_SYS_ADMIN")
	}
	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination)
	}
	for _, want := range []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"} {
		if !slices.Contains(dests, want) {
			t.Errorf("mounts %v lack %s", dests, want)
		}
	}
	if s.Hostname != "abc" || s.Linux.CgroupsPath != "/strata/abc" || s.Process.Cwd != "/" {
		t.Errorf("hostname %q cgroup %q cwd %q", s.Hostname, s.Linux.CgroupsPath, s.Process.Cwd)
	}
	if s.Linux.Resources.Memory != nil || s.Linux.Resources.CPU != nil || s.Linux.Resources.Pids != nil {
		t.Error("limits set without being asked for")
	}
}

func TestSpecRlimitsWithinCallersHardLimits(t *testing.T) {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	s, err := Spec(SpecConfig{ID: "x", Args: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Process.Rlimits) == 0 {
		t.Fatal("no RLIMIT_NOFILE")
	}
	for _, r := range s.Process.Rlimits {
		if r.Type == "RLIMIT_NOFILE" && (r.Hard > l.Max || r.Soft > r.Hard) {
			t.Errorf("RLIMIT_NOFILE %d:%d above the caller's hard limit %d", r.Soft, r.Hard, l.Max)
		}
	}
}

func TestSpecNetworksAndLimits(t *testing.T) {
	host, err := Spec(SpecConfig{ID: "x", Hostname: "x", Args: []string{"true"}, Network: NetworkHost})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range host.Linux.Namespaces {
		if n.Type == specs.NetworkNamespace || n.Type == specs.UTSNamespace {
			t.Errorf("host networking has a %s namespace", n.Type)
		}
	}
	if host.Hostname != "" {
		t.Error("host networking sets a host name")
	}
	s, err := Spec(SpecConfig{ID: "x", Args: []string{"true"}, Network: NetworkNone, Memory: 64 << 20, CPUs: 1.5, PidsLimit: 10, NoSeccomp: true})
	if err != nil {
		t.Fatal(err)
	}
	r := s.Linux.Resources
	if *r.Memory.Limit != 64<<20 || *r.CPU.Quota != 150000 || *r.CPU.Period != 100000 || r.Pids.Limit == nil || *r.Pids.Limit != 10 {
		t.Errorf("resources %+v", r)
	}
	if s.Linux.Seccomp != nil {
		t.Error("NoSeccomp left a profile")
	}
	if _, err := Spec(SpecConfig{ID: "x", Args: []string{"true"}, Network: "bridge0"}); err == nil {
		t.Error("an unknown network was accepted")
	}
	if _, err := Spec(SpecConfig{ID: "x"}); err == nil {
		t.Error("no command was accepted")
	}
}
