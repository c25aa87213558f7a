package config

import "time"

// Poll chooses how tun io waits for packets.
type Poll struct {
	// Spin is how long the forwarding thread keeps trying its ports after
	// the last packet before it sleeps: a packet that comes within it costs
	// no wake-up. "off" keeps one goroutine per direction woken by Go's
	// netpoller (the old way); "0" one thread that never spins. Default
	// DefaultPollSpin. Spinning yields to any other runnable thread and
	// stops while the machine has no idle core.
	Spin string `yaml:"spin"`
}

// DefaultPollSpin is Poll.Spin when the file leaves it out.
const DefaultPollSpin = 50 * time.Microsecond

// PollOff is the Poll.Spin value that turns the polling thread off.
const PollOff = "off"

// SpinDuration returns the spin budget and whether the polling thread is
// on; it fails naming the field when the value is not a duration in
// 0..10ms or "off".
func (p Poll) SpinDuration() (time.Duration, bool, error) {
	switch p.Spin {
	case "":
		return DefaultPollSpin, true, nil
	case PollOff:
		return 0, false, nil
	}
	d, err := time.ParseDuration(p.Spin)
	if err != nil || d < 0 || d > 10*time.Millisecond {
		return 0, false, FieldError("poll.spin", "%q is not off or a duration from 0 to 10ms", p.Spin)
	}
	return d, true, nil
}
