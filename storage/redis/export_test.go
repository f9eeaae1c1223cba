package redis

// SnapshotTxAttempts returns how often Snapshot tries its transaction.
func SnapshotTxAttempts() int { return snapshotTxAttempts }

// SetSnapshotTxAttempts sets it (0 forces the Lua script) and returns the
// previous value.
func SetSnapshotTxAttempts(n int) int {
	old := snapshotTxAttempts
	snapshotTxAttempts = n
	return old
}
