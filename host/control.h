/*
 * A control-socket connection (pillar or eve-guest-hostctl), as a state
 * machine: HANDSHAKE --hello--> READY --lost/idle--> CLOSING.  Peers are
 * checked by SO_PEERCRED uid at accept.  Control connections are owned by
 * the server's list and freed when their peer is lost.
 */
#ifndef EVG_CONTROL_H
#define EVG_CONTROL_H

#include <sys/queue.h>
#include <sys/types.h>

#include "evg.pb-c.h"
#include "server.h"

enum control_state {
	CONTROL_HANDSHAKE,
	CONTROL_READY,
	CONTROL_CLOSING,
};

struct control_pending;

struct control {
	struct server		*srv;
	struct peer		*peer;
	enum control_state	 state;
	uid_t			 uid;
	int			 following;	/* streams events */
	struct event		*timer;
	TAILQ_HEAD(, control_pending) pending;	/* snapshot operations */
	TAILQ_ENTRY(control)	 entry;
};

/* A snapshot request whose reply waits for its workflow. */
struct control_pending {
	struct control			*c;
	uint64_t			 id;
	int				 kind;	/* body case of the request */
	TAILQ_ENTRY(control_pending)	 entry;
};

/* Start a control connection for an accepted fd from uid. */
void	control_create(struct server *, int, uid_t);

#endif
