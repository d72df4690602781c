package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/strata-ml/strata/internal/runtime"
)

// newMonitorCmd is the hidden `strata monitor ID` that `run -d` starts to
// supervise a container: it holds the published ports (inherited as file
// descriptors 4 and up), writes the logs, and records the exit. It reports
// the start on descriptor 3.
func newMonitorCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:    "monitor CONTAINER",
		Short:  "Supervise a detached container (started by run -d)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			unix.CloseOnExec(3)
			status := os.NewFile(3, "status")
			report := func(ms monitorStatus) {
				if status == nil {
					return
				}
				b, _ := json.Marshal(ms)
				status.Write(b)
				status.Close()
				status = nil
			}
			defer report(monitorStatus{Error: "the monitor failed", Code: 125})
			rt, err := o.openRuntime()
			if err != nil {
				report(monitorStatus{Error: err.Error(), Code: 125})
				return err
			}
			st, err := rt.Lookup(ctx, args[0])
			if err != nil {
				report(monitorStatus{Error: err.Error(), Code: 125})
				return err
			}
			var ls []net.Listener
			for i := range st.Ports {
				f := os.NewFile(uintptr(4+i), "listener")
				l, err := net.FileListener(f)
				f.Close()
				if err != nil {
					err = fmt.Errorf("monitor: published port %d: %w", st.Ports[i].HostPort, err)
					report(monitorStatus{Error: err.Error(), Code: 125})
					return err
				}
				ls = append(ls, l)
			}
			closeOnExec()
			signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
			sigs := make(chan os.Signal, 4)
			signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
			_, err = rt.Run(ctx, st, runtime.RunOptions{
				Listeners: ls,
				Signals:   sigs,
				Started:   func(*runtime.State) { report(monitorStatus{}) },
			})
			var serr *runtime.StartError
			if errors.As(err, &serr) {
				report(monitorStatus{Error: serr.Msg, Code: serr.Code})
			} else if err != nil {
				report(monitorStatus{Error: err.Error(), Code: 125})
			}
			if st.AutoRemove {
				if rerr := rt.Remove(context.WithoutCancel(ctx), st, runtime.RemoveOptions{Force: true}); rerr != nil && err == nil {
					err = rerr
				}
			}
			return err
		},
	}
}

// closeOnExec marks every inherited descriptor above stderr close-on-exec,
// so that runc and the container hold none of them: not the status pipe
// (whose end tells run -d the monitor has reported), nor any descriptor
// strata's own caller leaked.
func closeOnExec() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}
