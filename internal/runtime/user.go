package runtime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FileReader reads a file of a container's root filesystem by its path
// inside the container ("/etc/passwd").
type FileReader func(name string) ([]byte, error)

// LayersReader reads files from a stack of layer directories, topmost
// first, as the overlay over them would show them.
func LayersReader(dirs ...string) FileReader {
	return func(name string) ([]byte, error) {
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, filepath.Clean("/"+name)))
			if err == nil {
				return b, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		return nil, fs.ErrNotExist
	}
}

// User is a resolved user: IDs for the runtime and the home directory.
type User struct {
	specs.User
	// Home is the user's home directory from /etc/passwd, "/" if unknown.
	Home string
}

// ResolveUser resolves Docker's --user syntax (user, user:group, uid,
// uid:gid; "" is root) against the container's /etc/passwd and
// /etc/group. Names must exist there; numeric IDs need not.
func ResolveUser(spec string, read FileReader) (User, error) {
	u := User{Home: "/"}
	if spec == "" {
		spec = "0"
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	passwd := parseColonFile(read, "/etc/passwd")
	found := false
	if uid, err := strconv.ParseUint(name, 10, 32); err == nil {
		u.UID = uint32(uid)
		for _, f := range passwd {
			if len(f) >= 6 && f[2] == name {
				u.GID, u.Home, found = atou(f[3]), f[5], true
				name = f[0]
				break
			}
		}
		if !found && uid == 0 {
			u.Home = "/root"
		}
	} else {
		for _, f := range passwd {
			if len(f) >= 6 && f[0] == name {
				u.UID, u.GID, u.Home, found = atou(f[2]), atou(f[3]), f[5], true
				break
			}
		}
		if !found {
			return User{}, fmt.Errorf("unable to find user %s: no matching entries in passwd file", name)
		}
	}
	groups := parseColonFile(read, "/etc/group")
	if hasGroup {
		if gid, err := strconv.ParseUint(group, 10, 32); err == nil {
			u.GID = uint32(gid)
		} else {
			ok := false
			for _, f := range groups {
				if len(f) >= 3 && f[0] == group {
					u.GID, ok = atou(f[2]), true
					break
				}
			}
			if !ok {
				return User{}, fmt.Errorf("unable to find group %s: no matching entries in group file", group)
			}
		}
	} else {
		// Supplementary groups listing the user, as login would set them.
		for _, f := range groups {
			if len(f) < 4 || f[3] == "" {
				continue
			}
			for _, m := range strings.Split(f[3], ",") {
				if m == name && atou(f[2]) != u.GID {
					u.AdditionalGids = append(u.AdditionalGids, atou(f[2]))
				}
			}
		}
	}
	if u.Home == "" {
		u.Home = "/"
	}
	return u, nil
}

// parseColonFile splits a passwd-style file into fields, skipping
// comments and blank lines; a missing file is empty.
func parseColonFile(read FileReader, name string) [][]string {
	if read == nil {
		return nil
	}
	b, err := read(name)
	if err != nil {
		return nil
	}
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out
}

func atou(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}
