package evg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/lf-edge/eve-guest-agent/go/evgpb"
)

// Proves the codes, names and descriptions are common/status.c's, so
// that the Go client and the C CLIs name every code alike.
func TestCodesMatchStatusC(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(srcDir(t), "common", "status.c"))
	if err != nil {
		t.Skipf("common/status.c: %v", err)
	}
	hdr, err := os.ReadFile(filepath.Join(srcDir(t), "common", "status.h"))
	if err != nil {
		t.Fatal(err)
	}
	nums := map[string]int{}
	for _, m := range regexp.MustCompile(`EVG_([A-Z_]+) = (\d+),`).FindAllSubmatch(hdr, -1) {
		n, _ := strconv.Atoi(string(m[2]))
		nums[string(m[1])] = n
	}
	rows := regexp.MustCompile(`\[EVG_([A-Z_]+)\] = \{ "([A-Z_]+)", "([^"]+)",`).FindAllSubmatch(bytes.ReplaceAll(src, []byte("\n\t    "), []byte(" ")), -1)
	if len(rows) != int(codeMax)+1 || len(nums) != len(rows) {
		t.Fatalf("status.c has %d rows and status.h %d codes; this package knows %d", len(rows), len(nums), codeMax+1)
	}
	for _, r := range rows {
		c := Code(nums[string(r[1])])
		if c.String() != string(r[2]) || c.Description() != string(r[3]) {
			t.Errorf("code %d: Go %q %q, C %q %q", c, c, c.Description(), r[2], r[3])
		}
	}
	if Code(99).String() != "INTERNAL" || CodeOf(errors.New("x")) != Internal || CodeOf(nil) != OK {
		t.Error("unknown codes and foreign errors must read as INTERNAL")
	}
	err = statusError("vm_add", 99, "from the future")
	if !errors.Is(err, ErrInternal) {
		t.Errorf("code 99: %v", err)
	}
}

// frame is a raw frame holding payload.
func frame(payload []byte) []byte {
	out := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(out, uint32(len(payload)))
	return append(out, payload...)
}

// Proves the decoder's rules: a zero-length frame and one over the cap are
// protocol errors found from the header alone, a cut frame is an
// unexpected EOF, and a string that is not UTF-8 fails the whole message,
// as it would in pillar.
func TestReadEnvelope(t *testing.T) {
	env := &evgpb.Envelope{Id: 7, Version: 1, Body: &evgpb.Envelope_Ping{Ping: &evgpb.Ping{}}}
	good, err := frameEnvelope(env, 1024)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readEnvelope(bytes.NewReader(good), 1024)
	if err != nil || !proto.Equal(got, env) {
		t.Fatalf("round trip: %v %v", got, err)
	}
	var pe *errProtocol
	if _, err := readEnvelope(bytes.NewReader([]byte{0, 0, 0, 0}), 1024); !errors.As(err, &pe) {
		t.Errorf("zero-length frame: %v", err)
	}
	if _, err := readEnvelope(bytes.NewReader([]byte{0, 0, 4, 1}), 1024); !errors.As(err, &pe) {
		t.Errorf("oversize frame: %v", err)
	}
	if _, err := readEnvelope(bytes.NewReader(good[:len(good)-1]), 1024); err != io.ErrUnexpectedEOF {
		t.Errorf("cut frame: %v", err)
	}
	if _, err := readEnvelope(bytes.NewReader(nil), 1024); err != io.EOF {
		t.Errorf("clean end: %v", err)
	}
	// Envelope.reply(3) { status(1) { message(2): "\xff" } }
	status := protowire.AppendTag(nil, 2, protowire.BytesType)
	status = protowire.AppendBytes(status, []byte("bad \xff"))
	reply := protowire.AppendTag(nil, 1, protowire.BytesType)
	reply = protowire.AppendBytes(reply, status)
	payload := protowire.AppendTag(nil, 3, protowire.BytesType)
	payload = protowire.AppendBytes(payload, reply)
	if _, err := readEnvelope(bytes.NewReader(frame(payload)), 1024); !errors.As(err, &pe) {
		t.Errorf("invalid UTF-8 accepted: %v", err)
	}
	if _, err := frameEnvelope(&evgpb.Envelope{Body: &evgpb.Envelope_Hello{Hello: &evgpb.Hello{Software: string(make([]byte, 2000))}}}, 1024); err == nil {
		t.Error("a frame over the cap was encoded")
	}
}

// fakeHost listens on a Unix socket and runs serve on each connection
// with a decoder/encoder pair.
func fakeHost(t *testing.T, serve func(r io.Reader, w io.Writer)) string {
	t.Helper()
	path := filepath.Join(shortTempDir(t), "fake.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				serve(conn, conn)
			}()
		}
	}()
	return path
}

