// Package evg is a client for the control socket of eve-guest-hostd, the
// EVE host daemon of eve-guest-agent: register VMs, drive snapshots,
// follow events.  It speaks the protocol of docs/protocol.md with the
// messages generated from proto/evg.proto (package evgpb).
//
// A Client is one connection.  It is safe for concurrent use: requests are
// multiplexed by id, and a long snapshot create does not hold up a vm
// update of another VM on the same Client.  Every call takes a context;
// its deadline bounds the wait for the reply.  A context that ends does
// not cancel the operation on the host (the host never cancels an
// operation because its requester went away); only the reply is dropped.
//
// Every failure is an *Error carrying a status code, so that
//
//	if errors.Is(err, evg.ErrBusy) { retry later }
//
// works for each code.
package evg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/lf-edge/eve-guest-agent/go/evgpb"
)

// Protocol versions this package speaks (common/codec.h).
const (
	ProtoVersionMin = 1
	ProtoVersionMax = 1
)

// DefaultSocket is the host daemon's control socket on EVE.
const DefaultSocket = "/run/eve-guest-agent/control.sock"

// DefaultHandshakeTimeout bounds Dial when its context has no deadline.
const DefaultHandshakeTimeout = 10 * time.Second

// refusalWait is how long a failed send looks for the host's reason.
const refusalWait = time.Second

// Option changes how Dial connects.
type Option func(*options)

type options struct {
	software string
	maxFrame uint32
}

// WithSoftware sets Hello.software, free text for the host's log
// ("pillar 12.3.0"); the default is "eve-guest-agent-go".
func WithSoftware(s string) Option { return func(o *options) { o.software = s } }

// WithMaxFrame sets the cap on frames sent and received (default
// FrameMaxControl, at most FrameMaxLimit).  Raise it with the host's
// max_frame_control.
func WithMaxFrame(n uint32) Option {
	return func(o *options) {
		if n > FrameMaxLimit {
			n = FrameMaxLimit
		}
		o.maxFrame = n
	}
}

// Client is one connection to the control socket.
type Client struct {
	conn     net.Conn
	maxFrame uint32
	host     string // HelloAck.software

	wmu sync.Mutex // one frame written at a time

	mu      sync.Mutex
	nextID  uint64
	version uint32 // 0 until the handshake is done
	pending map[uint64]chan *evgpb.Envelope
	events  chan *evgpb.Event // nil unless following
	refusal error             // an id-0 reply: why the host closes
	err     error             // set once the connection is gone
	done    chan struct{}     // closed with err set

	closeOnce sync.Once
	closing   chan struct{} // closed by Close: stop waiting on a follower
}

// Dial connects to the control socket at path and does the Hello
// handshake.  Without a deadline in ctx the handshake gets
// DefaultHandshakeTimeout.  A host that cannot be reached is Unavailable;
// one that refuses the connection answers why (PermissionDenied for a uid
// not in control_uids, Unavailable when it has too many connections).
func Dial(ctx context.Context, path string, opts ...Option) (*Client, error) {
	o := options{software: "eve-guest-agent-go", maxFrame: FrameMaxControl}
	for _, f := range opts {
		f(&o)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultHandshakeTimeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, localError("hello", Unavailable, err, "cannot reach the host at unix:%s: %v", path, err)
	}
	c := &Client{
		conn:     conn,
		maxFrame: o.maxFrame,
		nextID:   1,
		pending:  make(map[uint64]chan *evgpb.Envelope),
		done:     make(chan struct{}),
		closing:  make(chan struct{}),
	}
	go c.read()
	hello := &evgpb.Hello{
		MinVersion: ProtoVersionMin,
		MaxVersion: ProtoVersionMax,
		Role:       evgpb.Role_ROLE_CONTROL,
		Software:   o.software,
	}
	rep, err := c.call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_Hello{Hello: hello}})
	if err != nil {
		c.Close()
		return nil, err
	}
	ack := rep.GetHelloAck()
	if ack == nil || ack.Version < ProtoVersionMin || ack.Version > ProtoVersionMax {
		c.Close()
		return nil, localError("hello", Unsupported, nil, "host handshake failed: no usable protocol version in its answer")
	}
	c.mu.Lock()
	c.version = ack.Version
	c.mu.Unlock()
	c.host = ack.Software
	return c, nil
}

