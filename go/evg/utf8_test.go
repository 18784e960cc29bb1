package evg

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lf-edge/eve-guest-agent/go/evgpb"
)

// hookOutput is what the test hook prints: broken UTF-8 (a stray
// continuation byte, 0xff, a cut 2-, 3- and 4-byte sequence, an overlong
// form, a surrogate), ESC sequences, and long runs of 4-byte characters
// where the cuts fall: the guest keeps the last 4 KiB, the host the last
// 512 bytes.  The k bytes at the end move every cut (all counted from the
// end) by one byte per k, so over k = 0..3 a character straddles each cut
// at each of its inner offsets.
func hookOutput(k int) []byte {
	var b strings.Builder
	b.WriteString("start \x1b]0;title\x07 \x1b[2J\x80\xff\xfe\xc3 \xe2\x82 \xf0\x9f\x98 \xc0\xaf \xed\xa0\x80\n")
	b.WriteString(strings.Repeat("\U0001F600", 1200)) // 4800 bytes: the 4 KiB cut
	b.WriteString("\n\x1b[31mred\x1b[0m \xff\xe2\x82\n")
	b.WriteString(strings.Repeat("\U0001F600", 100)) // 400 bytes: the 512-byte cut
	b.WriteString("\x1b[1m\xff\xc3(\xf0\x9f\x98 ")
	b.WriteString(strings.Repeat("é", 30) + strings.Repeat("€", 20))
	b.WriteString(strings.Repeat("x", k) + "\n")
	return []byte(b.String())
}

// hookName is the failing hook's file name: ESC, a byte that is not UTF-8
// and 4-byte characters up to where the host cuts a hook's path (256
// bytes), moved by k as above.
func hookName(k int) string {
	return "50-" + strings.Repeat("x", k) + "\x1b[7m\xff" + strings.Repeat("\U0001F600", 55)
}

// Proves what issue 16 asks: a guest hook printing invalid UTF-8, ESC
// sequences and multi-byte characters straddling every cut reaches the Go
// client decodable (Go's proto decoder refuses a whole message with one
// malformed string), in the create's reply, in the rollback's (the pre
// hook of a running VM's rollback), in the followed events and in the
// backlog, with the real guest agent daemon running the hook.
func TestHookOutputDecodable(t *testing.T) {
	needRoot(t)
	h := startHostd(t, "zfs = "+mockZFS(t), "space_reserve_mib = 0")
	c := h.dial()
	ctx := ctxFor(t, 90*time.Second)
	stream := Follow(ctx, h.sock)
	defer stream.Close()
	<-stream.Ready()

	vm := h.zfsVM(vmOne, "hooked", StateRunning, "persist/hooked", "GOHOOK")
	mustAdd(t, c, vm)
	if _, err := c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmOne, Name: "base", Consistency: ConsistencyCrash}); err != nil {
		t.Fatalf("crash create: %v", err)
	}
	hooks := h.path("hooks")
	pred := filepath.Join(hooks, "pre.d")
	if err := os.MkdirAll(pred, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{hooks, pred} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h.agent(c, vmOne, vm.HybridSocket, hooks)

	for k := 0; k < 4; k++ {
		out := h.path(fmt.Sprintf("output-%d", k))
		if err := os.WriteFile(out, hookOutput(k), 0o644); err != nil {
			t.Fatal(err)
		}
		old, _ := filepath.Glob(filepath.Join(pred, "*"))
		for _, f := range old {
			os.Remove(f)
		}
		hook := filepath.Join(pred, hookName(k))
		if err := os.WriteFile(hook, []byte("#!/bin/sh\ncat '"+out+"'\nexit 3\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(hook, 0o755); err != nil {
			t.Fatal(err)
		}

		_, err := c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmOne, Name: fmt.Sprintf("app-%d", k), Consistency: ConsistencyApp})
		msg := wantCode(t, err, ErrHookFailed)
		t.Logf("k=%d: %d bytes: %q", k, len(msg), msg)
		for _, want := range []string{"pre hook failed", "exited 3", "\U0001F600", "é€", "\uFFFD"} {
			if !strings.Contains(msg, want) {
				t.Errorf("k=%d: the create's message lacks %q: %q", k, want, msg)
			}
		}
		evs := expectEvents(t, stream, vmOne, "pre-started", "pre-finished", "failed")
		for _, ev := range evs {
			if ev.Kind == "pre-finished" && (ev.Code != 3 || !strings.Contains(ev.Message, "\U0001F600")) {
				t.Errorf("k=%d: pre-finished event: code %d, %q", k, ev.Code, ev.Message)
			}
		}

		_, err = c.SnapshotRollback(ctx, vmOne, "base")
		msg = wantCode(t, err, ErrHookFailed)
		if !strings.Contains(msg, "\U0001F600") {
			t.Errorf("k=%d: the rollback's message lacks the output: %q", k, msg)
		}
		expectEvents(t, stream, vmOne, "pre-started", "pre-finished")
	}

	backlog, _, err := c.Events(ctx)
	if err != nil {
		t.Fatalf("events: %v", err)
	}
	failed := 0
	for _, ev := range backlog {
		validUTF8(t, "backlog event", ev)
		if ev.Kind == "failed" && ev.VmUuid == vmOne {
			failed++
		}
	}
	if failed != 4 {
		t.Errorf("%d failed events in the backlog, want 4", failed)
	}
	list, err := c.SnapshotList(ctx, vmOne)
	if err != nil || len(list) != 1 {
		t.Errorf("a failed pre hook left snapshots: %v %v", list, err)
	}
	h.alive()
}

