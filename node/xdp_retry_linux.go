package node

import (
	"errors"
	"log/slog"
	"time"

	"github.com/podfwd/podfwd/xdp"
)

// releaseWait bounds how long a start waits for what the previous podfwd
// is still releasing: the kernel frees an exiting process's AF_XDP queue
// binding shortly after the process is gone, and a DaemonSet's rolling
// update starts the new pod right then.
var releaseWait = struct{ first, max, total time.Duration }{10 * time.Millisecond, 500 * time.Millisecond, 10 * time.Second}

// retryWhileBusy calls open until it succeeds, fails with something other
// than a busy queue (xdp.ErrQueueBusy; a busy XDP attach means another
// tool's program and is final), or releaseWait.total has passed; it logs once what
// it waits for, and once how long it took.
func retryWhileBusy[T any](log *slog.Logger, what string, open func() (T, error)) (T, error) {
	start := time.Now()
	delay := releaseWait.first
	logged := false
	for {
		v, err := open()
		busy := errors.Is(err, xdp.ErrQueueBusy)
		if err == nil && logged {
			log.Info("released; started", "what", what, "waited", time.Since(start).Round(time.Millisecond))
		}
		if !busy || time.Since(start) >= releaseWait.total {
			return v, err
		}
		if !logged {
			log.Warn("busy, most likely still held by the previous podfwd; retrying", "what", what, "err", err, "upTo", releaseWait.total)
			logged = true
		}
		time.Sleep(delay)
		delay = min(2*delay, releaseWait.max)
	}
}
