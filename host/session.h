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

struct session {
	struct server		*srv;
	struct vm_runtime	*rt;		/* NULL once detached */
	struct peer		*peer;
	enum session_state	 state;
	Evg__Role		 role;
	struct event		*timer;
	uint64_t		 ping_id;	/* outstanding ping, 0: none */
	uint64_t		 next_id;
	TAILQ_ENTRY(session)	 entry;
};

/* Start a session for an accepted fd belonging to rt's VM. */
void	session_create(struct server *, struct vm_runtime *, int,
	    const char *);
/* Close because the VM went away (detached). */
void	session_detach(struct session *, const char *);

#endif
