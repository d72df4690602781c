package dockerfile

import (
	"fmt"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// validate refuses what strata does not build, naming file, line and
// instruction, so a build never fails halfway for want of a feature.
func (df *Dockerfile) validate() error {
	for _, st := range df.Stages {
		if st.Platform != "" && !strings.Contains(st.Platform, "$") && !hostPlatform(st.Platform) {
			return df.errAt(st.Location, "FROM --platform=%s: strata builds for this machine's platform only", st.Platform)
		}
		for _, cmd := range st.Commands {
			if err := df.validateCommand(cmd); err != nil {
				return err
			}
		}
	}
	return nil
}

func (df *Dockerfile) validateCommand(cmd instructions.Command) error {
	loc := cmd.Location()
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		// Mount flags are parsed only on expansion; the build expands again
		// with the stage's variables.
		if err := c.Expand(func(w string) (string, error) { return w, nil }); err != nil {
			return df.errAt(loc, "RUN: %v", err)
		}
		for _, m := range instructions.GetMounts(c) {
			switch m.Type {
			case instructions.MountTypeCache, instructions.MountTypeBind, instructions.MountTypeTmpfs:
			default:
				return df.errAt(loc, "RUN --mount=type=%s is not supported (supported: cache, bind, tmpfs)", m.Type)
			}
		}
		switch n := instructions.GetNetwork(c); n {
		case instructions.NetworkDefault, instructions.NetworkNone, instructions.NetworkHost:
		default:
			return df.errAt(loc, "RUN --network=%s is not supported (supported: default, none, host)", n)
		}
		if instructions.GetSecurity(c) == instructions.SecurityInsecure {
			return df.errAt(loc, "RUN --security=insecure is not supported")
		}
		if len(instructions.GetDevices(c)) > 0 {
			return df.errAt(loc, "RUN --device is not supported")
		}
	case *instructions.ExposeCommand:
		for _, p := range c.Ports {
			if err := checkPort(p); err != nil {
				return df.errAt(loc, "EXPOSE %s: %v", p, err)
			}
		}
	case *instructions.CopyCommand:
		if c.Parents {
			return df.errAt(loc, "COPY --parents is not supported")
		}
		if len(c.ExcludePatterns) > 0 {
			return df.errAt(loc, "COPY --exclude is not supported")
		}
		for _, src := range c.SourcePaths {
			if c.From == "" && (isGit(src) || isURL(src)) {
				return df.errAt(loc, "COPY %s: COPY copies local files only; use ADD for a URL", src)
			}
		}
	case *instructions.AddCommand:
		if len(c.ExcludePatterns) > 0 {
			return df.errAt(loc, "ADD --exclude is not supported")
		}
		for _, src := range c.SourcePaths {
			if isGit(src) {
				return df.errAt(loc, "ADD of a git repository (%s) is not supported", src)
			}
			if isURL(src) && c.Checksum == "" {
				return df.errAt(loc, "ADD %s: a URL needs --checksum=sha256:... so the build is reproducible", src)
			}
		}
	}
	return nil
}

func (df *Dockerfile) errAt(loc []parser.Range, format string, args ...any) error {
	line := 0
	if len(loc) > 0 {
		line = loc[0].Start.Line
	}
	return &Error{File: df.Name, Line: line, Err: fmt.Errorf(format, args...)}
}

// hostPlatform says whether p ("linux/amd64") is this machine's.
func hostPlatform(p string) bool {
	os, arch, _ := strings.Cut(strings.ToLower(p), "/")
	arch, _, _ = strings.Cut(arch, "/")
	if arch == "x86_64" {
		arch = "amd64"
	}
	return os == "linux" && arch == runtime.GOARCH
}

var (
	protoRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9]+://`) })
	scpGitRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^([a-zA-Z0-9-_]+)@([a-zA-Z0-9-.]+):(.*?)(?:\?(.*?))?(?:#(.*))?$`)
	})
)

// isGit says whether BuildKit's ADD would fetch s as a git repository, as
// its dfgitutil.ParseGitRef decides: git:// and ssh:// URLs, user@host:path,
// and http(s) URLs whose path ends in .git (https://host/repo.git#ref); a
// local path that ends in .git is not one.
func isGit(s string) bool {
	if p := protoRE().FindString(s); p != "" {
		switch strings.ToLower(strings.TrimSuffix(p, "://")) {
		case "git", "ssh":
			return true
		case "http", "https":
			u, err := url.Parse(s)
			return err == nil && strings.HasSuffix(u.Path, ".git")
		}
		return false
	}
	return scpGitRE().MatchString(s)
}

// isURL says whether BuildKit's ADD would download s over HTTP.
func isURL(s string) bool {
	return (strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) && !isGit(s)
}

// checkPort checks an EXPOSE port: PORT or FROM-TO, then /tcp, /udp or
// /sctp if any, as BuildKit accepts it; one with a variable or quotes is
// left to the build, which expands it.
func checkPort(p string) error {
	if strings.ContainsAny(p, "$\"'\\") {
		return nil
	}
	if strings.Contains(p, ":") {
		return fmt.Errorf("an IP address or host port does not belong in EXPOSE (want PORT[/PROTO])")
	}
	ports, proto, _ := strings.Cut(p, "/")
	switch strings.ToLower(proto) {
	case "", "tcp", "udp", "sctp":
	default:
		return fmt.Errorf("unknown protocol %q (want tcp, udp or sctp)", proto)
	}
	from, to, isRange := strings.Cut(ports, "-")
	lo, err := portNumber(from)
	if err != nil {
		return err
	}
	if isRange {
		hi, err := portNumber(to)
		if err != nil {
			return err
		}
		if hi < lo {
			return fmt.Errorf("port range %s ends before it starts", ports)
		}
	}
	return nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number (0-65535)", s)
	}
	return n, nil
}
