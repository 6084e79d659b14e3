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

// statIno is a file's inode number (0 when unknown).
func statIno(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Ino
	}
	return 0
}
