/*
 * Guest connections (CLI or daemon) and the set that owns them.
 *
 * One connection is a state machine:
 *
 *   HANDSHAKE --hello--> READY --lost/idle/ping miss/VM removed--> CLOSING
 *
 * The VM is fixed at accept time from the transport (vsock peer CID or the
 * hybrid socket the connection arrived on), never from what the guest
 * sends.  The handshake timer lives in HANDSHAKE; in READY a CLI session
 * has an idle timer and a daemon session a ping timer.
 *
 * struct sessions owns every session (its list) and frees each when its
 * peer is lost; it implements the guest link (guestlink.h) by which the
 * layers above send requests to a guest by session serial.  A session
 * owns what is pending on it: host -> guest requests (struct session_req:
 * each answered exactly once - reply, timeout or loss - unless forgotten)
 * and guest requests waiting for a workflow (struct session_op).
 *
 * Calls go one way: the server hands accepted fds in; a request in READY
 * goes to the dispatch table the server handed over (struct
 * session_dispatch), which starts workflows.  Nothing here calls up
 * except through that table and the closed callback.
 */
#ifndef EVG_SESSION_H
#define EVG_SESSION_H

#include <sys/queue.h>

#include <event2/event.h>

#include "config.h"
#include "evg.pb-c.h"
#include "guestlink.h"
#include "registry.h"

enum session_state {
	SESSION_HANDSHAKE,
	SESSION_READY,
	SESSION_CLOSING,
};

struct session;
struct sessions;

/* What the sessions keep per VM (in the server's per-VM runtime). */
struct session_vm {
	unsigned int	 nsessions;	/* guest connections of this VM */
	unsigned int	 ndaemons;	/* of which daemon sessions, ready */
};

/* An outstanding host -> guest request. */
struct session_req {
	struct session			*s;
	uint64_t			 id;
	guest_reply_cb			 cb;
	void				*arg;
	struct event			*timer;
	TAILQ_ENTRY(session_req)	 entry;
};

/* A guest request whose reply waits for a workflow. */
struct session_op {
	struct session			*s;	/* NULL once it went away */
	uint64_t			 id;
	TAILQ_ENTRY(session_op)		 entry;
};

/* One row of the guest channel's request table. */
struct session_route {
	int		 body;		/* Evg__Envelope body case */
	void		(*handle)(struct session *, Evg__Envelope *);
	int		 needs_vm;	/* refused once the VM was removed */
};

/* What the dispatch layer hands the guest connections. */
struct session_dispatch {
	const struct session_route	*routes;
	size_t				 nroutes;
	/* The session of a waiting op went away (op->s is NULL). */
	void				(*op_gone)(struct session_op *);
	/* A session went away, after its pending requests were failed. */
	void				(*gone)(uint64_t);
};

struct session {
	struct sessions		*set;
	struct reg_vm		*vm;		/* NULL once detached */
	struct session_vm	*sv;		/* vm's counters, or NULL */
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

struct sessions {
	struct event_base		*base;
	struct config			*cf;		/* not owned */
	const struct session_dispatch	*dispatch;	/* not owned */
	void				(*closed)(void *); /* one peer fewer */
	void				*closed_arg;
	uint64_t			 last_serial;
	struct guest_link		 link;		/* ctx: this set */
	TAILQ_HEAD(, session)		 list;
};

/* Set up an empty set; closed(arg) runs as each session is freed. */
void	sessions_init(struct sessions *, struct event_base *, struct config *,
	    const struct session_dispatch *, void (*)(void *), void *);
/* Free every session at shutdown: no callbacks run. */
void	sessions_free_all(struct sessions *);
/* Close every session of vm: the VM is going away (sv too). */
void	sessions_detach_vm(struct sessions *, const struct reg_vm *,
	    const char *);
/* Start a session for an accepted fd of vm (counted in sv). */
void	session_create(struct sessions *, struct reg_vm *, struct session_vm *,
	    int, const char *);
/* A guest request waiting for a workflow; freed by session_op_done(). */
struct session_op *session_op_start(struct session *, uint64_t);
/* Its workflow finished (also after the session went away: then NULL s). */
void	session_op_done(struct session_op *);

#endif