// HostSoftware is what the host said it runs ("eve-guest-hostd 0.1.0").
func (c *Client) HostSoftware() string { return c.host }

// Version is the negotiated protocol version.
func (c *Client) Version() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// Close drops the connection and waits for its reader; calls still
// waiting fail with Unavailable.  It never fails (io.Closer's error is
// always nil) and may be called again.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.closing)
		c.conn.Close()
	})
	<-c.done
	return nil
}

// Done is closed once the connection is gone (Close, or lost).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection is gone, or nil while it is up.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// read is the connection's one reader: it hands replies to their callers,
// events to the follower, answers pings, and fails every caller when the
// connection ends.
func (c *Client) read() {
	r := bufio.NewReaderSize(c.conn, 64<<10)
	for {
		env, err := readEnvelope(r, c.maxFrame)
		if err != nil {
			c.fail(err)
			return
		}
		c.mu.Lock()
		v := c.version
		c.mu.Unlock()
		if v != 0 && env.Version != v {
			c.fail(&errProtocol{fmt.Sprintf("message carries protocol version %d, this connection uses %d", env.Version, v)})
			return
		}
		switch b := env.Body.(type) {
		case *evgpb.Envelope_Reply:
			c.deliver(env)
		case *evgpb.Envelope_Event:
			c.mu.Lock()
			ch := c.events
			c.mu.Unlock()
			if ch != nil {
				select {
				case ch <- b.Event:
				case <-c.closing:
				}
			}
		case *evgpb.Envelope_Ping:
			c.reply(env.Id, OK, "")
		case nil:
			// A body from a newer host: nothing to do with it.
		default:
			c.reply(env.Id, Unsupported, fmt.Sprintf("the Go control client does not handle '%s' requests", bodyName(env)))
		}
	}
}

// deliver hands a reply to the call waiting for its id.  A reply with id 0
// is the host's answer to whatever was asked (a refusal, a protocol
// error): every waiting call gets it, and it is why the connection ends.
func (c *Client) deliver(env *evgpb.Envelope) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if env.Id != 0 {
		if ch, ok := c.pending[env.Id]; ok {
			delete(c.pending, env.Id)
			ch <- env
		}
		return
	}
	st := env.GetReply().GetStatus()
	if c.refusal == nil && st.GetCode() != uint32(OK) {
		c.refusal = statusError("", st.GetCode(), st.GetMessage())
	}
	for id, ch := range c.pending {
		delete(c.pending, id)
		ch <- env
	}
}

// fail ends the connection with the reason derived from err.
func (c *Client) fail(err error) {
	c.conn.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	var pe *errProtocol
	switch {
	case c.refusal != nil:
		c.err = c.refusal
	case errors.As(err, &pe):
		c.err = localError("", Internal, err, "%s", pe.reason)
	case errors.Is(err, io.EOF):
		c.err = localError("", Unavailable, err, "the host closed the connection")
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.err = localError("", Unavailable, err, "the host closed the connection in the middle of a frame")
	case errors.Is(err, net.ErrClosed):
		c.err = localError("", Unavailable, err, "the connection was closed")
	default:
		c.err = localError("", Unavailable, err, "connection to the host lost: %v", err)
	}
	for id := range c.pending {
		delete(c.pending, id)
	}
	if c.events != nil {
		close(c.events)
		c.events = nil
	}
	close(c.done)
}

// encode frames one envelope (its id set) with the connection's version.
func (c *Client) encode(env *evgpb.Envelope) ([]byte, error) {
	c.mu.Lock()
	env.Version = c.version
	c.mu.Unlock()
	if env.Version == 0 {
		env.Version = ProtoVersionMax
	}
	frame, err := frameEnvelope(env, c.maxFrame)
	if err != nil {
		return nil, localError("", InvalidArgument, err, "%v", err)
	}
	return frame, nil
}

