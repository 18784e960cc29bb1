package evg

import (
	"errors"
	"fmt"
)

// Code is a status code as it goes on the wire (Status.code).  The numbers
// never change; they are common/status.h's.
type Code uint32

// The status codes (docs/protocol.md, "Status codes").
const (
	OK                 Code = 0
	InvalidArgument    Code = 1
	NotFound           Code = 2
	AlreadyExists      Code = 3
	NoSpace            Code = 4
	Busy               Code = 5
	PermissionDenied   Code = 6
	FailedPrecondition Code = 7
	Unavailable        Code = 8
	HookFailed         Code = 9
	FreezeFailed       Code = 10
	Timeout            Code = 11
	BackendError       Code = 12
	Unsupported        Code = 13
	Internal           Code = 14
)

// codeMax is the highest code this package knows; a higher one from a
// newer host reads as Internal, as the C clients read it.
const codeMax = Internal

// The names and default messages of common/status.c, in code order.
var codeNames = [...]struct{ name, description string }{
	OK:                 {"OK", "success"},
	InvalidArgument:    {"INVALID_ARGUMENT", "invalid argument"},
	NotFound:           {"NOT_FOUND", "not found"},
	AlreadyExists:      {"ALREADY_EXISTS", "already exists"},
	NoSpace:            {"NO_SPACE", "not enough free space"},
	Busy:               {"BUSY", "another operation is in progress"},
	PermissionDenied:   {"PERMISSION_DENIED", "permission denied"},
	FailedPrecondition: {"FAILED_PRECONDITION", "precondition not met"},
	Unavailable:        {"UNAVAILABLE", "service unavailable"},
	HookFailed:         {"HOOK_FAILED", "snapshot hook failed"},
	FreezeFailed:       {"FREEZE_FAILED", "filesystem freeze failed"},
	Timeout:            {"TIMEOUT", "operation timed out"},
	BackendError:       {"BACKEND_ERROR", "snapshot backend error"},
	Unsupported:        {"UNSUPPORTED", "not supported"},
	Internal:           {"INTERNAL", "internal error"},
}

// known maps a code from the wire to one this package knows.
func known(c Code) Code {
	if c > codeMax {
		return Internal
	}
	return c
}

// String is the code's name, "NO_SPACE"; an unknown code is "INTERNAL".
func (c Code) String() string { return codeNames[known(c)].name }

// Description is the code's default message, "not enough free space".
func (c Code) Description() string { return codeNames[known(c)].description }

// Error is every failure this package returns: a status the host answered,
// or a local one (Unavailable when the host cannot be reached or the
// connection was lost, Timeout when the context ran out, Internal when the
// host sent something that does not decode).  errors.Is matches it against
// the Err* values by code; errors.As gives the message.
type Error struct {
	// Code is the status; never OK.
	Code Code
	// Message is the host's text (valid UTF-8, may hold any character the
	// guest put there: escape it before showing it on a terminal), or the
	// code's description when the host sent none.
	Message string
	// Op names the request, "snapshot_create".
	Op string
	// Local is true when the status was decided on this side, not sent
	// by the host.
	Local bool
	// Err is the underlying cause of a local error (a net error, a
	// context error, a decoding error), or nil.
	Err error
}

// Error formats "snapshot_create: BUSY: VM web-01: ...".
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code.Description()
	}
	if e.Op == "" {
		return fmt.Sprintf("%s: %s", e.Code, msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Op, e.Code, msg)
}

// Unwrap gives the local cause, so errors.Is(err, context.DeadlineExceeded)
// also works.
func (e *Error) Unwrap() error { return e.Err }

// Is matches any *Error of the same code: errors.Is(err, evg.ErrBusy).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The sentinels for errors.Is, one per code.
var (
	ErrInvalidArgument    = &Error{Code: InvalidArgument}
	ErrNotFound           = &Error{Code: NotFound}
	ErrAlreadyExists      = &Error{Code: AlreadyExists}
	ErrNoSpace            = &Error{Code: NoSpace}
	ErrBusy               = &Error{Code: Busy}
	ErrPermissionDenied   = &Error{Code: PermissionDenied}
	ErrFailedPrecondition = &Error{Code: FailedPrecondition}
	ErrUnavailable        = &Error{Code: Unavailable}
	ErrHookFailed         = &Error{Code: HookFailed}
	ErrFreezeFailed       = &Error{Code: FreezeFailed}
	ErrTimeout            = &Error{Code: Timeout}
	ErrBackendError       = &Error{Code: BackendError}
	ErrUnsupported        = &Error{Code: Unsupported}
	ErrInternal           = &Error{Code: Internal}
)

// CodeOf is err's status: OK for nil, the code of an *Error in its chain,
// Internal for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// statusError is the error for a status from the host, or nil for OK.
func statusError(op string, code uint32, msg string) error {
	if code == uint32(OK) {
		return nil
	}
	c := known(Code(code))
	if c != Code(code) {
		msg = fmt.Sprintf("unknown status code %d: %s", code, msg)
	}
	return &Error{Code: c, Message: msg, Op: op}
}

// localError is a status decided on this side.
func localError(op string, c Code, cause error, format string, args ...interface{}) error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...), Op: op, Local: true, Err: cause}
}
