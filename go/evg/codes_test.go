package evg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lf-edge/eve-guest-agent/go/evgpb"
)

// Proves that every status code the control channel can answer reaches
// the Go client as an *Error that errors.Is matches to its sentinel and
// to no other, each from the real daemon in the situation docs/protocol.md
// names for it.  HOOK_FAILED and FREEZE_FAILED need a guest: they are in
// TestHookOutputDecodable and TestHostileGuestDecodable.
func TestEveryErrorCode(t *testing.T) {
	// max_queued_per_vm = 1: a second create waits, a third is BUSY.
	h := startHostd(t, "zfs = "+mockZFS(t), "space_reserve_mib = 0", "qmp_timeout = 2", "max_queued_per_vm = 1")
	c := h.dial()
	ctx := ctxFor(t, 60*time.Second)
	stream := Follow(ctx, h.sock)
	defer stream.Close()
	<-stream.Ready()

	zvm := h.zfsVM(vmOne, "zfs-vm", StateStopped, "persist/vol1", "ZFS1")
	mustAdd(t, c, zvm)
	qvm := h.qcow2VM(vmTwo, "qmp-vm", StateRunning, h.path("q.qcow2"))
	qvm.Qmp = h.path("qmp.sock")
	qvm.Volumes[0].Uuid = volB
	silentQMP(t, qvm.Qmp)
	mustAdd(t, c, qvm)
	seen := map[Code]bool{}
	check := func(err error, sentinel *Error, contains string) {
		t.Helper()
		msg := wantCode(t, err, sentinel)
		if contains != "" && !strings.Contains(msg, contains) {
			t.Errorf("%s: message %q does not say %q", sentinel.Code, msg, contains)
		}
		if CodeOf(err) != sentinel.Code {
			t.Errorf("CodeOf(%v) = %s", err, CodeOf(err))
		}
		seen[sentinel.Code] = true
	}

	_, err := c.VMShow(ctx, "not-a-uuid")
	check(err, ErrInvalidArgument, "uuid")
	_, err = c.SnapshotList(ctx, noVM)
	check(err, ErrNotFound, "")
	_, err = c.VMAdd(ctx, zvm)
	check(err, ErrAlreadyExists, "")

	if _, err := c.VMUpdate(ctx, &evgpb.VmInfo{Uuid: vmOne, SnapshotBudget: 1000}, FieldSnapshotBudget); err != nil {
		t.Fatal(err)
	}
	_, err = notBusy(t, func() ([]*evgpb.Snapshot, error) {
		return c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmOne})
	})
	check(err, ErrNoSpace, "budget")
	if _, err := c.VMUpdate(ctx, &evgpb.VmInfo{Uuid: vmOne}, FieldSnapshotBudget); err != nil {
		t.Fatal(err)
	}

	// A create whose QMP monitor never greets: TIMEOUT after qmp_timeout;
	// a second create on the VM meanwhile waits its turn (and then meets
	// the same monitor), a third finds the queue full: BUSY.
	first := make(chan error, 1)
	second := make(chan error, 1)
	go func() {
		_, err := c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmTwo, Name: "held"})
		first <- err
	}()
	expectEvents(t, stream, vmTwo, "started")
	go func() {
		_, err := c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmTwo, Name: "second"})
		second <- err
	}()
	expectEvents(t, stream, vmTwo, "queued")
	_, err = c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmTwo, Name: "third"})
	check(err, ErrBusy, "max_queued_per_vm")
	check(<-first, ErrTimeout, "no greeting")
	check(<-second, ErrTimeout, "no greeting")

	// fs with no guest daemon; a second hello.
	if _, err := c.VMState(ctx, vmOne, StateRunning); err != nil {
		t.Fatal(err)
	}
	_, err = c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmOne, Consistency: ConsistencyFS})
	check(err, ErrFailedPrecondition, "guest agent")
	hello := &evgpb.Hello{MinVersion: 1, MaxVersion: 1, Role: evgpb.Role_ROLE_CONTROL}
	_, err = c.Call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_Hello{Hello: hello}})
	check(err, ErrFailedPrecondition, "hello was already done")
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("the connection should stay open after a second hello: %v", err)
	}

	_, err = c.GuestInfo(ctx, vmOne)
	check(err, ErrUnavailable, "not connected")
	if _, err := c.VMState(ctx, vmOne, StateStopped); err != nil {
		t.Fatal(err)
	}

	h.zfsFile("fail-next", "cannot open 'persist/vol1': dataset is busy\n")
	_, err = notBusy(t, func() ([]*evgpb.Snapshot, error) {
		return c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmOne})
	})
	check(err, ErrBackendError, "dataset is busy")

	_, err = c.Call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_GuestStatus{GuestStatus: &evgpb.GuestStatusRequest{}}})
	check(err, ErrUnsupported, "control channel")

	// The hybrid listener cannot be opened: its directory does not exist.
	bad := h.qcow2VM(vmThree, "nodir", StateStopped)
	bad.HybridSocket = h.path("missing/nodir.sock")
	_, err = c.VMAdd(ctx, bad)
	check(err, ErrInternal, "")

	// A uid not in control_uids is refused at accept.
	h2 := startHostd(t, fmt.Sprintf("control_uids = %d", os.Geteuid()+4242))
	_, err = Dial(ctx, h2.sock)
	check(err, ErrPermissionDenied, "may not use the control socket")

	for code := InvalidArgument; code <= Internal; code++ {
		if !seen[code] && code != HookFailed && code != FreezeFailed {
			t.Errorf("%s was not reached", code)
		}
	}
	h.alive()
}

// Proves the client's own failures carry codes too: an unreachable socket
// is UNAVAILABLE, a context that runs out is TIMEOUT (and still
// context.DeadlineExceeded), a request over the frame cap is refused before
// it is sent.
func TestLocalErrors(t *testing.T) {
	dir := shortTempDir(t)
	_, err := Dial(ctxFor(t, time.Second), filepath.Join(dir, "none.sock"))
	msg := wantCode(t, err, ErrUnavailable)
	if !strings.Contains(msg, "cannot reach the host") {
		t.Errorf("message: %q", msg)
	}
	var e *Error
	if !errors.As(err, &e) || !e.Local {
		t.Errorf("not marked local: %#v", err)
	}

	h := startHostd(t)
	c, err := Dial(ctxFor(t, 5*time.Second), h.sock, WithMaxFrame(1024))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.VMAdd(ctxFor(t, 5*time.Second), &evgpb.VmInfo{Uuid: vmOne, Name: strings.Repeat("n", 2000)})
	wantCode(t, err, ErrInvalidArgument)

	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	_, err = c.VMList(ctx)
	wantCode(t, err, ErrTimeout)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v is not context.DeadlineExceeded", err)
	}
	if err := c.Ping(ctxFor(t, 5*time.Second)); err != nil {
		t.Errorf("the client is unusable after a timeout: %v", err)
	}
}
