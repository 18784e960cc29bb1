package evg

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/lf-edge/eve-guest-agent/go/evgpb"
)

// ErrEventsLost is what EventStream.Next returns, once, after a reconnect
// whose backlog does not hold the last event the stream had seen: the host
// restarted (seq starts again at 1) or more events passed than its backlog
// keeps, so some may be missing.  Resynchronise (list the VMs and their
// snapshots), then keep calling Next.
var ErrEventsLost = errors.New("evg: events may have been missed while reconnecting")

// ErrClosed is in the error Next returns once the stream is closed.
var ErrClosed = errors.New("evg: event stream closed")

// FollowOption changes how Follow connects.
type FollowOption func(*followOptions)

type followOptions struct {
	backlog    bool
	minBackoff time.Duration
	maxBackoff time.Duration
	dial       []Option
}

// WithBacklog makes the stream start with the host's backlog (up to 256
// recent events) instead of only the events that come after it connects.
func WithBacklog() FollowOption { return func(o *followOptions) { o.backlog = true } }

// WithBackoff sets the wait between reconnection attempts: min after a
// connection was lost, doubled after each failure, at most max (defaults
// 200 ms and 10 s).
func WithBackoff(min, max time.Duration) FollowOption {
	return func(o *followOptions) { o.minBackoff, o.maxBackoff = min, max }
}

// WithDialOptions passes options to every Dial the stream makes.
func WithDialOptions(opts ...Option) FollowOption {
	return func(o *followOptions) { o.dial = append(o.dial, opts...) }
}

type streamItem struct {
	ev  *evgpb.Event
	err error
}

// EventStream follows the host's events (the events request with
// follow) on a connection of its own, and reconnects when it is lost.
type EventStream struct {
	out    chan streamItem
	cancel context.CancelFunc
	done   chan struct{}
	ready  chan struct{}

	mu  sync.Mutex
	err error // the last connection failure; nil while following
}

// Follow starts following the events of the host at path; it returns at
// once and connects in the background until ctx ends or Close.  Ready is
// closed once the first subscription stands.
func Follow(ctx context.Context, path string, opts ...FollowOption) *EventStream {
	o := followOptions{minBackoff: 200 * time.Millisecond, maxBackoff: 10 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	if o.minBackoff <= 0 {
		o.minBackoff = 200 * time.Millisecond
	}
	if o.maxBackoff < o.minBackoff {
		o.maxBackoff = o.minBackoff
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &EventStream{
		out:    make(chan streamItem),
		cancel: cancel,
		done:   make(chan struct{}),
		ready:  make(chan struct{}),
	}
	go s.run(ctx, path, o)
	return s
}

// Next is the next event.  Besides events it returns ErrEventsLost (not an
// end: call Next again) and, once the stream is closed, an Unavailable
// *Error wrapping ErrClosed.  A ctx that ends only ends this wait (Timeout).
func (s *EventStream) Next(ctx context.Context) (*evgpb.Event, error) {
	select {
	case it, ok := <-s.out:
		if !ok {
			return nil, localError("events", Unavailable, ErrClosed, "the event stream is closed")
		}
		return it.ev, it.err
	case <-ctx.Done():
		return nil, localError("events", Timeout, ctx.Err(), "no event: %v", ctx.Err())
	}
}

// Ready is closed once the stream first follows the host: events from
// then on reach Next.
func (s *EventStream) Ready() <-chan struct{} { return s.ready }

// Err is why the stream is not following right now (the last connection
// failure), or nil while it is.
func (s *EventStream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close stops following and waits for the stream's goroutine.
func (s *EventStream) Close() {
	s.cancel()
	<-s.done
}

func (s *EventStream) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// push hands an item to Next; false once ctx ended.
func (s *EventStream) push(ctx context.Context, it streamItem) bool {
	select {
	case s.out <- it:
		return true
	case <-ctx.Done():
		return false
	}
}

// resume is what of a new connection's backlog the stream has not
// delivered yet: what follows last, the last event it saw (or, at the
// first connection, marked the start by).  Without last in the backlog,
// continuity cannot be shown: the whole backlog, and lost.
func resume(last *evgpb.Event, backlog []*evgpb.Event) (events []*evgpb.Event, lost bool) {
	if last != nil {
		for i := len(backlog) - 1; i >= 0; i-- {
			if proto.Equal(backlog[i], last) {
				return backlog[i+1:], false
			}
		}
	}
	return backlog, true
}

// lostError says which event the new backlog does not reach back to.
func lostError(last *evgpb.Event) error {
	if last == nil {
		return fmt.Errorf("%w (no event was seen before the connection was lost)", ErrEventsLost)
	}
	return fmt.Errorf("%w (the host's backlog does not reach back to event %d, %s)", ErrEventsLost, last.Seq, last.Kind)
}

// run keeps one following connection up until ctx ends.
func (s *EventStream) run(ctx context.Context, path string, o followOptions) {
	defer close(s.done)
	defer close(s.out)
	var last *evgpb.Event
	first := true
	backoff := o.minBackoff
	for {
		err := s.follow(ctx, path, o, &last, &first)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			backoff = o.minBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err != nil {
			backoff *= 2
			if backoff > o.maxBackoff {
				backoff = o.maxBackoff
			}
		}
	}
}

// follow is one connection: subscribe, deliver the backlog that is new,
// then every event until the connection ends.  Returns nil when the
// connection was up (lost later), else why it could not be made.
func (s *EventStream) follow(ctx context.Context, path string, o followOptions, last **evgpb.Event, first *bool) error {
	dctx, cancel := context.WithTimeout(ctx, DefaultHandshakeTimeout)
	c, err := Dial(dctx, path, o.dial...)
	if err != nil {
		cancel()
		s.setErr(err)
		return err
	}
	evs := make(chan *evgpb.Event, 64)
	c.mu.Lock()
	c.events = evs
	c.mu.Unlock()
	rep, err := c.call(dctx, &evgpb.Envelope{Body: &evgpb.Envelope_Events{Events: &evgpb.EventsRequest{Follow: true}}})
	cancel()
	if err == nil && rep.GetEventList() == nil {
		err = malformed("events", "event list")
	}
	if err != nil {
		c.Close()
		s.setErr(err)
		return err
	}
	s.setErr(nil)
	backlog := rep.GetEventList().Events
	var todo []*evgpb.Event
	lost := false
	if *first {
		*first = false
		close(s.ready)
		if o.backlog {
			todo = backlog
		} else if len(backlog) > 0 {
			*last = backlog[len(backlog)-1]
		}
	} else {
		todo, lost = resume(*last, backlog)
	}
	if lost && !s.push(ctx, streamItem{err: lostError(*last)}) {
		c.Close()
		return nil
	}
	for _, ev := range todo {
		if !s.push(ctx, streamItem{ev: ev}) {
			c.Close()
			return nil
		}
		*last = ev
	}
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				s.setErr(c.Err())
				c.Close()
				return nil
			}
			if !s.push(ctx, streamItem{ev: ev}) {
				c.Close()
				return nil
			}
			*last = ev
		case <-ctx.Done():
			c.Close()
			return nil
		}
	}
}
