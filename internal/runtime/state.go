package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Status is a container's state as Docker names it.
type Status string

// The statuses a container goes through.
const (
	Created Status = "created"
	Running Status = "running"
	Exited  Status = "exited"
)

// Config is a container's configuration in the shape of Docker's
// container inspect "Config".
type Config struct {
	Hostname     string
	Domainname   string
	User         string
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          []string
	Image        string
	WorkingDir   string
	Entrypoint   []string
	Labels       map[string]string
}

// Port is one published port: a host address forwarded to a container
// port.
type Port struct {
	HostIP        string
	HostPort      int
	ContainerPort int
	Proto         string
}

// String is Docker's "0.0.0.0:8080->80/tcp".
func (p Port) String() string {
	return fmt.Sprintf("%s:%d->%d/%s", p.HostIP, p.HostPort, p.ContainerPort, p.Proto)
}

// Mount is a volume: a host path bound into the container.
type Mount struct {
	Source      string
	Destination string
	RW          bool
}

// Resources are a container's limits; zero is unlimited.
type Resources struct {
	Memory    int64
	CPUs      float64
	PidsLimit int64
}

// State is everything strata knows about a container, kept in
// containers/ID/state.json: its configuration and where it stands.
type State struct {
	ID      string
	Name    string
	Created time.Time
	// Image is the image as the user named it; ImageID is its config's
	// digest and ImageTarget its manifest, kept alive while the container
	// exists.
	Image       string
	ImageID     string
	ImageTarget *v1.Descriptor `json:",omitempty"`
	Config      Config
	// Args is the process run: entrypoint and command.
	Args      []string
	Network   string
	Ports     []Port `json:",omitempty"`
	Mounts    []Mount
	Resources Resources
	// AutoRemove removes the container once it exits (--rm).
	AutoRemove bool
	// Runtime is the OCI runtime binary (runc or crun).
	Runtime string
	// Lowers are the image's layer directories, topmost first.
	Lowers []string

	Status    Status
	Pid       int
	PidStart  uint64 `json:",omitempty"`
	ExitCode  int
	OOMKilled bool
	Error     string `json:",omitempty"`
	StartedAt time.Time
	// FinishedAt is when it exited; zero while it has not.
	FinishedAt time.Time
	// MonitorPid is the process supervising it (strata itself for a
	// foreground run) and MonitorStart that process's start time, so a
	// reused PID is not taken for it.
	MonitorPid   int    `json:",omitempty"`
	MonitorStart uint64 `json:",omitempty"`
}

// ShortID is the 12-hex-digit ID Docker prints.
func (s *State) ShortID() string { return s.ID[:12] }

// Running reports whether the container's process is running.
func (s *State) Running() bool { return s.Status == Running }

// StatusLine is the STATUS column of `ps`: "Up 3 seconds", "Exited (0)
// 5 minutes ago", "Created".
func (s *State) StatusLine(now time.Time) string {
	switch s.Status {
	case Running:
		return "Up " + humanDuration(now.Sub(s.StartedAt))
	case Exited:
		return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, humanDuration(now.Sub(s.FinishedAt)))
	default:
		return "Created"
	}
}

// humanDuration is Docker's go-units HumanDuration.
func humanDuration(d time.Duration) string {
	switch s := int(d.Seconds()); {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	}
	switch m := int(d.Minutes()); {
	case m == 1:
		return "About a minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", m)
	}
	switch h := int(d.Round(time.Hour).Hours()); {
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	default:
		return fmt.Sprintf("%d days", h/24)
	}
}

// saveState writes state.json atomically (a rename; no fsync: after a
// crash the container is reconciled anyway).
func saveState(dir string, s *State) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".state.json.tmp"+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write container state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "state.json")); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write container state: %w", err)
	}
	return nil
}

func loadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("container state %s: %w", dir, err)
	}
	return &s, nil
}

// procStart is a process's start time in clock ticks since boot (field 22
// of /proc/PID/stat), 0 if it does not exist or has exited.
func procStart(pid int) uint64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	// After the command come state (field 3) ... starttime (field 22).
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0 // a zombie has exited
	}
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n
}

// alive reports whether pid is the process that started at start.
func alive(pid int, start uint64) bool {
	return pid > 0 && start != 0 && procStart(pid) == start
}

// isNotExist reports a missing file.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