// send writes one envelope; the caller has set its id.
func (c *Client) send(ctx context.Context, env *evgpb.Envelope) error {
	frame, err := c.encode(env)
	if err != nil {
		return err
	}
	return c.write(ctx, frame)
}

// write writes one frame, whole, before ctx's deadline.
func (c *Client) write(ctx context.Context, frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	dl, _ := ctx.Deadline()
	c.conn.SetWriteDeadline(dl)
	if _, err := c.conn.Write(frame); err != nil {
		// A frame cut short leaves nothing sound to send after it.  Only
		// the sending side is shut: a host that refused us may have said
		// why, and the reader still gets that before the end.
		if cw, ok := c.conn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			c.conn.Close()
		}
		code := Unavailable
		if errors.Is(err, os.ErrDeadlineExceeded) {
			code = Timeout
		}
		return localError("", code, err, "sending to the host: %v", err)
	}
	return nil
}

// reply answers a request of the host (a ping).
func (c *Client) reply(id uint64, code Code, msg string) {
	env := &evgpb.Envelope{
		Id: id,
		Body: &evgpb.Envelope_Reply{Reply: &evgpb.Reply{
			Status: &evgpb.Status{Code: uint32(code), Message: msg},
		}},
	}
	c.send(context.Background(), env)
}

// withOp names the request in a local error that has no name yet.
func withOp(op string, err error) error {
	var e *Error
	if errors.As(err, &e) && e.Op == "" {
		cp := *e
		cp.Op = op
		return &cp
	}
	return err
}

// call sends a request and waits for its final reply.  A status other
// than OK is returned as an *Error; the reply is returned with it.
func (c *Client) call(ctx context.Context, env *evgpb.Envelope) (*evgpb.Reply, error) {
	op := bodyName(env)
	if err := ctx.Err(); err != nil {
		return nil, localError(op, Timeout, err, "not sent: %v", err)
	}
	ch := make(chan *evgpb.Envelope, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, withOp(op, err)
	}
	env.Id = c.nextID
	c.nextID++
	c.pending[env.Id] = ch
	c.mu.Unlock()

	frame, err := c.encode(env)
	if err != nil {
		c.forget(env.Id)
		return nil, withOp(op, err)
	}
	if err := c.write(ctx, frame); err != nil {
		// A host that refused us may have said why before closing.
		t := time.NewTimer(refusalWait)
		defer t.Stop()
		select {
		case rep := <-ch:
			return c.result(op, rep)
		case <-c.done:
			select {
			case rep := <-ch:
				return c.result(op, rep)
			default:
			}
			return nil, withOp(op, c.Err())
		case <-t.C:
		}
		c.forget(env.Id)
		return nil, withOp(op, err)
	}
	select {
	case rep := <-ch:
		return c.result(op, rep)
	case <-c.done:
		// The reader may have handed over the reply just before it ended.
		select {
		case rep := <-ch:
			return c.result(op, rep)
		default:
		}
		return nil, withOp(op, c.Err())
	case <-ctx.Done():
		c.forget(env.Id)
		return nil, localError(op, Timeout, ctx.Err(), "no answer from the host: %v", ctx.Err())
	}
}

// forget drops a pending call whose reply is no longer awaited.
func (c *Client) forget(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// result is a reply's status as an error (nil for OK) and its Reply.
func (c *Client) result(op string, env *evgpb.Envelope) (*evgpb.Reply, error) {
	rep := env.GetReply()
	if rep.GetStatus() == nil {
		return rep, &Error{Code: Internal, Message: "the host sent a reply with no status", Op: op}
	}
	return rep, statusError(op, rep.Status.Code, rep.Status.Message)
}

// Call sends any request envelope (its id and version are filled in) and
// waits for its final Reply: for requests this package has no method for
// yet.  A status other than OK is returned as an *Error with the Reply.
func (c *Client) Call(ctx context.Context, env *evgpb.Envelope) (*evgpb.Reply, error) {
	return c.call(ctx, env)
}

// bodyName is the proto name of an envelope's body, "snapshot_create".
func bodyName(env *evgpb.Envelope) string {
	m := env.ProtoReflect()
	if fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("body")); fd != nil {
		return string(fd.Name())
	}
	return "envelope without a body"
}
