package integration

import "syscall"

var syscallZero = syscall.Signal(0)
