package bench

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// pfKthread is PF_KTHREAD in /proc/PID/stat's flags (include/linux/sched.h).
const pfKthread = 0x00200000

// procStat is the part of one /proc/PID/stat line that attribution needs.
type procStat struct {
	pid, ppid int
	comm      string
	kthread   bool
	start     uint64 // starttime: a pid with another start is another process
	self      uint64 // utime+stime, ticks
	children  uint64 // cutime+cstime: the waited-for children's, ticks
}

// parseProcStat reads a /proc/PID/stat line (proc(5): pid 1, comm 2,
// ppid 4, flags 9, utime 14 … cstime 17, starttime 22).
func parseProcStat(stat []byte) (procStat, error) {
	head, comm, f, err := statFields(stat, 20)
	if err != nil {
		return procStat{}, err
	}
	p := procStat{comm: comm}
	if p.pid, err = strconv.Atoi(strings.TrimSpace(head)); err != nil || p.pid <= 0 {
		return procStat{}, fmt.Errorf("%w: pid %q", ErrProcFormat, truncate(head, 20))
	}
	if p.ppid, err = strconv.Atoi(f[1]); err != nil || p.ppid < 0 {
		return procStat{}, fmt.Errorf("%w: ppid %q", ErrProcFormat, f[1])
	}
	var flags, utime, stime, cutime, cstime uint64
	if flags, p.start, err = statUints2(f, 6, 19); err != nil {
		return procStat{}, err
	}
	if utime, stime, err = statUints2(f, 11, 12); err != nil {
		return procStat{}, err
	}
	if cutime, cstime, err = statUints2(f, 13, 14); err != nil {
		return procStat{}, err
	}
	p.kthread = flags&pfKthread != 0
	p.self, p.children = utime+stime, cutime+cstime
	return p, nil
}

// statFields splits a /proc/PID/stat line into what precedes the command
// name, the command name, and the fields after it (f[0] is the state,
// field 3 of proc(5)), wanting at least need of those. The command name
// may hold spaces and parentheses, so the fields are counted from the
// last ')'.
func statFields(stat []byte, need int) (head, comm string, f []string, err error) {
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	open := strings.IndexByte(s, '(')
	if i < 0 || open < 0 || open > i {
		return "", "", nil, fmt.Errorf("%w: no (command) in /proc/PID/stat", ErrProcFormat)
	}
	f = strings.Fields(s[i+1:])
	if len(f) < need {
		return "", "", nil, fmt.Errorf("%w: %d fields after the command name", ErrProcFormat, len(f))
	}
	return s[:open], s[open+1 : i], f, nil
}

// statUints2 parses two unsigned fields of statFields' f (indexes into f;
// proc(5) numbers them 3 higher).
func statUints2(f []string, a, b int) (va, vb uint64, err error) {
	if va, err = strconv.ParseUint(f[a], 10, 64); err == nil {
		vb, err = strconv.ParseUint(f[b], 10, 64)
		a = b
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%w: /proc/PID/stat field %d: %w", ErrProcFormat, a+3, err)
	}
	return va, vb, nil
}

// procTable is every process of the machine at one moment, by pid.
type procTable map[int]procStat

// readProcs reads the stat of every process under proc (the /proc file
// system). A process that ends while the table is read, or whose line
// does not parse, is left out: it cannot be told apart from one that
// ended a moment earlier.
func readProcs(proc fs.FS) procTable {
	entries, err := fs.ReadDir(proc, ".")
	if err != nil {
		return procTable{}
	}
	t := make(procTable, len(entries))
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := fs.ReadFile(proc, e.Name()+"/stat")
		if err != nil {
			continue
		}
		if p, err := parseProcStat(b); err == nil {
			t[p.pid] = p
		}
	}
	return t
}

// inTree reports whether pid descends from root (or is root) by the
// parent links of t.
func (t procTable) inTree(pid, root int) bool {
	for steps := 0; steps < len(t)+1; steps++ { // bounded: a table read mid-change may hold a cycle
		if pid == root {
			return true
		}
		p, ok := t[pid]
		if !ok || p.ppid == 0 || p.ppid == pid {
			return false
		}
		pid = p.ppid
	}
	return false
}
