/* Listeners, accept, connection caps and the shared handshake. */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "frame.h"
#include "log.h"
#include "server.h"
#include "status.h"
#include "transport.h"
#include "xmalloc.h"

#define SERVER_BACKLOG		64
#define SERVER_ACCEPT_BURST	32
#define SERVER_PAUSE_SECONDS	1

static void	server_accept_control(evutil_socket_t, short, void *);
static void	server_accept_vsock(evutil_socket_t, short, void *);
static void	server_accept_hybrid(evutil_socket_t, short, void *);

/*
 * Refuse a connection before any state is made for it: best-effort write
 * of one reply frame, then close.  The peer learns why; nothing is kept.
 */
static void
server_reject(int fd, unsigned int code, const char *msg)
{
	struct codec_reply	 r;
	uint8_t			*buf;
	size_t			 len;
	char			*cause;

	codec_reply_init(&r, 0, PROTO_VERSION_MAX, code, msg);
	if ((buf = codec_frame(&r.env, FRAME_MAX_GUEST, &len, &cause)) !=
	    NULL) {
		if (write(fd, buf, len) == -1)
			log_debug("%s: write: %s", __func__, strerror(errno));
		free(buf);
	} else
		free(cause);
	shutdown(fd, SHUT_RDWR);
	close(fd);
}

/* Stop accepting for a moment: file descriptors ran out. */
static void
server_pause(struct server *srv)
{
	struct reg_vm	*vm;
	struct timeval	 tv = { SERVER_PAUSE_SECONDS, 0 };

	if (srv->paused)
		return;
	log_warnx("%s: out of file descriptors; not accepting for %d s",
	    __func__, SERVER_PAUSE_SECONDS);
	srv->paused = 1;
	if (srv->ev_control != NULL)
		event_del(srv->ev_control);
	if (srv->ev_vsock != NULL)
		event_del(srv->ev_vsock);
	TAILQ_FOREACH(vm, &srv->reg->vms, entry)
		if (vm->rt != NULL && vm->rt->ev_hybrid != NULL)
			event_del(vm->rt->ev_hybrid);
	evtimer_add(srv->ev_resume, &tv);
}

/* Resume accepting after a pause. */
static void
server_resume(evutil_socket_t fd, short events, void *arg)
{
	struct server	*srv = arg;
	struct reg_vm	*vm;

	(void)fd;
	(void)events;
	srv->paused = 0;
	if (srv->ev_control != NULL)
		event_add(srv->ev_control, NULL);
	if (srv->ev_vsock != NULL)
		event_add(srv->ev_vsock, NULL);
	TAILQ_FOREACH(vm, &srv->reg->vms, entry)
		if (vm->rt != NULL && vm->rt->ev_hybrid != NULL)
			event_add(vm->rt->ev_hybrid, NULL);
}

/*
 * Accept one connection from lfd.  Returns the fd, or -1 when there is
 * nothing more to accept now (the listener may have been paused).
 */
static int
server_accept_one(struct server *srv, int lfd, unsigned int *cid)
{
	int	fd;

	if ((fd = transport_accept(lfd, cid)) != -1)
		return (fd);
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
	    errno == ENOMEM)
		server_pause(srv);
	else if (errno != EAGAIN && errno != EINTR &&
	    errno != ECONNABORTED)
		log_warn("%s: accept", __func__);
	return (-1);
}

/* How often one kind of refusal was logged (server_log_refusal). */
struct refusal_log {
	time_t		last;
	unsigned int	more;
};

/*
 * Log a refusal at most once a second per kind: refused clients try
 * again every few tens of milliseconds (eve-guest-hostctl), which would
 * otherwise be a line each.  The ones not logged are counted in the next
 * line of that kind.
 */
static void
server_log_refusal(struct refusal_log *rl, const char *what, const char *msg)
{
	time_t	now = time(NULL);

	if (now == rl->last) {
		rl->more++;
		return;
	}
	if (rl->more > 0)
		log_warnx("%s: %s (%u more refused since the last such line)",
		    what, msg, rl->more);
	else
		log_warnx("%s: %s", what, msg);
	rl->last = now;
	rl->more = 0;
}

/* True (and the fd rejected) when the daemon-wide cap is reached. */
static int
server_over_cap(struct server *srv, int fd)
{
	static struct refusal_log	 rl;
	char				 msg[128];

	if (srv->nconns < srv->cf->max_conns)
		return (0);
	snprintf(msg, sizeof msg, "the host has too many connections "
	    "(limit %u); try again later", srv->cf->max_conns);
	server_log_refusal(&rl, __func__, msg);
	server_reject(fd, EVG_UNAVAILABLE, msg);
	return (1);
}

