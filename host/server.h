/*
 * The host daemon's listeners and connection bookkeeping.  The server owns
 * the listening sockets (control, AF_VSOCK, one hybrid socket per VM), the
 * per-VM runtime (struct vm_runtime, hung off reg_vm->rt) and the lists of
 * guest sessions and control connections; it enforces the connection caps
 * and pauses accepting while file descriptors run out.
 */
#ifndef EVG_SERVER_H
#define EVG_SERVER_H

#include <sys/queue.h>

#include <event2/event.h>

#include "config.h"
#include "evg.pb-c.h"
#include "registry.h"

struct peer;
struct session;
struct control;

TAILQ_HEAD(session_list, session);
TAILQ_HEAD(control_list, control);

struct vm_runtime {
	struct server	*srv;
	struct reg_vm	*vm;
	char		*hybrid_path;	/* "<hybrid>_<port>", owned */
	int		 hybrid_fd;
	struct event	*ev_hybrid;
	unsigned int	 nsessions;	/* guest connections of this VM */
	unsigned int	 ndaemons;	/* of which daemon sessions, ready */
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
	unsigned int		 ncontrol;
	struct session_list	 sessions;
	struct control_list	 controls;
};

/*
 * Set up a server that listens nowhere: attached VMs get no hybrid socket
 * and connections arrive only through server_adopt_*() (fuzz targets).
 * server_start() does this, then opens the listeners.
 */
void	server_init(struct server *, struct event_base *, struct config *,
	    struct registry *);
/* Open every listener and attach registered VMs. 0 or -1 + *cause. */
int	server_start(struct server *, struct event_base *, struct config *,
	    struct registry *, char **);
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
/* Close a VM's listener and every session it has; free its runtime. */
void	server_vm_detach(struct server *, struct reg_vm *);
/* A peer the server counted has gone away. */
void	server_conn_closed(struct server *);
/*
 * Answer a Hello on a new connection: negotiate the version, reply with
 * HelloAck and return 0 with *role set; on a bad Hello reply with the
 * reason, close the peer and return -1.
 */
int	server_handshake(struct peer *, Evg__Envelope *, Evg__Role *);

#endif
