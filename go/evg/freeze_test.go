package evg

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lf-edge/eve-guest-agent/go/evgpb"
)

// run runs a command of the test's set-up and fails the test if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
	return string(out)
}

// loopMount makes a 64 MiB ext4 image, attaches it to a loop device and
// mounts it at mnt; everything is undone when the test ends (thawed
// first: a frozen filesystem cannot be unmounted).  Skips the test where
// loop devices cannot be used.
func loopMount(t *testing.T, img, mnt string) {
	t.Helper()
	needRoot(t)
	for _, tool := range []string{"losetup", "mkfs.ext4", "mount", "fsfreeze"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	run(t, "mkfs.ext4", "-q", "-F", img)
	out, err := exec.Command("losetup", "--find", "--show", img).Output()
	if err != nil {
		t.Skipf("no loop device: %v", err)
	}
	dev := string(out[:len(out)-1])
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "ext4", dev, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount %s: %v: %s", dev, err, out)
	}
	t.Cleanup(func() {
		exec.Command("fsfreeze", "-u", mnt).Run()
		if exec.Command("umount", mnt).Run() != nil {
			exec.Command("umount", "-l", mnt).Run()
		}
	})
}

// writable: a write on mnt finishes within 2 s (it would block while the
// filesystem is frozen).
func writable(mnt string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "sh", "-c", "echo x > '"+mnt+"/probe' && sync").Run() == nil
}

// Proves a controller snapshot that really freezes the guest, with the
// real guest agent daemon on the VM's hybrid socket and an ext4 on a loop
// device standing in for the guest's disk: an fs create and an app create
// (pre and post hooks that succeed) answer members whose consistency
// record (freeze time, the frozen mount) decodes, the events of every step
// reach the stream in order, and nothing stays frozen.
func TestFreezeWithGuestAgent(t *testing.T) {
	h := startHostd(t, "zfs = "+mockZFS(t), "space_reserve_mib = 0")
	img, mnt := h.path("disk.img"), h.path("mnt")
	loopMount(t, img, mnt)
	c := h.dial()
	ctx := ctxFor(t, 60*time.Second)
	stream := Follow(ctx, h.sock)
	defer stream.Close()
	<-stream.Ready()

	vm := h.zfsVM(vmOne, "frozen", StateRunning, "persist/frozen", "unused")
	vm.Volumes[0].Disks = []*evgpb.DiskId{{Kind: DiskBacking, Value: img}}
	mustAdd(t, c, vm)
	hooks := h.path("hooks")
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(hooks, 0o755)
	for _, name := range []string{"pre.sh", "post.sh"} {
		p := filepath.Join(hooks, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\necho \"$EVE_SNAPSHOT_PHASE ok\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, 0o755)
	}
	h.agent(c, vmOne, vm.HybridSocket, hooks)

	snaps, err := c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmOne, Name: "fs-1", Consistency: ConsistencyFS})
	if err != nil {
		t.Fatalf("fs create: %v", err)
	}
	if len(snaps) != 1 || snaps[0].Consistency != ConsistencyFS || len(snaps[0].Mounts) != 1 ||
		snaps[0].Mounts[0].Mountpoint != mnt || snaps[0].Mounts[0].Action != "frozen" {
		t.Fatalf("fs create answered %v", snaps)
	}
	expectEvents(t, stream, vmOne, "started", "frozen", "backend-done", "thawed", "committed")
	if !writable(mnt) {
		t.Fatal("left frozen")
	}

	snaps, err = c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmOne, Name: "app-1", Consistency: ConsistencyApp})
	if err != nil {
		t.Fatalf("app create: %v", err)
	}
	if len(snaps) != 1 || snaps[0].Consistency != ConsistencyApp {
		t.Fatalf("app create answered %v", snaps)
	}
	expectEvents(t, stream, vmOne, "started", "pre-started", "pre-finished", "frozen", "backend-done",
		"thawed", "post-started", "post-finished", "committed")
	if !writable(mnt) {
		t.Fatal("left frozen")
	}
	h.alive()
}
