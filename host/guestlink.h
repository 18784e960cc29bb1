/*
 * How the layers above the guest connections reach a guest: workflows
 * (freeze, thaw, hooks) and the control channel's guest info.  They hold
 * a guest session by its serial (unique for the daemon's life), never by
 * pointer, and call through this interface, which the guest connections
 * (session.c) implement and the unit tests fake.  A serial whose session
 * went away is simply not found.
 */
#ifndef EVG_GUESTLINK_H
#define EVG_GUESTLINK_H

#include <stdint.h>

#include "evg.pb-c.h"

struct reg_vm;

/*
 * The guest's reply to a request, or NULL with why when none will come
 * (timeout, session lost).  The envelope is freed after return.
 */
typedef void	(*guest_reply_cb)(const Evg__Envelope *, const char *, void *);

/* Why guest_link.request could not send. */
#define GUEST_REQ_GONE		(-1)	/* no such session, or closing */
#define GUEST_REQ_TOO_BIG	(-2)	/* over the guest channel's frame cap */

struct guest_link {
	void		*ctx;
	/*
	 * Send a request to the session serial and track it until its
	 * reply, its timeout (timeout_ms, 0: none) or the session's loss;
	 * cb then runs exactly once, unless forget() came first.  Returns
	 * 0, GUEST_REQ_GONE or GUEST_REQ_TOO_BIG (cb does not run then).
	 */
	int		(*request)(void *, uint64_t, Evg__Envelope *,
			    unsigned int, guest_reply_cb, void *);
	/* Drop arg's pending requests on session serial, no callback. */
	void		(*forget)(void *, uint64_t, void *);
	/* True while session serial is connected and not closing. */
	int		(*alive)(void *, uint64_t);
	/*
	 * The session to freeze vm's filesystems through: its guest
	 * daemon's when one is connected (*daemon set to 1), else
	 * requester (a serial, 0: none; *daemon 0).  0 when neither.
	 */
	uint64_t	(*freeze_channel)(void *, const struct reg_vm *, uint64_t,
			    int *);
};

#endif
