package build

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

func goarch() string { return runtime.GOARCH }

// expandCommand expands the command's words with the stage's variables and
// returns the ARGs the expansion used, with their values: the only build
// arguments a non-RUN step depends on.
func (b *builder) expandCommand(st *state, cmd instructions.Command) (map[string]string, error) {
	used := map[string]string{}
	ex, ok := cmd.(instructions.SupportsSingleWordExpansion)
	if !ok {
		return used, nil
	}
	escape := b.df.EscapeToken
	if escape == 0 {
		escape = '\\'
	}
	lex := shell.NewLex(escape)
	env := shell.EnvsFromSlice(st.env())
	err := ex.Expand(func(word string) (string, error) {
		res, err := lex.ProcessWordWithMatches(word, env)
		if err != nil {
			return "", err
		}
		for name := range res.Matched {
			if v, isArg := st.args[name]; isArg && v != nil && !st.hasEnv(name) {
				used[name] = *v
			}
		}
		for name := range res.Unmatched {
			if _, declared := st.args[name]; !declared && plainReference(word, name) {
				return "", fmt.Errorf("$%s is not defined: declare it with ARG %s (and pass --build-arg %s=...) or set it with ENV", name, name, name)
			}
		}
		return res.Result, nil
	})
	return used, err
}

// plainReference says whether word uses $name or ${name} with no default
// (${name:-x} and friends are meant to handle an unset variable).
func plainReference(word, name string) bool {
	if strings.Contains(word, "${"+name+"}") {
		return true
	}
	for i := 0; ; {
		j := strings.Index(word[i:], "$"+name)
		if j < 0 {
			return false
		}
		end := i + j + 1 + len(name)
		if end == len(word) || !isNameChar(word[end]) {
			return true
		}
		i = end
	}
}

func isNameChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// hasEnv says whether ENV sets name (ENV wins over ARG).
func (st *state) hasEnv(name string) bool {
	for _, kv := range st.config.Config.Env {
		if k, _, _ := strings.Cut(kv, "="); k == name {
			return true
		}
	}
	return false
}

// oneLine is an instruction as history and progress show it: its source
// on one line.
func oneLine(cmd instructions.Command) string {
	s := cmd.Name()
	if str, ok := cmd.(fmt.Stringer); ok {
		s = str.String()
	}
	s = strings.ReplaceAll(s, "\\\n", " ")
	return strings.Join(strings.Fields(s), " ")
}

// canonical is the expanded command as its cache key sees it.
func canonical(cmd instructions.Command) string {
	b, err := json.Marshal(cmd)
	if err != nil {
		return fmt.Sprintf("%s %#v", cmd.Name(), cmd)
	}
	return cmd.Name() + " " + string(b)
}

