package topo

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
)

// Sweep removes the namespaces left behind by runs that died: every
// namespace whose name is head followed by 4 hex digits (the low 16 bits of
// the owner's PID, as the default prefix and testenv.RunPrefix write them)
// and then anything, when no live process has a PID with those low bits.
// Processes still inside such a namespace are killed first. PIDs are those
// this process sees in /proc: sweep from the PID namespace the runs used. A name whose
// digits match a live process is kept, so a live run is never swept (at the
// price of keeping a dead run's leftovers while its PID bits are reused).
// Sweep returns the names it removed. Use "pf" to sweep default prefixes.
func Sweep(head string) (removed []string, err error) {
	names, err := listNamespaces()
	if err != nil {
		return nil, err
	}
	live, err := livePIDBits()
	if err != nil {
		return nil, err // without the live PIDs, nothing is known to be stale
	}
	var errs []error
	for _, name := range names {
		bits, ok := ownerPIDBits(head, name)
		if !ok || live[bits] {
			continue
		}
		if err := killIn([]string{name}); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := deleteNamespace(name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}

// ownerPIDBits parses name as head + 4 lowercase hex digits + anything and
// returns the digits' value.
func ownerPIDBits(head, name string) (uint16, bool) {
	if len(name) < len(head)+4 || name[:len(head)] != head {
		return 0, false
	}
	digits := name[len(head) : len(head)+4]
	if !hex4.MatchString(digits) {
		return 0, false
	}
	v, err := strconv.ParseUint(digits, 16, 16)
	if err != nil {
		return 0, false
	}
	return uint16(v), true
}

var hex4 = regexp.MustCompile(`^[0-9a-f]{4}$`)

// livePIDBits returns the low 16 bits of every PID in /proc (zombies
// included: their parent may still be the owner's).
func livePIDBits() (map[uint16]bool, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("topo: list processes: %w", err)
	}
	live := make(map[uint16]bool, len(entries))
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			live[uint16(pid&0xffff)] = true
		}
	}
	return live, nil
}
