package evg

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/lf-edge/eve-guest-agent/go/evgpb"
)

// Proves the registry calls against the real daemon: add, show, list,
// update (only the fields named), the run states in pillar's order,
// remove, and the refusals of each (bad field, duplicate, unknown VM).
func TestRegistry(t *testing.T) {
	h := startHostd(t)
	c := h.dial()
	if !strings.HasPrefix(c.HostSoftware(), "eve-guest-hostd") || c.Version() != 1 {
		t.Fatalf("hello: host %q, version %d", c.HostSoftware(), c.Version())
	}
	ctx := ctxFor(t, 30*time.Second)
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}

	vm := h.qcow2VM(vmOne, "web-01", StateStopped, h.path("a.qcow2"))
	got := mustAdd(t, c, vm)
	if got.Uuid != vmOne || got.State != StateStopped || len(got.Volumes) != 1 ||
		got.Volumes[0].Locator != h.path("a.qcow2") || got.HybridSocket != vm.HybridSocket {
		t.Fatalf("vm add answered %v", got)
	}

	_, err := c.VMAdd(ctx, vm)
	wantCode(t, err, ErrAlreadyExists)
	bad := proto.Clone(vm).(*evgpb.VmInfo)
	bad.Uuid = vmTwo
	bad.HybridSocket = h.path("two.sock")
	bad.Volumes[0].Uuid = volB
	bad.Volumes[0].Backend = "lvm"
	_, err = c.VMAdd(ctx, bad)
	if msg := wantCode(t, err, ErrInvalidArgument); !strings.Contains(msg, "volume[0].backend") {
		t.Errorf("the bad field is not named: %q", msg)
	}

	// Only the fields named change; the state is no such field.
	up := &evgpb.VmInfo{Uuid: vmOne, Name: "web-01b", Cid: 42, Qmp: "/run/none/qmp"}
	got, err = c.VMUpdate(ctx, up, FieldName, FieldCID)
	if err != nil {
		t.Fatalf("vm update: %v", err)
	}
	if got.Name != "web-01b" || got.Cid != 42 || got.Qmp != "" || len(got.Volumes) != 1 {
		t.Fatalf("vm update answered %v", got)
	}
	_, err = c.VMUpdate(ctx, up, "state")
	wantCode(t, err, ErrInvalidArgument)
	_, err = c.VMUpdate(ctx, &evgpb.VmInfo{Uuid: noVM, Name: "x"}, FieldName)
	wantCode(t, err, ErrNotFound)

	// pillar's order: stopped -> vm update -> starting -> QEMU -> running.
	for _, st := range []string{StateStarting, StateRunning, StateStopped} {
		got, err = c.VMState(ctx, vmOne, st)
		if err != nil || got.State != st {
			t.Fatalf("vm state %s: %v %v", st, got, err)
		}
	}
	_, err = c.VMState(ctx, vmOne, "paused")
	wantCode(t, err, ErrInvalidArgument)

	list, err := c.VMList(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "web-01b" {
		t.Fatalf("vm list: %v %v", list, err)
	}
	if err := c.VMRemove(ctx, vmOne); err != nil {
		t.Fatalf("vm remove: %v", err)
	}
	_, err = c.VMShow(ctx, vmOne)
	wantCode(t, err, ErrNotFound)
	wantCode(t, c.VMRemove(ctx, vmOne), ErrNotFound)
	_, err = c.VMShow(ctx, "web-01")
	wantCode(t, err, ErrInvalidArgument)
	h.alive()
}

