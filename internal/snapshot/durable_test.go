package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-ml/strata/internal/image"
)

// durableStores is stores with snapshots flushed as strata does, in a
// boot whose ID is boot.
func durableStores(t *testing.T, boot string) (*image.Store, *Store) {
	t.Helper()
	is, ss := stores(t)
	ss.NoSync, ss.bootID = false, boot
	return is, ss
}

// reboot opens the snapshot store of ss again, as after a reboot into boot.
func reboot(t *testing.T, ss *Store, boot string) *Store {
	t.Helper()
	again, err := Open(filepath.Dir(ss.Dir()))
	if err != nil {
		t.Fatal(err)
	}
	again.bootID = boot
	return again
}

// oneLayer makes an image of one layer of entries (compressed as how) and
// prepares it in ss: it returns the image, the layer's snapshot directory
// and its chain ID.
func oneLayer(t *testing.T, is *image.Store, ss *Store, name, how string, entries ...entry) (image.Image, string, v1.Hash) {
	t.Helper()
	l := tarOf(t, entries...)
	img := testImage(t, is, name, how, l)
	lowers, err := ss.Prepare(t.Context(), is, img)
	if err != nil {
		t.Fatal(err)
	}
	return img, lowers[0], ChainIDs([]v1.Hash{digestOf(l)})[0]
}

