package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestContainersKeepTheirImages: rmi refuses an image a container uses
// (unless -f), and prune keeps the blobs and unpacked layers of a
// container's image until the container is gone.
func TestContainersKeepTheirImages(t *testing.T) {
	e := newContainerEnv(t)
	e.ok("tag", "busybox", "only:v1")
	e.ok("rmi", "busybox") // only:v1 still names it
	e.okT("run", "--name", "keeper", "only:v1", "sh", "-c", "echo kept > /data")

	e.fails("container", "rmi", "only:v1")
	e.ok("rmi", "-f", "only:v1")
	e.ok("prune", "-f")
	blobs, _ := os.ReadDir(filepath.Join(e.root, "blobs", "sha256"))
	if len(blobs) == 0 {
		t.Fatal("prune removed the blobs of an image a container uses")
	}
	snaps := filepath.Join(e.root, "snapshots")
	if entries, _ := os.ReadDir(snaps); len(entries) == 0 {
		t.Fatal("prune removed the unpacked layers of a container")
	}
	if out := e.okT("diff", "keeper"); !strings.Contains(out, "A /data") {
		t.Fatalf("diff after prune: %s", out)
	}

	e.okT("rm", "keeper")
	out := e.ok("prune", "-f")
	if !strings.Contains(out, "Total reclaimed space") {
		t.Fatalf("prune: %s", out)
	}
	blobs, _ = os.ReadDir(filepath.Join(e.root, "blobs", "sha256"))
	if len(blobs) != 0 {
		t.Fatalf("%d blobs left once no container or name uses them", len(blobs))
	}
}
