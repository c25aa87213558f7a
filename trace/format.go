package trace

import (
	"fmt"
	"io"
	"strings"
)

// Text renders r like VPP's trace: a header line with time, direction,
// port and verdict, then one line per stage.
func (r *Record) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s #%d", r.Time.Format("15:04:05.000000"), r.Dir, r.ID)
	if r.Port != "" {
		fmt.Fprintf(&b, " port %s", r.Port)
	}
	fmt.Fprintf(&b, " gen %d", r.Generation)
	if r.Simulated {
		b.WriteString(" (simulated)")
	}
	fmt.Fprintf(&b, ": %s", r.Verdict)
	if r.Incomplete {
		b.WriteString(" [stages lost: trace ring full]")
	}
	b.WriteByte('\n')
	for _, s := range r.Stages {
		fmt.Fprintf(&b, "  %-9s %s\n", s.Stage, s.Decision)
	}
	return b.String()
}

// Comment is the pcapng comment of r: its verdict and one stage per line.
func (r *Record) Comment() string {
	var b strings.Builder
	fmt.Fprintf(&b, "podfwd %s #%d gen %d: %s", r.Dir, r.ID, r.Generation, r.Verdict)
	for _, s := range r.Stages {
		fmt.Fprintf(&b, "\n%s: %s", s.Stage, s.Decision)
	}
	return b.String()
}

// WritePcap writes r as one packet of p with its comment; a record without
// bytes (a stage lost, or a simulation) is skipped.
func (r *Record) WritePcap(p *PcapWriter) error {
	if len(r.Wire) == 0 {
		return nil
	}
	return p.WritePacket(r.Time, r.Wire, r.WireLen, r.Comment())
}

// WriteText writes r.Text() to w.
func (r *Record) WriteText(w io.Writer) error {
	_, err := io.WriteString(w, r.Text())
	return err
}
