package linuxio

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/podfwd/podfwd/dataplane"
)

// closedError is what a port returns once it is closed: errors.Is matches
// both dataplane.ErrPortClosed (the Port contract) and the runtime's own
// net.ErrClosed / os.ErrClosed that the poller reported.
type closedError struct {
	op  string
	err error
}

func (e *closedError) Error() string   { return e.op + ": " + e.err.Error() }
func (e *closedError) Unwrap() []error { return []error{dataplane.ErrPortClosed, e.err} }

// portError wraps err from operation op, keeping its identity and marking
// the closed-file errors of the netpoller as a closed port.
func portError(op string, err error) error {
	if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
		return &closedError{op: op, err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}
