// Package reference parses image names the way Docker users write them:
// "busybox" is docker.io/library/busybox:latest, "host:5000/repo:tag" names
// another registry, and "repo@sha256:..." pins a manifest digest.
package reference

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
)

// DefaultRegistry is the registry of names that give none.
const DefaultRegistry = "docker.io"

// Reference is a parsed, normalised image name.
type Reference struct {
	// Repository is the full repository, "docker.io/library/busybox".
	Repository string
	// Tag is the tag, "latest" when the name gives neither tag nor digest.
	Tag string
	// Digest is the pinned manifest digest, "sha256:...", if any.
	Digest string
}

// pathComponent is Docker's grammar for one "/"-separated part of a
// repository path; ggcr alone accepts more than Docker does.
var pathComponent = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`) })

// Parse parses s as an image name. A name without tag or digest gets the
// tag "latest".
func Parse(s string) (Reference, error) {
	bad := func(why string) (Reference, error) {
		return Reference{}, fmt.Errorf("invalid reference format: %q: %s", s, why)
	}
	if s == "" {
		return bad("empty name")
	}
	var ref Reference
	base := s
	if at := strings.LastIndex(s, "@"); at >= 0 {
		d, err := name.NewDigest("x@" + s[at+1:])
		if err != nil {
			return bad("bad digest " + s[at+1:])
		}
		ref.Digest = d.DigestStr()
		base = s[:at]
	}
	t, err := name.NewTag(base)
	if err != nil {
		return bad(strings.TrimPrefix(err.Error(), "repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: "))
	}
	for _, part := range strings.Split(t.RepositoryStr(), "/") {
		if !pathComponent().MatchString(part) {
			return bad("repository name must be lowercase letters, digits and separators")
		}
	}
	ref.Repository = repository(t.Repository)
	// ggcr defaults the tag; keep it only if the user wrote one or gave no digest.
	hasTag := strings.LastIndex(base, ":") > strings.LastIndex(base, "/")
	if hasTag || ref.Digest == "" {
		ref.Tag = t.TagStr()
	}
	return ref, nil
}

func repository(r name.Repository) string {
	reg := r.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = DefaultRegistry
	}
	return reg + "/" + r.RepositoryStr()
}

// ParseTagged parses s as a name that must not pin a digest, the kind a tag
// or import target is: "NAME[:TAG]".
func ParseTagged(s string) (Reference, error) {
	r, err := Parse(s)
	if err != nil {
		return r, err
	}
	if r.Digest != "" {
		return r, fmt.Errorf("invalid reference format: %q: a tag target cannot name a digest", s)
	}
	return r, nil
}

// String is the canonical full name: "docker.io/library/busybox:latest",
// "localhost:5000/app@sha256:...".
func (r Reference) String() string {
	s := r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Name is the repository and tag, without any digest: the key strata's
// name index uses.
func (r Reference) Name() string {
	if r.Tag == "" {
		return r.Repository
	}
	return r.Repository + ":" + r.Tag
}

// FamiliarRepository is the repository as Docker prints it: "busybox" for
// docker.io/library/busybox, "user/app" for docker.io/user/app.
func (r Reference) FamiliarRepository() string { return Familiar(r.Repository) }

// Familiar shortens a canonical repository or name the way Docker prints
// it, dropping "docker.io/" and "library/".
func Familiar(s string) string {
	s = strings.TrimPrefix(s, DefaultRegistry+"/")
	return strings.TrimPrefix(s, "library/")
}

// FamiliarString is the name as Docker prints it: "busybox:latest".
func (r Reference) FamiliarString() string { return Familiar(r.String()) }