// Proves the snapshot workflow end to end with the guest agent connected
// over the VM's hybrid socket: guest info relayed, a group over two qcow2
// volumes of the stopped VM (group fields, idempotent retry), its events
// followed while it runs, list and fold, delete of a member, the budget
// (NO_SPACE), a rollback at once while stopped, and a rollback scheduled
// while running, carried out at the stop, then the start barrier.
func TestSnapshotWorkflow(t *testing.T) {
	h := startHostd(t, "space_reserve_mib = 0")
	c := h.dial()
	ctx := ctxFor(t, 60*time.Second)
	stream := Follow(ctx, h.sock, WithBackoff(50*time.Millisecond, 500*time.Millisecond))
	defer stream.Close()
	<-stream.Ready()

	vm := h.qcow2VM(vmOne, "db-01", StateStopped, h.path("a.qcow2"), h.path("b.qcow2"))
	mustAdd(t, c, vm)
	h.agent(c, vmOne, vm.HybridSocket, h.path("no-hooks"))
	expectEvents(t, stream, vmOne, "guest-connected")

	info, err := c.GuestInfo(ctx, vmOne)
	if err != nil {
		t.Fatalf("guest info: %v", err)
	}
	if info.AgentVersion == "" || info.Kernel == "" {
		t.Fatalf("guest info: %v", info)
	}
	validUTF8(t, "guest info", info)

	req := &evgpb.SnapshotCreateRequest{VmUuid: vmOne, Name: "nightly", Consistency: ConsistencyCrash, IdempotencyKey: "eve-snap-1"}
	snaps, err := c.SnapshotCreate(ctx, req)
	if err != nil {
		t.Fatalf("snapshot create: %v", err)
	}
	if len(snaps) != 2 || snaps[0].GroupUuid == "" || snaps[0].GroupUuid != snaps[1].GroupUuid ||
		snaps[0].GroupSize != 2 || snaps[0].Name != "nightly" || snaps[0].Consistency != ConsistencyCrash ||
		snaps[0].Origin != "controller" || snaps[0].State != SnapshotReady {
		t.Fatalf("snapshot create answered %v", snaps)
	}
	group := snaps[0].GroupUuid
	evs := expectEvents(t, stream, vmOne, "started", "backend-done", "backend-done", "committed")
	if last := evs[len(evs)-1]; last.Operation != "create" || last.SnapshotName != "nightly" {
		t.Errorf("committed event: %v", last)
	}
	again, err := c.SnapshotCreate(ctx, req)
	if err != nil || len(again) != 2 || again[0].Uuid != snaps[0].Uuid {
		t.Fatalf("a retry with the same key made another group: %v %v", again, err)
	}

	list, err := c.SnapshotList(ctx, vmOne)
	if err != nil || len(list) != 2 {
		t.Fatalf("snapshot list: %v %v", list, err)
	}
	gs := Groups(list)
	if len(gs) != 1 || gs[0].UUID != group || gs[0].Size != 2 || gs[0].Partial || len(gs[0].Members) != 2 {
		t.Fatalf("groups: %+v", gs)
	}

	// A member of a group of several goes only when asked for alone.
	second, err := c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmOne, Name: "second"})
	if err != nil || len(second) != 2 {
		t.Fatalf("second create: %v %v", second, err)
	}
	_, err = c.SnapshotDelete(ctx, vmOne, second[0].Uuid, false)
	wantCode(t, err, ErrFailedPrecondition)
	del, err := c.SnapshotDelete(ctx, vmOne, second[0].Uuid, true)
	if err != nil || len(del) != 1 || del[0].Uuid != second[0].Uuid {
		t.Fatalf("delete --member: %v %v", del, err)
	}
	list, _ = c.SnapshotList(ctx, vmOne)
	for _, g := range Groups(list) {
		if g.Name == "second" && (!g.Partial || len(g.Members) != 1) {
			t.Errorf("group 'second' should be partial: %+v", g)
		}
	}
	if _, err := c.SnapshotDelete(ctx, vmOne, "second", false); err != nil {
		t.Fatalf("delete by name: %v", err)
	}

	// The budget rule.
	if _, err := c.VMUpdate(ctx, &evgpb.VmInfo{Uuid: vmOne, SnapshotBudget: 1}, FieldSnapshotBudget); err != nil {
		t.Fatalf("vm update budget: %v", err)
	}
	_, err = notBusy(t, func() ([]*evgpb.Snapshot, error) {
		return c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmOne, Name: "too-big"})
	})
	if msg := wantCode(t, err, ErrNoSpace); !strings.Contains(msg, "budget rule") {
		t.Errorf("NO_SPACE names no rule: %q", msg)
	}
	if _, err := c.VMUpdate(ctx, &evgpb.VmInfo{Uuid: vmOne}, FieldSnapshotBudget); err != nil {
		t.Fatalf("vm update no budget: %v", err)
	}

	// Stopped: the rollback runs at once.
	rb, err := notBusy(t, func() ([]*evgpb.Snapshot, error) { return c.SnapshotRollback(ctx, vmOne, "nightly") })
	if err != nil || len(rb) != 2 {
		t.Fatalf("rollback while stopped: %v %v", rb, err)
	}
	expectEvents(t, stream, vmOne, "rollback-done", "rollback-done")

	// Running: scheduled for the stop; one member only, named.
	if _, err := c.VMState(ctx, vmOne, StateStarting); err != nil {
		t.Fatalf("starting: %v", err)
	}
	if _, err := c.VMState(ctx, vmOne, StateRunning); err != nil {
		t.Fatalf("running: %v", err)
	}
	rb, err = c.SnapshotRollback(ctx, vmOne, group, volB)
	if err != nil || len(rb) != 1 || rb[0].VolumeUuid != volB || rb[0].State != StateRollbackScheduled {
		t.Fatalf("rollback while running: %v %v", rb, err)
	}
	expectEvents(t, stream, vmOne, "restart-required")
	// A running qcow2 VM without QMP cannot be snapshotted online.
	_, err = c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmOne})
	if msg := wantCode(t, err, ErrFailedPrecondition); !strings.Contains(msg, "QMP") {
		t.Errorf("message: %q", msg)
	}
	if _, err := c.VMState(ctx, vmOne, StateStopped); err != nil {
		t.Fatalf("stopped: %v", err)
	}
	expectEvents(t, stream, vmOne, "rollback-started", "rollback-done")
	if _, err := c.VMState(ctx, vmOne, StateStarting); err != nil {
		t.Fatalf("starting after the rollback: %v", err)
	}
	if _, err := c.VMState(ctx, vmOne, StateRunning); err != nil {
		t.Fatalf("running after the rollback: %v", err)
	}
	if stream.Err() != nil {
		t.Errorf("the stream reconnected: %v", stream.Err())
	}
	h.alive()
}