// prepare expands a step and says what it depends on and what it does.
func (b *builder) prepare(ctx context.Context, st *state, cmd instructions.Command) (*execution, error) {
	if a, ok := cmd.(*instructions.ArgCommand); ok {
		return b.prepareArg(st, a)
	}
	used, err := b.expandCommand(st, cmd)
	if err != nil {
		return nil, err
	}
	ex := &execution{instruction: oneLine(cmd)}
	ex.inputs.Instruction = canonical(cmd)
	ex.inputs.Args = used
	switch c := cmd.(type) {
	case *instructions.EnvCommand:
		ex.config = func(cfg *v1.Config) {
			for _, kv := range c.Env {
				cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
			}
		}
	case *instructions.WorkdirCommand:
		dir := resolvePath(st.config.Config.WorkingDir, c.Path)
		ex.config = func(cfg *v1.Config) { cfg.WorkingDir = dir }
	case *instructions.LabelCommand:
		ex.config = func(cfg *v1.Config) {
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			for _, kv := range c.Labels {
				cfg.Labels[kv.Key] = kv.Value
			}
		}
	case *instructions.MaintainerCommand:
		ex.config = func(*v1.Config) {}
		st.config.Author = c.Maintainer
	case *instructions.ExposeCommand:
		ports, err := exposedPorts(c.Ports)
		if err != nil {
			return nil, err
		}
		ex.config = func(cfg *v1.Config) {
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				cfg.ExposedPorts[p] = struct{}{}
			}
		}
	case *instructions.CmdCommand:
		args := b.withShell(st, c.ShellDependantCmdLine)
		ex.config = func(cfg *v1.Config) { cfg.Cmd = args }
	case *instructions.EntrypointCommand:
		args := b.withShell(st, c.ShellDependantCmdLine)
		ex.config = func(cfg *v1.Config) {
			cfg.Entrypoint = args
			cfg.Cmd = nil // as Docker does: ENTRYPOINT resets an inherited CMD
		}
	case *instructions.UserCommand:
		ex.config = func(cfg *v1.Config) { cfg.User = c.User }
	case *instructions.VolumeCommand:
		ex.config = func(cfg *v1.Config) {
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			for _, v := range c.Volumes {
				cfg.Volumes[v] = struct{}{}
			}
		}
	case *instructions.StopSignalCommand:
		ex.config = func(cfg *v1.Config) { cfg.StopSignal = c.Signal }
	case *instructions.HealthCheckCommand:
		h := c.Health
		ex.config = func(cfg *v1.Config) {
			cfg.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		}
	case *instructions.ShellCommand:
		ex.config = func(cfg *v1.Config) { cfg.Shell = c.Shell }
	case *instructions.OnbuildCommand:
		ex.config = func(cfg *v1.Config) { cfg.OnBuild = append(cfg.OnBuild, c.Expression) }
	case *instructions.CopyCommand:
		return b.prepareCopy(ctx, st, c, ex)
	case *instructions.AddCommand:
		return b.prepareAdd(ctx, st, c, ex)
	case *instructions.RunCommand:
		return b.prepareRun(ctx, st, c, ex)
	default:
		return nil, fmt.Errorf("%s is not supported", strings.ToUpper(cmd.Name()))
	}
	return ex, nil
}

// prepareArg declares build arguments: the --build-arg value if given,
// else the default, else (for a name declared before FROM) the global one.
func (b *builder) prepareArg(st *state, a *instructions.ArgCommand) (*execution, error) {
	ex := &execution{instruction: oneLine(a), noHistory: true}
	env := st.env()
	var decls []string
	for _, kv := range a.Args {
		var val *string
		if v, ok := b.opts.BuildArgs[kv.Key]; ok {
			val = &v
		} else if kv.Value != nil {
			v, err := expandWord(*kv.Value, env, b.df.EscapeToken)
			if err != nil {
				return nil, err
			}
			val = &v
		} else if v, ok := b.metaEnv[kv.Key]; ok {
			val = &v
		}
		st.args[kv.Key] = val
		d := kv.Key
		if val != nil {
			d += "=" + *val
		}
		decls = append(decls, d)
	}
	ex.inputs.Instruction = "ARG " + strings.Join(decls, " ")
	return ex, nil
}

// withShell turns a shell-form command into SHELL + command.
func (b *builder) withShell(st *state, c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return append([]string(nil), c.CmdLine...)
	}
	sh := st.config.Config.Shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(append([]string(nil), sh...), strings.Join(c.CmdLine, " "))
}

func setEnv(env []string, key, value string) []string {
	for i, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}

// exposedPorts normalises EXPOSE arguments: "5000" -> "5000/tcp".
func exposedPorts(ports []string) ([]string, error) {
	var out []string
	for _, p := range ports {
		num, proto, _ := strings.Cut(p, "/")
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return nil, fmt.Errorf("EXPOSE %s: unknown protocol %q", p, proto)
		}
		lo, hi, isRange := strings.Cut(num, "-")
		var a, z int
		if _, err := fmt.Sscanf(lo, "%d", &a); err != nil || a < 1 || a > 65535 {
			return nil, fmt.Errorf("EXPOSE %s: invalid port", p)
		}
		z = a
		if isRange {
			if _, err := fmt.Sscanf(hi, "%d", &z); err != nil || z < a || z > 65535 {
				return nil, fmt.Errorf("EXPOSE %s: invalid port range", p)
			}
		}
		for n := a; n <= z; n++ {
			out = append(out, fmt.Sprintf("%d/%s", n, proto))
		}
	}
	sort.Strings(out)
	return out, nil
}
