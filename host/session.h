/*
 * A guest connection (CLI or daemon) of one VM, as a state machine:
 *
 *   HANDSHAKE --hello--> READY --lost/idle/ping miss/VM removed--> CLOSING
 *
 * The VM is fixed at accept time from the transport (vsock peer CID or the
 * hybrid socket the connection arrived on), never from what the guest
 * sends.  The handshake timer lives in HANDSHAKE; in READY a CLI session
 * has an idle timer and a daemon session a ping timer.  Sessions are owned
 * by the server's list and freed when their peer is lost.
 *
 * The host also sends requests to the guest (freeze, thaw, ...):
 * session_request() tracks each until its reply, its timeout or the loss
 * of the session, and calls back exactly once in every case (unless the
 * requester called session_forget() first).  Guest requests that wait for
 * a workflow (struct session_op) are dropped from the workflow's callbacks
 * when the session goes away; the operation itself carries on.
 */
#ifndef EVG_SESSION_H
#define EVG_SESSION_H

#include <sys/queue.h>

#include "evg.pb-c.h"
#include "server.h"

enum session_state {
	SESSION_HANDSHAKE,
	SESSION_READY,
	SESSION_CLOSING,
};

struct session;

/* A reply to a host request, or NULL (with why) when none will come. */
typedef void	(*session_reply_cb)(struct session *, const Evg__Envelope *,
		    const char *, void *);

/* An outstanding host -> guest request. */
struct session_req {
	struct session			*s;
	uint64_t			 id;
	session_reply_cb		 cb;
	void				*arg;
	struct event			*timer;
	TAILQ_ENTRY(session_req)	 entry;
};

/* A guest request whose reply waits for a workflow. */
struct session_op {
	struct session			*s;
	uint64_t			 id;
	TAILQ_ENTRY(session_op)		 entry;
};

struct session {
	struct server		*srv;
	struct vm_runtime	*rt;		/* NULL once detached */
	struct peer		*peer;
	enum session_state	 state;
	Evg__Role		 role;
	struct event		*timer;
	uint64_t		 ping_id;	/* outstanding ping, 0: none */
	uint64_t		 next_id;
	uint64_t		 serial;	/* unique for the daemon's life */
	TAILQ_HEAD(, session_req) reqs;		/* host -> guest, pending */
	TAILQ_HEAD(, session_op) ops;		/* guest -> host, pending */
	TAILQ_ENTRY(session)	 entry;
};

/* Start a session for an accepted fd belonging to rt's VM. */
void	session_create(struct server *, struct vm_runtime *, int,
	    const char *);
/* The live session with this serial, or NULL (it went away). */
struct session	*session_find(struct server *, uint64_t);
/* Free at shutdown: no callbacks run (workflows are already gone). */
void	session_free(struct session *);
/* Close because the VM went away (detached). */
void	session_detach(struct session *, const char *);
/* Why session_request() could not send. */
#define SESSION_REQ_GONE	(-1)	/* the session is closing */
#define SESSION_REQ_TOO_BIG	(-2)	/* over the guest channel's frame cap */
/*
 * Send a request to the guest and track it (timeout_ms 0: none).  Returns
 * 0, or SESSION_REQ_GONE or SESSION_REQ_TOO_BIG; cb does not run then.
 */
int	session_request(struct session *, Evg__Envelope *, unsigned int,
	    session_reply_cb, void *);
/* Drop every pending request of arg without calling back. */
void	session_forget(struct session *, void *);
/*
 * Where to freeze a VM's filesystems: its guest daemon's session when one
 * is connected, else requester (may be NULL).
 */
struct session	*session_freeze_channel(struct server *, struct vm_runtime *,
		    struct session *);
/* A guest request waiting for a workflow; freed by session_op_done(). */
struct session_op *session_op_start(struct session *, uint64_t);
/* Its workflow finished (also after the session went away: then NULL s). */
void	session_op_done(struct session_op *);

#endif