// Proves the event stream survives a daemon restart: it reconnects by
// itself, says that events may have been missed (the host's seq starts
// again), and then delivers the new daemon's events.
func TestEventsReconnect(t *testing.T) {
	h := startHostd(t, "space_reserve_mib = 0")
	c := h.dial()
	mustAdd(t, c, h.qcow2VM(vmOne, "app", StateStopped, h.path("a.qcow2")))
	ctx := ctxFor(t, 60*time.Second)
	stream := Follow(ctx, h.sock, WithBackoff(20*time.Millisecond, 200*time.Millisecond))
	defer stream.Close()
	<-stream.Ready()
	if _, err := c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmOne, Name: "one"}); err != nil {
		t.Fatalf("create: %v", err)
	}
	expectEvents(t, stream, vmOne, "started", "committed")

	h.stop()
	<-c.Done()
	if !errors.Is(c.Err(), ErrUnavailable) {
		t.Errorf("a lost connection reads %v", c.Err())
	}
	_, err := c.VMList(ctx)
	wantCode(t, err, ErrUnavailable)
	waitFor(t, 5*time.Second, "the stream to notice", func() bool { return stream.Err() != nil })
	h.start()
	c2 := h.dial()
	if _, err := c2.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmOne, Name: "two"}); err != nil {
		t.Fatalf("create after the restart: %v", err)
	}
	ev, err := stream.Next(ctx)
	if !errors.Is(err, ErrEventsLost) {
		t.Fatalf("after a restart Next gave %v %v, want ErrEventsLost", ev, err)
	}
	evs := expectEvents(t, stream, vmOne, "started", "committed")
	if evs[len(evs)-1].SnapshotName != "two" {
		t.Errorf("events after the restart: %v", evs)
	}

	stream.Close()
	if _, err := stream.Next(ctx); !errors.Is(err, ErrClosed) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("Next after Close: %v", err)
	}
	if _, err := os.Stat(h.sock); err != nil {
		t.Error(err)
	}
}

