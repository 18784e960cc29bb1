/*
 * Control-socket connections (pillar or eve-guest-hostctl) and the set
 * that owns them.  One connection is a state machine:
 *
 *   HANDSHAKE --hello--> READY --lost/idle--> CLOSING
 *
 * Peers are checked by SO_PEERCRED uid at accept (server.c).  struct
 * controls owns every connection and frees each when its peer is lost; a
 * connection owns its pending requests (struct control_pending), whose
 * owners are told through the dispatch table when it goes away.
 *
 * Calls go one way: a request in READY goes to the row of the dispatch
 * table (struct control_dispatch) for its body case; nothing here calls
 * up except through that table and the closed callback.
 */
#ifndef EVG_CONTROL_H
#define EVG_CONTROL_H

#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>

#include "config.h"
#include "evg.pb-c.h"
#include "registry.h"

enum control_state {
	CONTROL_HANDSHAKE,
	CONTROL_READY,
	CONTROL_CLOSING,
};

struct control;
struct controls;

/* A request whose reply waits (a workflow, or the guest's answer). */
struct control_pending {
	struct control			*c;
	uint64_t			 id;
	int				 kind;	/* body case of the request */
	uint64_t			 guest;	/* session asked, 0: none */
	char				 vm[UUID_STR_LEN + 1]; /* or "" */
	TAILQ_ENTRY(control_pending)	 entry;
};

/* One row of the control channel's request table. */
struct control_route {
	int		 body;		/* Evg__Envelope body case */
	/*
	 * The VM UUID the request names, or NULL: then the connection
	 * finds the VM first (INVALID_ARGUMENT for a bad UUID, NOT_FOUND
	 * for an unknown one) and hands it to handle.
	 */
	const char	*(*vm_of)(const Evg__Envelope *);
	void		(*handle)(struct control *, Evg__Envelope *,
			    struct reg_vm *);
};

/* What the dispatch layer hands the control connections. */
struct control_dispatch {
	const struct control_route	*routes;
	size_t				 nroutes;
	/* The connection of p went away: its owner must forget p. */
	void				(*pending_gone)(struct control_pending *);
};

struct control {
	struct controls		*set;
	struct peer		*peer;
	enum control_state	 state;
	uid_t			 uid;
	int			 following;	/* streams events */
	struct event		*timer;
	TAILQ_HEAD(, control_pending) pending;
	TAILQ_ENTRY(control)	 entry;
};

struct controls {
	struct event_base		*base;
	struct config			*cf;		/* not owned */
	struct registry			*reg;		/* not owned */
	const struct control_dispatch	*dispatch;	/* not owned */
	void				*owner;		/* for handlers */
	void				(*closed)(void *); /* one peer fewer */
	unsigned int			 count;
	TAILQ_HEAD(, control)		 list;
};

/* Set up an empty set; closed(owner) runs as each connection is freed. */
void	controls_init(struct controls *, struct event_base *, struct config *,
	    struct registry *, const struct control_dispatch *, void *,
	    void (*)(void *));
/* Free every connection at shutdown: no callbacks run. */
void	controls_free_all(struct controls *);
/* Start a control connection for an accepted fd from uid. */
void	control_create(struct controls *, int, uid_t);
/* Reply with a status code and message (logged); frees nothing. */
void	control_fail(struct control *, uint64_t, int, const char *);
/* A pending reply for request id (of kind), owned by c until done. */
struct control_pending *control_pending_start(struct control *, uint64_t,
	    int);
/* Its reply was sent (or is not wanted): unlink and free it. */
void	control_pending_done(struct control_pending *);
/* Start streaming events to c (and stop its idle limit). */
void	control_follow(struct control *);

#endif