/* Hand a guest connection to its VM, unless the VM is at its cap. */
static void
server_guest_conn(struct server *srv, struct vm_runtime *rt, int fd,
    const char *via)
{
	char	msg[256], name[192];

	if (rt->guests.nsessions >= srv->cf->max_conns_per_vm) {
		snprintf(msg, sizeof msg, "VM %s already has %u connections "
		    "(limit %u)", rt->vm->name, rt->guests.nsessions,
		    srv->cf->max_conns_per_vm);
		log_warnx("%s: %s; refusing one more via %s", __func__, msg,
		    via);
		server_reject(fd, EVG_BUSY, msg);
		return;
	}
	snprintf(name, sizeof name, "vm %s (%s)", rt->vm->name, via);
	srv->nconns++;
	session_create(&srv->guests, rt->vm, &rt->guests, fd, name);
}

/* Take a control connection, checking its uid; see server.h. */
void
server_adopt_control(struct server *srv, int fd)
{
	static struct refusal_log	 control_rl;
	uid_t				 uid;
	char				 msg[128];

	if (server_over_cap(srv, fd))
		return;
	if (transport_peer_uid(fd, &uid) == -1 ||
	    !config_uid_allowed(srv->cf, uid)) {
		snprintf(msg, sizeof msg, "uid %ld may not use the control "
		    "socket", transport_peer_uid(fd, &uid) == -1 ? -1L :
		    (long)uid);
		log_warnx("control: %s", msg);
		server_reject(fd, EVG_PERMISSION_DENIED, msg);
		return;
	}
	if (srv->controls.count >= srv->cf->max_control_conns) {
		snprintf(msg, sizeof msg, "too many control connections "
		    "(limit %u)", srv->cf->max_control_conns);
		server_log_refusal(&control_rl, "control", msg);
		server_reject(fd, EVG_UNAVAILABLE, msg);
		return;
	}
	srv->nconns++;
	control_create(&srv->controls, fd, uid);
}

/* Accept on the control socket. */
static void
server_accept_control(evutil_socket_t lfd, short events, void *arg)
{
	struct server	*srv = arg;
	unsigned int	 cid, i;
	int		 fd;

	(void)events;
	for (i = 0; i < SERVER_ACCEPT_BURST; i++) {
		if ((fd = server_accept_one(srv, lfd, &cid)) == -1)
			return;
		server_adopt_control(srv, fd);
	}
}

/* Accept on AF_VSOCK: the peer CID alone says which VM it is. */
static void
server_accept_vsock(evutil_socket_t lfd, short events, void *arg)
{
	struct server	*srv = arg;
	struct reg_vm	*vm;
	unsigned int	 cid, i;
	int		 fd;
	char		 msg[128], via[32];

	(void)events;
	for (i = 0; i < SERVER_ACCEPT_BURST; i++) {
		if ((fd = server_accept_one(srv, lfd, &cid)) == -1)
			return;
		if (server_over_cap(srv, fd))
			continue;
		if ((vm = registry_find_cid(srv->reg, cid)) == NULL ||
		    vm->rt == NULL) {
			snprintf(msg, sizeof msg, "no VM is registered for "
			    "vsock CID %u on this host", cid);
			log_warnx("vsock: %s; closing", msg);
			server_reject(fd, EVG_NOT_FOUND, msg);
			continue;
		}
		snprintf(via, sizeof via, "cid %u", cid);
		server_guest_conn(srv, vm->rt, fd, via);
	}
}

/* Accept on a VM's hybrid socket: every connection is that VM's. */
static void
server_accept_hybrid(evutil_socket_t lfd, short events, void *arg)
{
	struct vm_runtime	*rt = arg;
	unsigned int		 cid, i;
	int			 fd;

	(void)events;
	for (i = 0; i < SERVER_ACCEPT_BURST; i++) {
		if ((fd = server_accept_one(rt->srv, lfd, &cid)) == -1)
			return;
		if (server_over_cap(rt->srv, fd))
			continue;
		server_guest_conn(rt->srv, rt, fd, "hybrid socket");
	}
}

/* Attach a VM; see server.h. */
int
server_vm_attach(struct server *srv, struct reg_vm *vm, char **cause)
{
	struct vm_runtime	*rt;

	rt = xcalloc(1, sizeof *rt);
	rt->srv = srv;
	rt->vm = vm;
	rt->hybrid_fd = -1;
	if (vm->hybrid != NULL && srv->listening) {
		xasprintf(&rt->hybrid_path, "%s_%u", vm->hybrid,
		    srv->cf->vsock_port);
		rt->hybrid_fd = transport_listen_unix(rt->hybrid_path, 0600,
		    SERVER_BACKLOG, cause);
		if (rt->hybrid_fd == -1) {
			free(rt->hybrid_path);
			free(rt);
			return (-1);
		}
		rt->ev_hybrid = event_new(srv->base, rt->hybrid_fd,
		    EV_READ | EV_PERSIST, server_accept_hybrid, rt);
		if (rt->ev_hybrid == NULL)
			fatalx("%s: event_new failed", __func__);
		if (!srv->paused)
			event_add(rt->ev_hybrid, NULL);
		log_info("vm %s: listening on %s", vm->name, rt->hybrid_path);
	}
	vm->rt = rt;
	return (0);
}

