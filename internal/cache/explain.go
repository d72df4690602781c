package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/strata-ml/strata/internal/content"
)

// StepID names one step of one build: the same context directory,
// Dockerfile, stage and position give the same ID from build to build.
func StepID(contextDir, dockerfile string, stage, step int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%d\x00%d", contextDir, dockerfile, stage, step)))
	return hex.EncodeToString(sum[:16])
}

// LastInputs returns what the step saw the last time it was built.
func (c *Cache) LastInputs(stepID string) (*Inputs, bool) {
	b, err := content.ReadFile(filepath.Join(c.dir, "steps", stepID+".json"))
	if err != nil {
		return nil, false
	}
	var in Inputs
	if json.Unmarshal(b, &in) != nil {
		return nil, false
	}
	return &in, true
}

// SaveInputs remembers what the step saw this time.
func (c *Cache) SaveInputs(stepID string, in Inputs) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	p := filepath.Join(c.dir, "steps", stepID+".json")
	if old, err := content.ReadFile(p); err == nil && bytes.Equal(old, b) {
		return nil
	}
	return content.ReplaceFile(p, b, 0o644)
}

// Explain says in a few words why a step whose key missed had to run,
// comparing what it sees now with what it saw last time (nil if never).
func Explain(now Inputs, last *Inputs) string {
	if last == nil {
		return "not in cache"
	}
	var why []string
	for _, k := range sortedKeys(now.Args) {
		if v, ok := last.Args[k]; !ok || v != now.Args[k] {
			why = append(why, "--build-arg "+k+" changed")
		}
	}
	for _, k := range sortedKeys(last.Args) {
		if _, ok := now.Args[k]; !ok {
			why = append(why, "--build-arg "+k+" changed")
		}
	}
	var changed, added, removed []string
	for _, p := range sortedKeys(now.Files) {
		switch old, ok := last.Files[p]; {
		case !ok:
			added = append(added, p)
		case old != now.Files[p]:
			changed = append(changed, p)
		}
	}
	for _, p := range sortedKeys(last.Files) {
		if _, ok := now.Files[p]; !ok {
			removed = append(removed, p)
		}
	}
	why = append(why, files(changed, "changed")...)
	why = append(why, files(added, "added")...)
	why = append(why, files(removed, "removed")...)
	if len(why) == 0 && now.Instruction != last.Instruction {
		why = append(why, "instruction changed")
	}
	if len(why) == 0 && strings.Join(now.Extra, "\x00") != strings.Join(last.Extra, "\x00") {
		why = append(why, "options changed")
	}
	if len(why) == 0 {
		return "not in cache"
	}
	return strings.Join(dedupe(why), ", ")
}

// files says "a.py changed" or "a.py, b.py and 3 more changed".
func files(paths []string, verb string) []string {
	switch n := len(paths); {
	case n == 0:
		return nil
	case n <= 3:
		return []string{strings.Join(paths, ", ") + " " + verb}
	default:
		return []string{fmt.Sprintf("%s and %d more %s", strings.Join(paths[:3], ", "), n-3, verb)}
	}
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
