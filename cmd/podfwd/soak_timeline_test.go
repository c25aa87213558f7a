package main

import (
	"sync"
	"time"
)

// The soak judges every lost datagram and failed connect by when it
// happened: loss is allowed only on flows through the restarted node while
// its daemon was down, and shortly after. Times are offsets from the soak's
// start on the monotonic clock.

// Kinds of time the soak tells apart in its accounting.
const (
	windowQuiet   = "quiet"
	windowAPIDown = "apiserver-down"
	windowRestart = "daemon-restart"
)

// restartEdge is how long before a SIGKILL a datagram may already be lost
// (it was inside the daemon, or in a queue only that daemon drains).
const restartEdge = 200 * time.Millisecond

// resumeBound is how long after a disturbance ends traffic must flow again.
const resumeBound = 2 * time.Second

// window is one disturbance: from its start to its end (to < 0 while it
// lasts).
type window struct {
	kind     string
	from, to time.Duration
	note     string
}

// timeline records the disturbances; safe for concurrent use.
type timeline struct {
	start   time.Time
	mu      sync.Mutex
	windows []window
}

func newTimeline() *timeline { return &timeline{start: time.Now()} }

// now is the offset of this moment from the soak's start.
func (tl *timeline) now() time.Duration { return time.Since(tl.start) }

// open starts a window and returns its index for close.
func (tl *timeline) open(kind, note string) int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.windows = append(tl.windows, window{kind: kind, from: tl.now(), to: -1, note: note})
	return len(tl.windows) - 1
}

// close ends window i now.
func (tl *timeline) close(i int) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.windows[i].to = tl.now()
}

// all returns a copy of the windows.
func (tl *timeline) all() []window {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]window(nil), tl.windows...)
}

// kindAt says what was going on at offset at, for traffic through the
// restarted node (viaRestarted) or not: a daemon restart window (from its
// SIGKILL minus restartEdge to resumeBound after the new daemon was up)
// counts only for traffic through that node; an apiserver outage (with
// resumeBound after it) for all.
func (tl *timeline) kindAt(at time.Duration, viaRestarted bool) string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	kind := windowQuiet
	for _, w := range tl.windows {
		to := w.to
		if to < 0 {
			to = 1<<63 - 1 - resumeBound
		}
		switch {
		case w.kind == windowRestart && viaRestarted && at >= w.from-restartEdge && at <= to+resumeBound:
			return windowRestart
		case w.kind == windowAPIDown && at >= w.from && at <= to+resumeBound:
			kind = windowAPIDown
		}
	}
	return kind
}
