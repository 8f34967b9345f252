package malloctune

import "testing"

// TestKeepLargeBlocks: on glibc (Debian, Ubuntu) the thresholds are taken;
// elsewhere nothing is set and it says so.
func TestKeepLargeBlocks(t *testing.T) {
	if got := KeepLargeBlocks(); got != glibc() {
		t.Errorf("KeepLargeBlocks() = %v on a C library that is glibc: %v", got, glibc())
	}
}