/* Detach a VM; see server.h. */
void
server_vm_detach(struct server *srv, struct reg_vm *vm, const char *why)
{
	struct vm_runtime	*rt = vm->rt;

	if (rt == NULL)
		return;
	sessions_detach_vm(&srv->guests, vm, why);
	if (rt->ev_hybrid != NULL)
		event_free(rt->ev_hybrid);
	if (rt->hybrid_fd != -1) {
		close(rt->hybrid_fd);
		unlink(rt->hybrid_path);
	}
	free(rt->hybrid_path);
	free(rt);
	vm->rt = NULL;
}

/* Take a guest connection of vm; see server.h. */
void
server_adopt_guest(struct server *srv, struct reg_vm *vm, int fd)
{
	if (!server_over_cap(srv, fd))
		server_guest_conn(srv, vm->rt, fd, "adopted");
}

/* The VM's guest counters; see server.h. */
const struct session_vm *
server_vm_guests(const struct reg_vm *vm)
{
	return (vm->rt != NULL ? &vm->rt->guests : NULL);
}

/* A connection the server counted has gone away. */
static void
server_conn_closed(void *arg)
{
	struct server	*srv = arg;

	if (srv->nconns > 0)
		srv->nconns--;
}

/* Set up without listeners; see server.h. */
void
server_init(struct server *srv, struct event_base *base, struct config *cf,
    struct registry *reg, const struct server_dispatch *d)
{
	memset(srv, 0, sizeof *srv);
	srv->base = base;
	srv->cf = cf;
	srv->reg = reg;
	srv->vsock_fd = srv->control_fd = -1;
	sessions_init(&srv->guests, base, cf, d->guest, server_conn_closed,
	    srv);
	controls_init(&srv->controls, base, cf, reg, d->control, srv,
	    server_conn_closed);
	if ((srv->ev_resume = evtimer_new(base, server_resume, srv)) == NULL)
		fatalx("%s: evtimer_new failed", __func__);
}

/* Start listening; see server.h. */
int
server_start(struct server *srv, struct event_base *base, struct config *cf,
    struct registry *reg, const struct server_dispatch *d, char **cause)
{
	struct reg_vm	*vm;
	char		*why;

	server_init(srv, base, cf, reg, d);
	srv->listening = 1;

	/* Non-root uids in control_uids need to reach the SO_PEERCRED check. */
	srv->control_fd = transport_listen_unix(cf->control_socket,
	    config_uid_allowed_only_root(cf) ? 0600 : 0666, SERVER_BACKLOG,
	    cause);
	if (srv->control_fd == -1)
		return (-1);
	srv->ev_control = event_new(base, srv->control_fd,
	    EV_READ | EV_PERSIST, server_accept_control, srv);
	if (srv->ev_control == NULL)
		fatalx("%s: event_new failed", __func__);
	event_add(srv->ev_control, NULL);

	if (cf->vsock) {
		srv->vsock_fd = transport_listen_vsock(cf->vsock_port,
		    SERVER_BACKLOG, cause);
		if (srv->vsock_fd == -1)
			return (-1);
		srv->ev_vsock = event_new(base, srv->vsock_fd,
		    EV_READ | EV_PERSIST, server_accept_vsock, srv);
		if (srv->ev_vsock == NULL)
			fatalx("%s: event_new failed", __func__);
		event_add(srv->ev_vsock, NULL);
	}
	TAILQ_FOREACH(vm, &reg->vms, entry) {
		if (server_vm_attach(srv, vm, &why) != 0) {
			xasprintf(cause, "vm %s: %s", vm->uuid, why);
			free(why);
			return (-1);
		}
	}
	return (0);
}

/* Stop; see server.h. */
void
server_stop(struct server *srv)
{
	struct reg_vm	*vm;

	sessions_free_all(&srv->guests);
	controls_free_all(&srv->controls);
	if (srv->reg != NULL)
		TAILQ_FOREACH(vm, &srv->reg->vms, entry)
			server_vm_detach(srv, vm, "the host daemon is "
			    "shutting down");
	if (srv->ev_vsock != NULL)
		event_free(srv->ev_vsock);
	if (srv->vsock_fd != -1)
		close(srv->vsock_fd);
	if (srv->ev_control != NULL)
		event_free(srv->ev_control);
	if (srv->control_fd != -1) {
		close(srv->control_fd);
		unlink(srv->cf->control_socket);
	}
	if (srv->ev_resume != NULL)
		event_free(srv->ev_resume);
}
