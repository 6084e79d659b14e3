package main

import (
	"os"
	"syscall"
)

// statBlocks is the number of 512-byte blocks allocated to a file.
func statBlocks(st os.FileInfo) int64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Blocks
	}
	return 0
}
