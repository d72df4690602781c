package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/strata-ml/strata/internal/runtime"
)

func newExecCmd(o *options) *cobra.Command {
	var interactive, tty, detach bool
	var env []string
	var workdir, user string
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Example: `  strata exec app ls /
  strata exec -it app sh`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := o.openRuntime()
			if err != nil {
				return err
			}
			st, err := lookupContainer(cmd.Context(), rt, args[0])
			if err != nil {
				return err
			}
			envs, err := parseEnv(env, nil)
			if err != nil {
				return err
			}
			if tty && !detach {
				in, ok := o.stdin.(*os.File)
				if !ok || !term.IsTerminal(int(in.Fd())) {
					return errors.New("the input device is not a TTY")
				}
			}
			x, err := rt.ExecCommand(cmd.Context(), st, runtime.ExecOptions{
				Args: args[1:], Env: envs, WorkDir: workdir, User: user, Tty: tty, Detach: detach,
			})
			if err != nil {
				return err
			}
			if interactive || tty {
				x.Cmd.Stdin = o.stdin
			}
			x.Cmd.Stdout, x.Cmd.Stderr = o.stdout, o.stderr
			code, err := x.Run()
			var serr *runtime.StartError
			if errors.As(err, &serr) {
				fmt.Fprintf(o.stderr, "Error: %s\n", serr.Msg)
				return ExitError{Code: serr.Code}
			}
			if err != nil {
				return fmt.Errorf("exec in %s: %w", st.ShortID(), err)
			}
			if code != 0 {
				return ExitError{Code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&interactive, "interactive", "i", false, "keep STDIN open")
	f.BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-TTY")
	f.BoolVarP(&detach, "detach", "d", false, "run the command in the background")
	f.StringArrayVarP(&env, "env", "e", nil, "set environment variables")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVarP(&user, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	return cmd
}