// send writes env as a frame.
func send(w io.Writer, env *evgpb.Envelope) {
	b, _ := frameEnvelope(env, FrameMaxControl)
	w.Write(b)
}

func okReply(id uint64, rep *evgpb.Reply) *evgpb.Envelope {
	if rep == nil {
		rep = &evgpb.Reply{}
	}
	rep.Status = &evgpb.Status{}
	return &evgpb.Envelope{Id: id, Version: 1, Body: &evgpb.Envelope_Reply{Reply: rep}}
}

// handshake answers the Hello.
func handshake(r io.Reader, w io.Writer) bool {
	env, err := readEnvelope(r, FrameMaxControl)
	if err != nil || env.GetHello() == nil {
		return false
	}
	send(w, okReply(env.Id, &evgpb.Reply{Result: &evgpb.Reply_HelloAck{HelloAck: &evgpb.HelloAck{Version: 1, Software: "fake"}}}))
	return true
}

// Proves the client's side of the conversation with a scripted host: a
// host ping is answered with the ping's id; a refusal (id 0) answers the
// call that waits; replies are matched by id, not by order; and a reply
// with a string that is not UTF-8 fails the connection as INTERNAL.
func TestClientConversation(t *testing.T) {
	pinged := make(chan uint64, 1)
	path := fakeHost(t, func(r io.Reader, w io.Writer) {
		if !handshake(r, w) {
			return
		}
		// Two requests; answered in reverse order, after a ping of ours.
		a, _ := readEnvelope(r, FrameMaxControl)
		b, _ := readEnvelope(r, FrameMaxControl)
		send(w, &evgpb.Envelope{Id: 77, Version: 1, Body: &evgpb.Envelope_Ping{Ping: &evgpb.Ping{}}})
		if rep, err := readEnvelope(r, FrameMaxControl); err == nil && rep.GetReply() != nil {
			pinged <- rep.Id
		}
		send(w, okReply(b.Id, &evgpb.Reply{Result: &evgpb.Reply_Vm{Vm: &evgpb.VmInfo{Uuid: b.GetVmShow().GetUuid()}}}))
		send(w, okReply(a.Id, &evgpb.Reply{Result: &evgpb.Reply_Vm{Vm: &evgpb.VmInfo{Uuid: a.GetVmShow().GetUuid()}}}))
		// Then a refusal for the next request, and the end.
		readEnvelope(r, FrameMaxControl)
		send(w, &evgpb.Envelope{Id: 0, Version: 1, Body: &evgpb.Envelope_Reply{Reply: &evgpb.Reply{
			Status: &evgpb.Status{Code: uint32(InvalidArgument), Message: "message carries protocol version 9"}}}})
	})
	ctx := ctxFor(t, 5*time.Second)
	c, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	type res struct {
		uuid string
		err  error
	}
	out := make(chan res, 2)
	for _, u := range []string{vmOne, vmTwo} {
		go func(u string) {
			vm, err := c.VMShow(ctx, u)
			out <- res{vm.GetUuid(), err}
		}(u)
		time.Sleep(50 * time.Millisecond) // a before b
	}
	for i := 0; i < 2; i++ {
		r := <-out
		if r.err != nil || (r.uuid != vmOne && r.uuid != vmTwo) {
			t.Fatalf("concurrent calls: %v", r)
		}
	}
	if id := <-pinged; id != 77 {
		t.Errorf("the host's ping was answered with id %d", id)
	}
	_, err = c.VMList(ctx)
	if msg := wantCode(t, err, ErrInvalidArgument); msg != "message carries protocol version 9" {
		t.Errorf("refusal: %q", msg)
	}
	<-c.Done()
	if _, err := c.VMList(ctx); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("after the refusal the connection reads %v", err)
	}

	// SnapshotRollbackOnline asks for online, with its one volume.
	asked := make(chan *evgpb.SnapshotRollbackRequest, 1)
	onl := fakeHost(t, func(r io.Reader, w io.Writer) {
		if !handshake(r, w) {
			return
		}
		env, _ := readEnvelope(r, FrameMaxControl)
		asked <- env.GetSnapshotRollback()
		send(w, &evgpb.Envelope{Id: env.Id, Version: 1, Body: &evgpb.Envelope_Reply{Reply: &evgpb.Reply{
			Status: &evgpb.Status{Code: uint32(FailedPrecondition), Message: "cannot roll back online: the guest agent says: busy"}}}})
		io.Copy(io.Discard, r)
	})
	c3, err := Dial(ctx, onl)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	_, err = c3.SnapshotRollbackOnline(ctx, vmOne, "base", "vol-1")
	if msg := wantCode(t, err, ErrFailedPrecondition); msg != "cannot roll back online: the guest agent says: busy" {
		t.Errorf("online refusal: %q", msg)
	}
	if rq := <-asked; !rq.GetOnline() || rq.GetVolumeUuid() != "vol-1" || len(rq.GetVolumeUuids()) != 1 {
		t.Errorf("online request: %v", rq)
	}

	bad := fakeHost(t, func(r io.Reader, w io.Writer) {
		if !handshake(r, w) {
			return
		}
		env, _ := readEnvelope(r, FrameMaxControl)
		status := protowire.AppendTag(nil, 2, protowire.BytesType)
		status = protowire.AppendBytes(status, []byte("cut \xf0\x9f"))
		reply := protowire.AppendTag(nil, 1, protowire.BytesType)
		reply = protowire.AppendBytes(reply, status)
		payload := protowire.AppendTag(nil, 1, protowire.VarintType)
		payload = protowire.AppendVarint(payload, env.Id)
		payload = protowire.AppendTag(payload, 2, protowire.VarintType)
		payload = protowire.AppendVarint(payload, 1)
		payload = protowire.AppendTag(payload, 3, protowire.BytesType)
		payload = protowire.AppendBytes(payload, reply)
		w.Write(frame(payload))
		io.Copy(io.Discard, r)
	})
	c2, err := Dial(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_, err = c2.VMList(ctx)
	if msg := wantCode(t, err, ErrInternal); !bytes.Contains([]byte(msg), []byte("UTF-8")) {
		t.Errorf("undecodable reply: %q", msg)
	}
}

