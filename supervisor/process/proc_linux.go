package process

import (
	"os"
	"strconv"
	"strings"
)

// procStart returns the start time of pid (clock ticks since boot, field 22
// of /proc/<pid>/stat). ok is false when pid is gone or a zombie.
func procStart(pid int) (ticks uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	ticks, err = strconv.ParseUint(f[19], 10, 64)
	return ticks, err == nil
}

// alive reports whether pid runs and is the process that started at ticks
// (0: unknown, the pid alone decides).
func alive(pid int, ticks uint64) bool {
	if pid <= 0 {
		return false
	}
	got, ok := procStart(pid)
	return ok && (ticks == 0 || got == ticks)
}

// orphanGroup reports whether a process group with id pid can only be what
// is left of the process that started at ticks: no process has pid now, or
// that process (a zombie) is the one. Then the group may be killed without
// hitting a stranger that reused the pid.
func orphanGroup(pid int, ticks uint64) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return os.IsNotExist(err)
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(b[i+1:]))
	return ticks != 0 && len(f) >= 20 && f[19] == strconv.FormatUint(ticks, 10)
}