// Proves the VM list is paged to the control frame cap (here 2048 bytes):
// one page holds only part of 40 VMs and names the next; VMList walks
// every page, in registration order; a limit bounds a page; an after that
// is not registered is NOT_FOUND.
func TestVMListPaged(t *testing.T) {
	h := startHostd(t, "max_frame_control = 2048")
	c := h.dial()
	ctx := ctxFor(t, 60*time.Second)
	const n = 40
	var uuids []string
	for i := 0; i < n; i++ {
		u := fmt.Sprintf("%08x-0000-4000-8000-00000000abcd", i+1)
		uuids = append(uuids, u)
		mustAdd(t, c, h.qcow2VM(u, fmt.Sprintf("page-vm-%02d", i), StateStopped))
	}
	first, err := c.VMListPage(ctx, "", 0)
	if err != nil {
		t.Fatalf("first page: %v", err)
	}
	if len(first.Vms) == 0 || len(first.Vms) >= n || first.Next != first.Vms[len(first.Vms)-1].Uuid {
		t.Fatalf("first page: %d VMs, next %q", len(first.Vms), first.Next)
	}
	t.Logf("first page at 2048 bytes: %d of %d VMs", len(first.Vms), n)
	all, err := c.VMList(ctx)
	if err != nil || len(all) != n {
		t.Fatalf("vm list: %d VMs, %v", len(all), err)
	}
	for i, vm := range all {
		if vm.Uuid != uuids[i] {
			t.Fatalf("vm list[%d] is %s, want %s", i, vm.Uuid, uuids[i])
		}
	}
	page, err := c.VMListPage(ctx, uuids[4], 3)
	if err != nil || len(page.Vms) != 3 || page.Vms[0].Uuid != uuids[5] || page.Next != uuids[7] {
		t.Fatalf("a page of 3 after the fifth: %v %v", page, err)
	}
	last, err := c.VMListPage(ctx, uuids[n-2], 0)
	if err != nil || len(last.Vms) != 1 || last.Next != "" {
		t.Fatalf("the last page: %v %v", last, err)
	}
	_, err = c.VMListPage(ctx, noVM, 0)
	wantCode(t, err, ErrNotFound)
	h.alive()
}

// Proves the snapshot list is paged to the control frame cap (here 2048
// bytes): SnapshotList walks every page in creation order; a limit bounds
// a page; an after no longer listed is NOT_FOUND; and a client from
// before paging (no paged flag) gets the whole list when it fits, else
// INTERNAL naming the count, never a silently cut list.
func TestSnapshotListPaged(t *testing.T) {
	h := startHostd(t, "max_frame_control = 2048")
	c := h.dial()
	ctx := ctxFor(t, 60*time.Second)
	mustAdd(t, c, h.qcow2VM(vmOne, "paged", StateStopped, h.path("a.qcow2")))
	const n = 24
	var uuids []string
	for i := 0; i < n; i++ {
		snaps, err := c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmOne, Name: fmt.Sprintf("s%02d", i)})
		if err != nil || len(snaps) != 1 {
			t.Fatalf("create %d: %v", i, err)
		}
		uuids = append(uuids, snaps[0].Uuid)
	}
	first, err := c.SnapshotListPage(ctx, vmOne, "", 0)
	if err != nil || len(first.Snapshots) == 0 || len(first.Snapshots) >= n ||
		first.Next != first.Snapshots[len(first.Snapshots)-1].Uuid {
		t.Fatalf("first page: %v %v", first, err)
	}
	t.Logf("first page at 2048 bytes: %d of %d snapshots", len(first.Snapshots), n)
	all, err := c.SnapshotList(ctx, vmOne)
	if err != nil || len(all) != n {
		t.Fatalf("snapshot list: %d snapshots, %v", len(all), err)
	}
	for i, s := range all {
		if s.Uuid != uuids[i] {
			t.Fatalf("snapshot list[%d] is %s, want %s", i, s.Uuid, uuids[i])
		}
	}
	page, err := c.SnapshotListPage(ctx, vmOne, uuids[4], 3)
	if err != nil || len(page.Snapshots) != 3 || page.Snapshots[0].Uuid != uuids[5] || page.Next != uuids[7] {
		t.Fatalf("a page of 3 after the fifth: %v %v", page, err)
	}
	last, err := c.SnapshotListPage(ctx, vmOne, uuids[n-1], 0)
	if err != nil || len(last.Snapshots) != 0 || last.Next != "" {
		t.Fatalf("after the last: %v %v", last, err)
	}
	_, err = c.SnapshotListPage(ctx, vmOne, "00000000-0000-4000-8000-00000000dead", 0)
	wantCode(t, err, ErrNotFound)

	old := &evgpb.Envelope{Body: &evgpb.Envelope_SnapshotList{SnapshotList: &evgpb.SnapshotListRequest{VmUuid: vmOne}}}
	_, err = c.call(ctx, old)
	msg := wantCode(t, err, ErrInternal)
	if !strings.Contains(msg, fmt.Sprintf("%d snapshots do not fit", n)) {
		t.Fatalf("unpaged list of %d: %q", n, msg)
	}
	if _, err := c.SnapshotDelete(ctx, vmOne, uuids[0], false); err != nil {
		t.Fatalf("delete: %v", err)
	}
	h.alive()
}
