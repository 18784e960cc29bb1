package evg

import (
	"encoding/binary"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/lf-edge/eve-guest-agent/go/evgpb"
)

// Frame limits (docs/protocol.md, "Framing").
const (
	frameHeader = 4
	// FrameMaxControl is the cap eve-guest-hostctl uses, for what it sends
	// and what it receives, and the host's default max_frame_control.
	FrameMaxControl = 1 << 20
	// FrameMaxLimit is the absolute cap: no channel can go higher.
	FrameMaxLimit = 16 << 20
)

// errProtocol is a frame or message from the host that breaks the
// protocol; the connection is dropped.
type errProtocol struct{ reason string }

func (e *errProtocol) Error() string { return e.reason }

// readEnvelope reads one frame from r and decodes its Envelope.  The length
// is checked against max before anything is allocated.  Returns io.EOF
// when the host closed between frames, io.ErrUnexpectedEOF in the middle
// of one, *errProtocol for a bad frame or payload.
func readEnvelope(r io.Reader, max uint32) (*evgpb.Envelope, error) {
	var hdr [frameHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 {
		return nil, &errProtocol{"zero-length frame"}
	}
	if n > max {
		return nil, &errProtocol{fmt.Sprintf("frame of %d bytes exceeds the %d-byte cap", n, max)}
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	env := new(evgpb.Envelope)
	// proto3 strings must be valid UTF-8: a message with one that is not
	// fails here, as it does in pillar.
	if err := proto.Unmarshal(buf, env); err != nil {
		return nil, &errProtocol{"bad message from the host: " + err.Error()}
	}
	return env, nil
}

// frameEnvelope encodes env as one frame of at most max payload bytes.
func frameEnvelope(env *evgpb.Envelope, max uint32) ([]byte, error) {
	payload, err := proto.Marshal(env)
	if err != nil {
		return nil, err
	}
	if len(payload) == 0 || uint64(len(payload)) > uint64(max) {
		return nil, fmt.Errorf("a message of %d bytes does not fit in one frame (cap %d)", len(payload), max)
	}
	out := make([]byte, frameHeader+len(payload))
	binary.BigEndian.PutUint32(out, uint32(len(payload)))
	copy(out[frameHeader:], payload)
	return out, nil
}
