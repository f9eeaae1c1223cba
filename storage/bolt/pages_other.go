//go:build !linux

package bolt

// dontNeed does nothing here: the pages stay resident.
func dontNeed(addr uintptr, n int) {}
