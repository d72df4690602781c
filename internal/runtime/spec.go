package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Network modes a container can run in.
const (
	// NetworkPrivate is a network namespace of the container's own with
	// only loopback up; published ports are proxied into it.
	NetworkPrivate = "private"
	// NetworkHost shares the host's network namespace.
	NetworkHost = "host"
	// NetworkNone is a network namespace with only loopback, and no ports.
	NetworkNone = "none"
)

// DefaultPath is the PATH a container gets when its image sets none, as
// Docker sets it.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// defaultCaps is Docker's default capability set.
var defaultCaps = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// maskedPaths are the /proc and /sys paths Docker hides from containers.
var maskedPaths = []string{
	"/proc/asound",
	"/proc/acpi",
	"/proc/interrupts",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	"/sys/devices/virtual/powercap",
}

// readonlyPaths are the /proc paths Docker makes read-only.
var readonlyPaths = []string{
	"/proc/bus",
	"/proc/fs",
	"/proc/irq",
	"/proc/sys",
	"/proc/sysrq-trigger",
}

// SpecConfig is what a container's OCI runtime spec is built from.
type SpecConfig struct {
	// ID names the container's cgroup (/strata/ID).
	ID string
	// Hostname is the container's host name (Docker: the short ID).
	Hostname string
	// Root is the root filesystem's path; relative paths are relative to
	// the bundle.
	Root string
	// Args, Env, WorkDir and User describe the process.
	Args    []string
	Env     []string
	WorkDir string
	User    specs.User
	// Terminal gives the process a pseudo-terminal.
	Terminal bool
	// Network is NetworkPrivate (""), NetworkHost or NetworkNone.
	Network string
	// Mounts are added after the default ones (volumes, /etc/hosts...).
	Mounts []specs.Mount
	// Resources limit the container: bytes of memory, CPUs, processes;
	// zero means no limit.
	Memory    int64
	CPUs      float64
	PidsLimit int64
	// NoSeccomp leaves seccomp off (the build's RUN steps keep it on).
	NoSeccomp bool
}

// ociVersion is the runtime-spec version strata's specs declare: the
// oldest that has every field strata sets, rather than the version of the
// Go package that writes them (1.3.0), which Debian 12's crun (1.8) refuses
// with "unknown version specified".
const ociVersion = "1.1.0"

// Spec builds the OCI runtime spec Docker would run a container with:
// mount, PID, IPC, UTS and (unless host networking) network namespaces,
// Docker's default capabilities and seccomp profile, no_new_privileges,
// Docker's masked and read-only /proc paths, a minimal /dev, and rlimits
// never above the caller's own hard limits.
func Spec(c SpecConfig) (*specs.Spec, error) {
	if len(c.Args) == 0 {
		return nil, fmt.Errorf("no command specified")
	}
	cwd := c.WorkDir
	if cwd == "" {
		cwd = "/"
	}
	s := &specs.Spec{
		Version:  ociVersion,
		Hostname: c.Hostname,
		Root:     &specs.Root{Path: c.Root},
		Process: &specs.Process{
			Terminal:        c.Terminal,
			User:            c.User,
			Args:            c.Args,
			Env:             c.Env,
			Cwd:             cwd,
			NoNewPrivileges: true,
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  defaultCaps,
				Effective: defaultCaps,
				Permitted: defaultCaps,
			},
			Rlimits: rlimits(),
		},
		Mounts: defaultMounts(),
		Linux: &specs.Linux{
			CgroupsPath: "/strata/" + c.ID,
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			MaskedPaths:   maskedPaths,
			ReadonlyPaths: readonlyPaths,
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
		},
	}
	switch c.Network {
	case "", NetworkPrivate, NetworkNone:
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
		s.Linux.Sysctl = map[string]string{
			"net.ipv4.ip_unprivileged_port_start": "0",
			"net.ipv4.ping_group_range":           "0 2147483647",
		}
	case NetworkHost:
		// Docker shares the host's UTS namespace with host networking too.
		s.Hostname = ""
		s.Linux.Namespaces = []specs.LinuxNamespace{
			{Type: specs.PIDNamespace},
			{Type: specs.IPCNamespace},
			{Type: specs.MountNamespace},
		}
	default:
		return nil, fmt.Errorf("unknown network %q (want private, host or none)", c.Network)
	}
	s.Mounts = append(s.Mounts, c.Mounts...)
	r := s.Linux.Resources
	if c.Memory > 0 {
		m := c.Memory
		r.Memory = &specs.LinuxMemory{Limit: &m}
	}
	if c.CPUs > 0 {
		period := uint64(100000)
		quota := int64(c.CPUs * float64(period))
		r.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
	}
	if c.PidsLimit > 0 {
		p := c.PidsLimit
		r.Pids = &specs.LinuxPids{Limit: &p}
	}
	if !c.NoSeccomp {
		sc, err := seccomp.GetDefaultProfile(s)
		if err != nil {
			return nil, fmt.Errorf("seccomp profile: %w", err)
		}
		s.Linux.Seccomp = sc
	}
	return s, nil
}

// defaultMounts are Docker's: proc, a small tmpfs /dev with devpts, shm and
// mqueue, and sysfs and the cgroup tree read-only.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
	}
}

// rlimits gives the container the caller's open-file limit, raised to the
// hard limit (as Docker's high default does) but never above it: without
// CAP_SYS_RESOURCE a limit above the hard one fails the container's start.
func rlimits() []specs.POSIXRlimit {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
		return nil
	}
	n := l.Max
	if n > 1048576 {
		n = 1048576
	}
	return []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: n, Soft: n}}
}

// BindMount is a bind mount of a host path, read-only if ro.
func BindMount(src, dst string, ro bool) specs.Mount {
	opts := []string{"rbind", "rprivate"}
	if ro {
		opts = append(opts, "ro")
	}
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts}
}

// etcMounts bind-mounts the container's /etc/hosts, /etc/resolv.conf and
// /etc/hostname from files in dir.
func etcMounts(dir string) []specs.Mount {
	var m []specs.Mount
	for _, f := range []string{"hosts", "resolv.conf", "hostname"} {
		m = append(m, BindMount(filepath.Join(dir, f), "/etc/"+f, false))
	}
	return m
}

// writeEtcFiles writes the files etcMounts mounts: /etc/hosts naming
// localhost and the host name, the host's resolv.conf, and the host name.
// With host networking the host's own files are copied.
func writeEtcFiles(dir, hostname, network string) error {
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	if hostname != "" {
		hosts += "127.0.0.1\t" + hostname + "\n"
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		resolv = nil
	}
	if network == NetworkHost {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
		}
		if h, err := os.Hostname(); err == nil {
			hostname = h
		}
	}
	files := map[string][]byte{
		"hosts":       []byte(hosts),
		"resolv.conf": resolv,
		"hostname":    []byte(hostname + "\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("write /etc/%s: %w", name, err)
		}
	}
	return nil
}

// itoa is strconv.Itoa, short.
func itoa(n int) string { return strconv.Itoa(n) }
