package host

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// DescriptorCeiling is the open-files hard limit that a root process of
// this host cannot go beyond (0: none, CAP_SYS_RESOURCE lets it).
func DescriptorCeiling() int {
	if hasCapability(24) { // CAP_SYS_RESOURCE
		return 0
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Max > 1<<30 {
		return 0
	}
	return int(rl.Max)
}

// hasCapability reports whether this process has capability bit in its
// effective set (true when /proc does not say).
func hasCapability(bit uint) bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(data), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err != nil || v&(1<<bit) != 0
		}
	}
	return true
}

// PidMax is kernel.pid_max (ok false when /proc does not say).
func PidMax() (int, bool) {
	data, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		return 0, false
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return n, true
}