func pendingMark(t *testing.T, ss *Store, chain v1.Hash) string {
	t.Helper()
	b, err := os.ReadFile(ss.pendingPath(chain))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFlushLater: a new snapshot is usable at once, marked pending with
// its boot; Flush writes it back and clears the mark.
func TestFlushLater(t *testing.T) {
	needRoot(t)
	is, ss := durableStores(t, "boot-a")
	img, lower, chain := oneLayer(t, is, ss, "test/flush:1", "gzip", dir("app/"), file("app/model.pkl", "weights"))
	if got := readFile(t, filepath.Join(lower, "app/model.pkl")); got != "weights" {
		t.Fatalf("model.pkl = %q", got)
	}
	if m := pendingMark(t, ss, chain); m != "boot-a\n" {
		t.Fatalf("pending mark %q, want the boot's ID", m)
	}
	if !ss.Exists(chain) || !ss.Pending() || ss.Unpacked() != 1 {
		t.Fatalf("Exists %v, Pending %v, Unpacked %d", ss.Exists(chain), ss.Pending(), ss.Unpacked())
	}
	if err := ss.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if m := pendingMark(t, ss, chain); m != "" {
		t.Fatalf("after Flush the mark says %q", m)
	}
	if !ss.Exists(chain) || ss.Pending() {
		t.Fatalf("after Flush: Exists %v, Pending %v", ss.Exists(chain), ss.Pending())
	}
	// A flushed snapshot is trusted after a reboot.
	after := reboot(t, ss, "boot-b")
	if _, err := after.Prepare(t.Context(), is, img); err != nil {
		t.Fatal(err)
	}
	if after.Unpacked() != 0 {
		t.Fatalf("a flushed snapshot was unpacked again after a reboot")
	}
}

// TestStaleSnapshotUnpackedAgain: a snapshot an earlier boot never flushed
// may have lost files in a crash: the next Prepare unpacks it again, and
// a snapshot of the current boot is left alone.
func TestStaleSnapshotUnpackedAgain(t *testing.T) {
	needRoot(t)
	is, ss := durableStores(t, "boot-a")
	img, lower, chain := oneLayer(t, is, ss, "test/stale:1", "", dir("app/"), file("app/model.pkl", "weights"))
	// The crash: the file's data never reached the disk.
	if err := os.Truncate(filepath.Join(lower, "app/model.pkl"), 0); err != nil {
		t.Fatal(err)
	}
	same := reboot(t, ss, "boot-a")
	if !same.Exists(chain) {
		t.Fatal("the boot that unpacked a snapshot does not trust it")
	}
	after := reboot(t, ss, "boot-b")
	if after.Exists(chain) {
		t.Fatal("a snapshot an earlier boot did not flush counts as unpacked")
	}
	lowers, err := after.Prepare(t.Context(), is, img)
	if err != nil {
		t.Fatal(err)
	}
	if after.Unpacked() != 1 {
		t.Fatalf("Unpacked %d, want 1", after.Unpacked())
	}
	if got := readFile(t, filepath.Join(lowers[0], "app/model.pkl")); got != "weights" {
		t.Fatalf("model.pkl = %q after unpacking again", got)
	}
	if m := pendingMark(t, after, chain); m != "boot-b\n" {
		t.Fatalf("pending mark %q, want the new boot's", m)
	}
	if entries, _ := os.ReadDir(filepath.Join(ss.Dir(), "tmp")); len(entries) != 0 {
		t.Fatalf("tmp/ holds %d entries", len(entries))
	}
}

// TestFlushKeepsNewerMarks: a mark replaced while Flush ran (the snapshot
// removed and unpacked again) is not Flush's to clear.
func TestFlushKeepsNewerMarks(t *testing.T) {
	needRoot(t)
	_, ss := durableStores(t, "boot-a")
	chain := v1.Hash{Algorithm: "sha256", Hex: "ab"}
	if err := os.WriteFile(ss.chainLock(chain), nil, 0o600); err != nil { // as the unpack left it
		t.Fatal(err)
	}
	if err := ss.markPending(chain); err != nil {
		t.Fatal(err)
	}
	marks, err := ss.marks()
	if err != nil || len(marks) != 1 {
		t.Fatalf("marks %v, %v", marks, err)
	}
	if err := ss.markPending(chain); err != nil {
		t.Fatal(err)
	}
	if err := ss.clear(marks[0]); err != nil {
		t.Fatal(err)
	}
	if pendingMark(t, ss, chain) == "" {
		t.Fatal("Flush cleared a mark made after it started")
	}
	marks, _ = ss.marks()
	if err := ss.clear(marks[0]); err != nil {
		t.Fatal(err)
	}
	if m := pendingMark(t, ss, chain); m != "" {
		t.Fatalf("mark %q left", m)
	}
}

// TestPruneRemovesMarks: pruning a snapshot removes its mark, and marks
// whose snapshot is gone (an unpack killed after marking) go too.
func TestPruneRemovesMarks(t *testing.T) {
	needRoot(t)
	is, ss := durableStores(t, "boot-a")
	_, _, chain := oneLayer(t, is, ss, "test/prune-marks:1", "", file("f", "x"))
	orphan := v1.Hash{Algorithm: "sha256", Hex: "cd"}
	if err := ss.markPending(orphan); err != nil {
		t.Fatal(err)
	}
	if _, err := is.Remove(t.Context(), "test/prune-marks:1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Prune(t.Context(), is, nil); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, ss.Path(chain))
	mustNotExist(t, ss.pendingPath(chain))
	mustNotExist(t, ss.pendingPath(orphan))
}

// TestNoBootID: where the kernel gives no boot ID, a snapshot is flushed
// before it becomes visible and never marked.
func TestNoBootID(t *testing.T) {
	needRoot(t)
	is, ss := durableStores(t, "")
	_, _, chain := oneLayer(t, is, ss, "test/no-boot:1", "", file("f", "x"))
	if !ss.Exists(chain) || ss.Pending() || pendingMark(t, ss, chain) != "" {
		t.Fatalf("Exists %v, Pending %v", ss.Exists(chain), ss.Pending())
	}
}

// TestUnknownBootKeepsSnapshots: a process that cannot read the boot ID
// cannot tell a pending snapshot from a stale one; it says so and leaves
// the snapshot (which a container may be using) alone.
func TestUnknownBootKeepsSnapshots(t *testing.T) {
	needRoot(t)
	is, ss := durableStores(t, "boot-a")
	img, _, chain := oneLayer(t, is, ss, "test/unknown-boot:1", "", file("f", "x"))
	before, err := os.Stat(ss.Path(chain))
	if err != nil {
		t.Fatal(err)
	}
	blind := reboot(t, ss, "")
	if _, err := blind.Prepare(t.Context(), is, img); err == nil || !strings.Contains(err.Error(), "no boot ID") {
		t.Fatalf("Prepare without a boot ID: %v", err)
	}
	after, err := os.Stat(ss.Path(chain))
	if err != nil || !os.SameFile(before, after) || blind.Unpacked() != 0 {
		t.Fatalf("the snapshot was replaced (%v, unpacked %d)", err, blind.Unpacked())
	}
	if m := pendingMark(t, ss, chain); m != "boot-a\n" {
		t.Fatalf("mark %q", m)
	}
}

// TestFlushWaitsOnce: while one Flush runs, a second waits for it and a
// third, finding the second waiting, returns at once.
func TestFlushWaitsOnce(t *testing.T) {
	needRoot(t)
	_, ss := durableStores(t, "boot-a")
	unlock, err := lockDir(t.Context(), ss.Dir()) // the running Flush
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- ss.Flush(t.Context()) }()
	// The second holds the waiting place once pending/ is locked (read
	// from /proc/locks: trying the lock here would take the place).
	for deadline := time.Now().Add(10 * time.Second); !flockHeld(t, ss.pendingDir()); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second Flush never waited")
		}
	}
	third := make(chan error, 1)
	go func() { third <- ss.Flush(t.Context()) }()
	select {
	case err := <-third:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the third Flush waited too")
	}
	select {
	case <-second:
		t.Fatal("the second Flush ran while the first held the lock")
	default:
	}
	unlock()
	if err := <-second; err != nil {
		t.Fatal(err)
	}
}

// flockHeld says whether /proc/locks lists a flock(2) on path's inode.
func flockHeld(t *testing.T, path string) bool {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Fatal(err)
	}
	// "1: FLOCK  ADVISORY  WRITE 1234 00:1f:5678 0 EOF": major:minor:inode.
	want := fmt.Sprintf(":%d ", st.Ino)
	dev := fmt.Sprintf("%02x:%02x:", unix.Major(st.Dev), unix.Minor(st.Dev))
	for _, l := range strings.Split(string(locks), "\n") {
		if strings.Contains(l, "FLOCK") && strings.Contains(l, dev) && strings.Contains(l, want) {
			return true
		}
	}
	return false
}