// Proves how a reconnected stream picks up: after the last event seen
// when the new backlog holds it, everything (and "lost") when it does not
// (a restarted host whose seq started again, or a gap).
func TestResume(t *testing.T) {
	ev := func(seq uint64, kind string) *evgpb.Event {
		return &evgpb.Event{Seq: seq, Kind: kind, Time: 1000 + seq, VmUuid: vmOne}
	}
	backlog := []*evgpb.Event{ev(4, "started"), ev(5, "frozen"), ev(6, "thawed"), ev(7, "committed")}
	got, lost := resume(ev(5, "frozen"), backlog)
	if lost || len(got) != 2 || got[0].Seq != 6 {
		t.Errorf("continued: %v %v", got, lost)
	}
	got, lost = resume(ev(7, "committed"), backlog)
	if lost || len(got) != 0 {
		t.Errorf("nothing new: %v %v", got, lost)
	}
	got, lost = resume(ev(5, "backend-done"), backlog)
	if !lost || len(got) != 4 {
		t.Errorf("a restarted host with the same seq: %v %v", got, lost)
	}
	got, lost = resume(ev(2, "started"), backlog)
	if !lost || len(got) != 4 {
		t.Errorf("a gap: %v %v", got, lost)
	}
	if _, lost = resume(nil, nil); !lost {
		t.Error("nothing seen: continuity cannot be shown")
	}
}

// Proves Groups folds members into groups as common/snapgroup.c does:
// by group UUID, a pre-group snapshot as a group of one under its own
// UUID, a group of one shown by its member's UUID, partial groups marked,
// sorted by creation time then name.
func TestGroups(t *testing.T) {
	snaps := []*evgpb.Snapshot{
		{Uuid: "m2", GroupUuid: "g1", GroupSize: 2, Name: "b", Created: 20, SizeBytes: 5},
		{Uuid: "old", Name: "legacy", Created: 5, SizeBytes: 1},
		{Uuid: "m1", GroupUuid: "g1", GroupSize: 2, Name: "b", Created: 19, SizeBytes: 7},
		{Uuid: "m3", GroupUuid: "g2", GroupSize: 3, Name: "a", Created: 20},
		{Uuid: "solo", GroupUuid: "g3", GroupSize: 1, Name: "c", Created: 30},
	}
	gs := Groups(snaps)
	want := []struct {
		uuid    string
		members int
		partial bool
	}{{"old", 1, false}, {"g1", 2, false}, {"g2", 1, true}, {"solo", 1, false}}
	if len(gs) != len(want) {
		t.Fatalf("groups: %+v", gs)
	}
	for i, w := range want {
		g := gs[i]
		if g.UUID != w.uuid || len(g.Members) != w.members || g.Partial != w.partial {
			t.Errorf("group %d: %+v, want %+v", i, g, w)
		}
	}
	if gs[1].Created != 19 || gs[1].SizeBytes != 12 || gs[1].Members[0].Uuid != "m2" {
		t.Errorf("group g1: %+v", gs[1])
	}
}
