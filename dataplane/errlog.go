package dataplane

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// errorLog logs port errors at most once per second, with the number of
// errors suppressed since the last line, so a failing port is visible
// without flooding the log from the forwarding loops.
type errorLog struct {
	log        *slog.Logger
	last       atomic.Int64 // unix nanoseconds of the last line
	suppressed atomic.Uint64
}

func (l *errorLog) report(port, op string, err error) {
	now := time.Now().UnixNano()
	last := l.last.Load()
	if now-last < int64(time.Second) || !l.last.CompareAndSwap(last, now) {
		l.suppressed.Add(1)
		return
	}
	l.log.Warn("port error", "port", port, "op", op, "err", err, "suppressed", l.suppressed.Swap(0))
}
