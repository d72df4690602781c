// Package dockerfile parses Dockerfiles with BuildKit's own parser into
// stages of typed instructions, and refuses, with file and line, anything
// strata cannot build, before any work starts.
package dockerfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	// Name is the file's name as errors show it ("Dockerfile").
	Name string
	// MetaArgs are the ARGs before the first FROM.
	MetaArgs []instructions.ArgCommand
	// Stages are the build stages in order.
	Stages []Stage
	// EscapeToken is the escape character (\ or `).
	EscapeToken rune
	// Warnings are the parser's warnings, with their lines.
	Warnings []string
}

// Stage is one FROM and the instructions after it.
type Stage struct {
	instructions.Stage
	// Index is the stage's position, from 0.
	Index int
}

// Error is a problem at a line of a Dockerfile.
type Error struct {
	File string
	Line int // 0 if unknown
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// maxLine is the longest line BuildKit's parser reads (bufio.MaxScanTokenSize
// with its newline).
const maxLine = bufio.MaxScanTokenSize - 1

// Parse parses src, the Dockerfile called name.
func Parse(name string, src []byte) (_ *Dockerfile, err error) {
	defer func() {
		// BuildKit's parser is not ours; a panic in it is a refused file,
		// not a crashed strata.
		if r := recover(); r != nil {
			err = &Error{File: name, Err: fmt.Errorf("BuildKit's parser failed on this file: %v", r)}
		}
	}()
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, &Error{File: name, Err: errors.New("the Dockerfile is empty")}
	}
	for i, line := range bytes.Split(src, []byte("\n")) {
		// BuildKit's scanner stops at a line this long, and names another line.
		if len(line) > maxLine {
			return nil, &Error{File: name, Line: i + 1, Err: fmt.Errorf("line longer than %d bytes", maxLine)}
		}
		// BuildKit's shell lexer writes to stderr on bytes that are not UTF-8
		// and on NUL, and an image's config holds UTF-8 text only.
		if !utf8.Valid(line) {
			return nil, &Error{File: name, Line: i + 1, Err: errors.New("the line is not valid UTF-8 text")}
		}
		if bytes.IndexByte(line, 0) >= 0 {
			return nil, &Error{File: name, Line: i + 1, Err: errors.New("the line holds a NUL byte")}
		}
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		e := located(name, err).(*Error)
		switch msg := e.Err.Error(); {
		case msg == "file with no instructions":
			// BuildKit names the last line; the whole file is at fault.
			e.Line, e.Err = 0, errors.New("the Dockerfile has no instructions (only comments or blank lines)")
		case strings.Contains(msg, "parser directive") || strings.HasPrefix(msg, "invalid escape token"):
			// BuildKit names the line before a bad directive.
			e.Line++
		}
		return nil, e
	}
	df := &Dockerfile{Name: name, EscapeToken: res.EscapeToken}
	lint := linter.New(&linter.Config{})
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil {
			line = w.Location.Start.Line
		}
		df.Warnings = append(df.Warnings, fmt.Sprintf("%s:%d: %s", name, line, w.Short))
	}
	for _, node := range res.AST.Children {
		// A nil linter panics on a "# check=" comment above an instruction.
		inst, err := instructions.ParseInstructionWithLinter(node, lint)
		if err != nil {
			return nil, instructionError(name, node, err)
		}
		switch c := inst.(type) {
		case *instructions.Stage:
			df.Stages = append(df.Stages, Stage{Stage: *c, Index: len(df.Stages)})
		case *instructions.ArgCommand:
			if len(df.Stages) == 0 {
				df.MetaArgs = append(df.MetaArgs, *c)
				continue
			}
			df.Stages[len(df.Stages)-1].AddCommand(c)
		case instructions.Command:
			if len(df.Stages) == 0 {
				return nil, &Error{File: name, Line: node.StartLine, Err: fmt.Errorf("%s before the first FROM: a Dockerfile must start with FROM (ARG may come before it)", strings.ToUpper(node.Value))}
			}
			df.Stages[len(df.Stages)-1].AddCommand(c)
		}
	}
	if len(df.Stages) == 0 {
		return nil, &Error{File: name, Err: errors.New("no FROM instruction: nothing to build")}
	}
	if err := df.validate(); err != nil {
		return nil, err
	}
	return df, nil
}

// located turns a BuildKit error into an *Error with the line it names.
func located(name string, err error) error {
	var le *parser.LocationError
	line := 0
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	return &Error{File: name, Line: line, Err: errors.New(cleanMessage(err))}
}

// instructionError is located's error for an instruction BuildKit refused,
// prefixed with the instruction's name unless the message starts with it,
// and without the Go package names that strconv and time put in theirs.
func instructionError(name string, node *parser.Node, err error) error {
	e := located(name, err).(*Error)
	msg := e.Err.Error()
	for _, p := range []string{"time: ", "strconv.ParseInt: ", "strconv.ParseUint: ", "strconv.ParseBool: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	var unknown *instructions.UnknownInstructionError
	if node.Value == "" {
		// All that is left is a line continuation.
		msg = "the Dockerfile ends in a line continuation"
	} else if inst := strings.ToUpper(node.Value); !errors.As(err, &unknown) && !strings.HasPrefix(msg, inst+" ") {
		msg = inst + ": " + msg
	}
	if strings.HasPrefix(msg, "RUN: invalid network mode") {
		msg += " (supported: default, none, host)"
	}
	msg = strings.Replace(msg, "failed to parse csv mounts: EOF", "--mount= needs a value: --mount=type=cache,target=/path", 1)
	e.Err = errors.New(msg)
	return e
}

// cleanMessage drops BuildKit's wrapping of a message in its location.
func cleanMessage(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "dockerfile parse error on line ")
	if i := strings.Index(msg, ": "); i > 0 && strings.Trim(msg[:i], "0123456789") == "" {
		msg = msg[i+2:]
	}
	return msg
}

// Line is the first line of cmd in its Dockerfile.
func Line(cmd interface{ Location() []parser.Range }) int {
	if loc := cmd.Location(); len(loc) > 0 {
		return loc[0].Start.Line
	}
	return 0
}

// StageByName finds a stage by its AS name or its index ("0", "1").
func (df *Dockerfile) StageByName(name string) (*Stage, bool) {
	for i := range df.Stages {
		if (name != "" && strings.EqualFold(df.Stages[i].Name, name)) || fmt.Sprint(i) == name {
			return &df.Stages[i], true
		}
	}
	return nil, false
}
