package evg_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lf-edge/eve-guest-agent/go/evg"
	"github.com/lf-edge/eve-guest-agent/go/evgpb"
)

// docExample is the code block under "## Pillar in Go" in docs/eve.md.
func docExample(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(src, "docs", "eve.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "\n## Pillar in Go\n")
	if i < 0 {
		t.Fatal("docs/eve.md has no section '## Pillar in Go'")
	}
	doc = doc[i:]
	start := strings.Index(doc, "\n```go\n")
	if start < 0 {
		t.Fatal("no go code block in '## Pillar in Go'")
	}
	doc = doc[start+len("\n```go\n"):]
	return doc[:strings.Index(doc, "```\n")]
}

// Proves the pillar example of docs/eve.md is this file's code and works
// against the real daemon: a domain's disks mapped as kvm.go places them
// (a cdrom, a container rootfs and a read-only disk left out), registered
// at its first start, the calls in order (vm update, starting, QEMU,
// running; stopped), a second start with a new CID and QMP path, a
// rollback asked for while it runs reaching WatchEvents as
// restart-required and, after the stop, rollback-done; then deletion.
func TestPillarExample(t *testing.T) {
	sock, dir := evg.StartTestHostd(t, "space_reserve_mib = 0")
	self, err := os.ReadFile("pillar_example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	code := string(self)
	code = code[strings.Index(code, "// pillar example: begin\n")+len("// pillar example: begin\n"):]
	code = strings.TrimRight(code[:strings.Index(code, "// pillar example: end\n")], "\n") + "\n"
	if doc := docExample(t, evg.SrcDirForTest(t)); doc != code {
		t.Fatalf("docs/eve.md's example differs from pillar_example_test.go; copy the code between the markers into the doc")
	}

	const app = "6f1c3b9e-1d2a-4c55-9e0b-2b7a1f0c9d11"
	const va, vb = "0a1b2c3d-0000-4000-8000-00000000000a", "0a1b2c3d-0000-4000-8000-00000000000b"
	imgA, imgB := filepath.Join(dir, va+"#1.qcow2"), filepath.Join(dir, vb+"#1.qcow2")
	for _, img := range []string{imgA, imgB} {
		if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", img, "16M").CombinedOutput(); err != nil {
			t.Fatalf("qemu-img: %v %s", err, out)
		}
	}
	ds := &DomainStatus{
		UUID: app, DisplayName: "web", DomainName: app + ".1.1",
		DiskStatusList: []DiskStatus{
			{VolumeKey: va + "#1", DisplayName: "data-a", FileLocation: imgA, Format: "QCOW2", Devtype: "hdd"},
			{VolumeKey: "iso#1", DisplayName: "installer", FileLocation: "/x.iso", Format: "RAW", Devtype: "cdrom", ReadOnly: true},
			{VolumeKey: "rootfs#1", DisplayName: "rootfs", Devtype: ""},
			{VolumeKey: "ci#1", DisplayName: "cloud-init", FileLocation: "/ci.img", Format: "RAW", Devtype: "hdd", ReadOnly: true},
			{VolumeKey: vb + "#1", DisplayName: "data-b", FileLocation: imgB, Format: "QCOW2", Devtype: "hdd"},
		},
	}
	vs := []VolumeStatus{{VolumeID: va, MaxVolSize: 10 << 30}, {VolumeID: vb, MaxVolSize: 5 << 30}}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := evg.Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	restarts := make(chan string, 4)
	outcomes := make(chan *evgpb.Event, 4)
	wctx, wcancel := context.WithCancel(ctx)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		WatchEvents(wctx, sock, func(app string) { restarts <- app }, func(ev *evgpb.Event) { outcomes <- ev })
	}()
	defer func() { wcancel(); <-watching }()

	qemu := 0
	startQEMU := func() error { qemu++; return nil }
	if err := DomainStart(c, ds, 4, vs, startQEMU); err != nil {
		t.Fatalf("first start: %v", err)
	}
	vm, err := c.VMShow(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if vm.State != evg.StateRunning || vm.Cid != 4 || vm.Qmp != "/run/hypervisor/kvm/"+app+".1.1/qmp" ||
		vm.SnapshotBudget != 3<<30 || len(vm.Volumes) != 2 || qemu != 1 {
		t.Fatalf("after the first start: %v", vm)
	}
	if v := vm.Volumes[0]; v.Uuid != va || v.Locator != imgA || v.Disks[0].Value != "04.0/00.0" {
		t.Errorf("volume a: %v", v)
	}
	if v := vm.Volumes[1]; v.Uuid != vb || v.Disks[0].Value != "06.0/00.0" {
		t.Errorf("volume b (after a cdrom, a rootfs and a read-only disk): %v", v)
	}
	if err := DomainStopped(c, ds); err != nil {
		t.Fatal(err)
	}
	snaps, err := c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: app, Name: "before-upgrade", IdempotencyKey: "eve-snapshot-7"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}

	ds.DomainName = app + ".2.1"
	if err := DomainStart(c, ds, 5, vs, startQEMU); err != nil {
		t.Fatalf("second start: %v", err)
	}
	if vm, _ = c.VMShow(ctx, app); vm.Cid != 5 || !strings.Contains(vm.Qmp, ".2.1/") || qemu != 2 {
		t.Fatalf("after the second start: %v", vm)
	}
	if _, err := c.SnapshotRollback(ctx, app, snaps[0].GroupUuid); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	select {
	case got := <-restarts:
		if got != app {
			t.Errorf("restart-required for %s", got)
		}
	case <-ctx.Done():
		t.Fatal("no restart-required")
	}
	if err := DomainStopped(c, ds); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		select {
		case ev := <-outcomes:
			if ev.Kind != "rollback-done" {
				t.Errorf("outcome: %v", ev)
			}
		case <-ctx.Done():
			t.Fatal("no rollback-done")
		}
	}
	if err := DomainDeleted(c, app); err != nil {
		t.Fatal(err)
	}
	if err := DomainDeleted(c, app); err != nil {
		t.Fatalf("a second delete: %v", err)
	}
}
