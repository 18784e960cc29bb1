/*
 * The host daemon's listeners.  The server owns the listening sockets
 * (control, AF_VSOCK, one hybrid socket per VM) and the per-VM runtime
 * (struct vm_runtime, hung off reg_vm->rt); it accepts, enforces the
 * connection caps, pauses accepting while file descriptors run out, and
 * hands each connection over to the guest sessions or the control
 * connections (the sets it embeds, which own and free them).
 */
#ifndef EVG_SERVER_H
#define EVG_SERVER_H

#include <sys/queue.h>

#include <event2/event.h>

#include "config.h"
#include "control.h"
#include "evg.pb-c.h"
#include "registry.h"
#include "session.h"

struct vm_runtime {
	struct server		*srv;
	struct reg_vm		*vm;
	char			*hybrid_path;	/* "<hybrid>_<port>", owned */
	int			 hybrid_fd;
	struct event		*ev_hybrid;
	struct session_vm	 guests;	/* kept by the sessions */
};

struct server {
	struct event_base	*base;
	struct config		*cf;		/* not owned */
	struct registry		*reg;		/* not owned */
	int			 control_fd;
	struct event		*ev_control;
	int			 vsock_fd;
	struct event		*ev_vsock;
	struct event		*ev_resume;	/* accept pause timer */
	int			 paused;
	int			 listening;	/* VMs get hybrid listeners */
	unsigned int		 nconns;	/* every accepted peer */
	struct sessions		 guests;	/* guest connections */
	struct controls		 controls;	/* control connections */
};

/* Where the server hands requests over: one table per channel. */
struct server_dispatch {
	const struct session_dispatch	*guest;
	const struct control_dispatch	*control;
};

/*
 * Set up a server that listens nowhere: attached VMs get no hybrid socket
 * and connections arrive only through server_adopt_*() (fuzz targets).
 * server_start() does this, then opens the listeners.
 */
void	server_init(struct server *, struct event_base *, struct config *,
	    struct registry *, const struct server_dispatch *);
/* Open every listener and attach registered VMs. 0 or -1 + *cause. */
int	server_start(struct server *, struct event_base *, struct config *,
	    struct registry *, const struct server_dispatch *, char **);
/*
 * Take a connected fd as if accepted: a guest connection of vm (attached),
 * or a control connection (its SO_PEERCRED uid checked).  The same caps
 * apply; a refused fd is answered and closed.
 */
void	server_adopt_guest(struct server *, struct reg_vm *, int);
void	server_adopt_control(struct server *, int);
/* Close everything and unlink the sockets the server created. */
void	server_stop(struct server *);
/* Create a VM's runtime and its hybrid listener, if it has one. */
int	server_vm_attach(struct server *, struct reg_vm *, char **);
/*
 * Close a VM's listener and every session it has (telling each guest
 * why); free its runtime.
 */
void	server_vm_detach(struct server *, struct reg_vm *, const char *);
/* A VM's guest connection counters, or NULL when it is not attached. */
const struct session_vm *server_vm_guests(const struct reg_vm *);

#endif