// Proves a hostile guest daemon (evg-wire hostile: ESC sequences, forged
// lines, cut UTF-8, unknown fields, 60 KB refusals) cannot make the host
// send pillar anything undecodable: its guest info is relayed decodable,
// its freeze refusal is FREEZE_FAILED and its hook failure HOOK_FAILED
// with valid, capped messages, and the events stay decodable.
func TestHostileGuestDecodable(t *testing.T) {
	h := startHostd(t, "zfs = "+mockZFS(t), "space_reserve_mib = 0", "guest_timeout = 2")
	c := h.dial()
	ctx := ctxFor(t, 60*time.Second)
	stream := Follow(ctx, h.sock, WithBacklog())
	defer stream.Close()

	vm := h.zfsVM(vmOne, "hostile", StateRunning, "persist/vol1", "HOSTILE")
	mustAdd(t, c, vm)
	h.startProc("wire.log", []string{"EVG_ROLE=daemon"}, filepath.Join(h.build, "evg-wire"), vm.HybridSocket+"_2210", "hostile", "60")
	h.waitAgent(c, vmOne, true)

	info, err := c.GuestInfo(ctx, vmOne)
	if err != nil {
		t.Fatalf("guest info: %v", err)
	}
	validUTF8(t, "guest info", info)
	if !strings.Contains(info.Hostname, "\x1b[31mred") {
		t.Errorf("hostname: %q", info.Hostname)
	}

	_, err = c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmOne, Consistency: ConsistencyFS})
	msg := wantCode(t, err, ErrFreezeFailed)
	t.Logf("FREEZE_FAILED message: %d bytes, %d U+FFFD", len(msg), strings.Count(msg, "\uFFFD"))
	if len(msg) > 4096 {
		t.Errorf("a workflow message of %d bytes is over the 4096-byte cap (WORKFLOW_MESSAGE_MAX)", len(msg))
	}
	_, err = c.SnapshotCreate(ctx, &evgpb.SnapshotCreateRequest{VmUuid: vmOne, Consistency: ConsistencyApp})
	wantCode(t, err, ErrHookFailed)

	evs := expectEvents(t, stream, vmOne, "guest-connected", "failed", "failed")
	for _, ev := range evs {
		if len(ev.Message) > 1024+16 {
			t.Errorf("an event message of %d bytes is not capped", len(ev.Message))
		}
		if !utf8.ValidString(ev.Message) {
			t.Errorf("event message %q", ev.Message)
		}
	}
	h.alive()
}
