/* Guest connections: handshake, host requests, idle and pings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "events.h"
#include "handshake.h"
#include "log.h"
#include "peer.h"
#include "session.h"
#include "status.h"
#include "xmalloc.h"

static void	session_dispatch(struct peer *, Evg__Envelope *, void *);
static void	session_timer_cb(evutil_socket_t, short, void *);
static void	session_on_reply(struct session *, Evg__Envelope *);

/* (Re)arm the session's timer for the current state. */
static void
session_arm(struct session *s)
{
	struct config	*cf = s->set->cf;
	struct timeval	 tv = { 0, 0 };

	switch (s->state) {
	case SESSION_HANDSHAKE:
		tv.tv_sec = cf->handshake_timeout;
		break;
	case SESSION_READY:
		tv.tv_sec = s->role == EVG__ROLE__ROLE_GUEST_DAEMON ?
		    cf->ping_interval : cf->idle_timeout;
		break;
	case SESSION_CLOSING:
		evtimer_del(s->timer);
		return;
	}
	evtimer_add(s->timer, &tv);
}

/* Start a session; see session.h. */
void
session_create(struct sessions *set, struct reg_vm *vm, struct session_vm *sv,
    int fd, const char *name)
{
	struct session	*s;

	s = xcalloc(1, sizeof *s);
	s->set = set;
	s->vm = vm;
	s->sv = sv;
	s->state = SESSION_HANDSHAKE;
	s->next_id = 1;
	s->serial = ++set->last_serial;
	TAILQ_INIT(&s->reqs);
	TAILQ_INIT(&s->ops);
	s->peer = peer_create(set->base, fd, name, set->cf->max_frame_guest,
	    set->cf->max_output, session_dispatch, s);
	if ((s->timer = evtimer_new(set->base, session_timer_cb, s)) == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	sv->nsessions++;
	TAILQ_INSERT_TAIL(&set->list, s, entry);
	session_arm(s);
	log_info("%s: connected", name);
}

/* Transition to CLOSING: stop timers, flush, wait for the lost dispatch. */
static void
session_close(struct session *s, const char *why)
{
	if (s->state == SESSION_CLOSING)
		return;
	if (s->state == SESSION_READY && s->sv != NULL &&
	    s->role == EVG__ROLE__ROLE_GUEST_DAEMON && s->sv->ndaemons > 0) {
		s->sv->ndaemons--;
		events_emit("guest-disconnected", s->vm->uuid, NULL, NULL,
		    NULL, 0, "guest agent daemon disconnected: %s", why);
	}
	s->state = SESSION_CLOSING;
	peer_set_close_reason(s->peer, "%s", why);
	session_arm(s);
	peer_close(s->peer);
}

/* Close every session of a VM that is going away; see session.h. */
void
sessions_detach_vm(struct sessions *set, const struct reg_vm *vm,
    const char *why)
{
	struct session	*s;

	TAILQ_FOREACH(s, &set->list, entry) {
		if (s->vm != vm)
			continue;
		session_close(s, why);
		s->vm = NULL;
		s->sv = NULL;
	}
}

/* Transition HANDSHAKE -> READY on a good Hello. */
static void
session_on_hello(struct session *s, Evg__Envelope *env)
{
	char	sw[96];

	if (handshake_answer(s->peer, env, &s->role) != 0) {
		session_close(s, peer_close_reason(s->peer));
		return;
	}
	if (s->role != EVG__ROLE__ROLE_GUEST_DAEMON)
		s->role = EVG__ROLE__ROLE_GUEST_CLI;
	else
		s->sv->ndaemons++;
	s->state = SESSION_READY;
	session_arm(s);
	log_escape(sw, sizeof sw, env->hello->software,
	    strlen(env->hello->software));
	if (s->role == EVG__ROLE__ROLE_GUEST_DAEMON)
		events_emit("guest-connected", s->vm->uuid, NULL, NULL,
		    NULL, 0, "guest agent daemon connected (%s)", sw);
	log_info("%s: hello from %s (%s), protocol %u", peer_name(s->peer),
	    sw, s->role == EVG__ROLE__ROLE_GUEST_DAEMON ?
	    "daemon" : "cli", peer_version(s->peer));
}

/* Free a tracked request. */
static void
session_req_free(struct session_req *r)
{
	TAILQ_REMOVE(&r->s->reqs, r, entry);
	if (r->timer != NULL)
		event_free(r->timer);
	free(r);
}

/* A host request got no reply in time. */
static void
session_req_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct session_req	*r = arg;
	guest_reply_cb		 cb = r->cb;
	void			*cbarg = r->arg;

	(void)fd;
	(void)events;
	session_req_free(r);
	cb(NULL, "the guest agent did not answer in time", cbarg);
}

/* A session by serial, closing ones too; NULL if it is gone. */
static struct session *
session_by_serial(struct sessions *set, uint64_t serial)
{
	struct session	*s;

	TAILQ_FOREACH(s, &set->list, entry)
		if (s->serial == serial)
			return (s);
	return (NULL);
}

/* The live (not closing) session with this serial, or NULL. */
static struct session *
session_find(struct sessions *set, uint64_t serial)
{
	struct session	*s;

	if ((s = session_by_serial(set, serial)) == NULL ||
	    peer_closing(s->peer))
		return (NULL);
	return (s);
}

/* guest_link.alive; see guestlink.h. */
static int
session_link_alive(void *ctx, uint64_t serial)
{
	return (session_find(ctx, serial) != NULL);
}

/* guest_link.request: send and track a host request; see guestlink.h. */
static int
session_link_request(void *ctx, uint64_t serial, Evg__Envelope *env,
    unsigned int timeout_ms, guest_reply_cb cb, void *arg)
{
	struct session		*s;
	struct session_req	*r;
	struct timeval		 tv;

	if ((s = session_find(ctx, serial)) == NULL ||
	    s->state != SESSION_READY)
		return (GUEST_REQ_GONE);
	env->id = s->next_id++;
	if (peer_send(s->peer, env) != 0)
		return (peer_closing(s->peer) ? GUEST_REQ_GONE :
		    GUEST_REQ_TOO_BIG);
	r = xcalloc(1, sizeof *r);
	r->s = s;
	r->id = env->id;
	r->cb = cb;
	r->arg = arg;
	if (timeout_ms != 0) {
		r->timer = evtimer_new(s->set->base, session_req_timeout, r);
		if (r->timer == NULL)
			fatalx("%s: evtimer_new failed", __func__);
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		evtimer_add(r->timer, &tv);
	}
	TAILQ_INSERT_TAIL(&s->reqs, r, entry);
	return (0);
}

/*
 * guest_link.forget: drop arg's requests; see guestlink.h.  Also on a
 * closing session: its lost callbacks are still to come.
 */
static void
session_link_forget(void *ctx, uint64_t serial, void *arg)
{
	struct session		*s;
	struct session_req	*r, *next;

	if ((s = session_by_serial(ctx, serial)) == NULL)
		return;
	for (r = TAILQ_FIRST(&s->reqs); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->arg == arg)
			session_req_free(r);
	}
}

/* A reply from the guest: hand it to its request. */
static void
session_on_reply(struct session *s, Evg__Envelope *env)
{
	struct session_req	*r;
	guest_reply_cb		 cb;
	void			*arg;

	TAILQ_FOREACH(r, &s->reqs, entry) {
		if (r->id == env->id) {
			cb = r->cb;
			arg = r->arg;
			session_req_free(r);
			cb(env, NULL, arg);
			return;
		}
	}
	log_debug("%s: reply %llu matches no request", peer_name(s->peer),
	    (unsigned long long)env->id);
}

/* Fail every pending request and detach every waiting op: gone. */
static void
session_drop_pending(struct session *s, const char *why)
{
	const struct session_dispatch	*d = s->set->dispatch;
	struct session_req		*r;
	struct session_op		*op;
	guest_reply_cb			 cb;
	void				*arg;

	while ((r = TAILQ_FIRST(&s->reqs)) != NULL) {
		cb = r->cb;
		arg = r->arg;
		session_req_free(r);
		cb(NULL, why, arg);
	}
	while ((op = TAILQ_FIRST(&s->ops)) != NULL) {
		TAILQ_REMOVE(&s->ops, op, entry);
		op->s = NULL;
		d->op_gone(op);
		free(op);
	}
	/* A create frozen through this session ends now, not at its end. */
	d->gone(s->serial);
}

/* Free one session at shutdown: no callbacks run. */
static void
session_free(struct session *s)
{
	struct session_op	*op;

	while (!TAILQ_EMPTY(&s->reqs))
		session_req_free(TAILQ_FIRST(&s->reqs));
	while ((op = TAILQ_FIRST(&s->ops)) != NULL) {
		TAILQ_REMOVE(&s->ops, op, entry);
		free(op);
	}
	TAILQ_REMOVE(&s->set->list, s, entry);
	if (s->timer != NULL)
		event_free(s->timer);
	peer_free(s->peer);
	free(s);
}

/* Free every session; see session.h. */
void
sessions_free_all(struct sessions *set)
{
	while (!TAILQ_EMPTY(&set->list))
		session_free(TAILQ_FIRST(&set->list));
}

/* guest_link.freeze_channel: where to freeze; see guestlink.h. */
static uint64_t
session_link_freeze_channel(void *ctx, const struct reg_vm *vm,
    uint64_t requester, int *daemon)
{
	struct sessions	*set = ctx;
	struct session	*s;

	*daemon = 0;
	TAILQ_FOREACH(s, &set->list, entry) {
		if (s->vm == vm && vm != NULL && s->state == SESSION_READY &&
		    s->role == EVG__ROLE__ROLE_GUEST_DAEMON &&
		    !peer_closing(s->peer)) {
			*daemon = 1;
			return (s->serial);
		}
	}
	return (requester);
}

/* Set up an empty set; see session.h. */
void
sessions_init(struct sessions *set, struct event_base *base,
    struct config *cf, const struct session_dispatch *dispatch,
    void (*closed)(void *), void *closed_arg)
{
	memset(set, 0, sizeof *set);
	set->base = base;
	set->cf = cf;
	set->dispatch = dispatch;
	set->closed = closed;
	set->closed_arg = closed_arg;
	TAILQ_INIT(&set->list);
	set->link.ctx = set;
	set->link.request = session_link_request;
	set->link.forget = session_link_forget;
	set->link.alive = session_link_alive;
	set->link.freeze_channel = session_link_freeze_channel;
}

/* Track a guest request waiting for a workflow. */
struct session_op *
session_op_start(struct session *s, uint64_t id)
{
	struct session_op	*op;

	op = xcalloc(1, sizeof *op);
	op->s = s;
	op->id = id;
	TAILQ_INSERT_TAIL(&s->ops, op, entry);
	return (op);
}

/* The workflow of op finished. */
void
session_op_done(struct session_op *op)
{
	if (op->s != NULL)
		TAILQ_REMOVE(&op->s->ops, op, entry);
	free(op);
}

/* The dispatch table's row for a body case, or NULL. */
static const struct session_route *
session_route(const struct session_dispatch *d, int body)
{
	size_t	i;

	for (i = 0; i < d->nroutes; i++)
		if (d->routes[i].body == body)
			return (&d->routes[i]);
	return (NULL);
}

/* Handle one message in READY: the channel's own, else the table's. */
static void
session_on_request(struct session *s, Evg__Envelope *env)
{
	const struct session_route	*rt;
	char				 msg[128];

	if ((rt = session_route(s->set->dispatch, env->body_case)) != NULL) {
		if (rt->needs_vm && s->vm == NULL)
			peer_reply(s->peer, env->id, EVG_UNAVAILABLE,
			    "the VM was removed from the host");
		else
			rt->handle(s, env);
		return;
	}
	switch (env->body_case) {
	case EVG__ENVELOPE__BODY_PING:
		peer_reply(s->peer, env->id, EVG_OK, "");
		break;
	case EVG__ENVELOPE__BODY_REPLY:
		if (s->ping_id != 0 && env->id == s->ping_id)
			s->ping_id = 0;
		else
			session_on_reply(s, env);
		break;
	case EVG__ENVELOPE__BODY_HELLO:
		peer_reply(s->peer, env->id, EVG_FAILED_PRECONDITION,
		    "hello was already done on this connection");
		break;
	case EVG__ENVELOPE__BODY__NOT_SET:
		peer_reply(s->peer, env->id, EVG_UNSUPPORTED, "unknown request "
		    "(sent by a newer guest agent?)");
		break;
	default:
		snprintf(msg, sizeof msg, "request '%s' is not available on "
		    "the guest channel", codec_body_name(env));
		peer_reply(s->peer, env->id, EVG_UNSUPPORTED, msg);
		break;
	}
}

/* Timer: handshake timeout, CLI idle limit or daemon ping. */
static void
session_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct session	*s = arg;
	struct config	*cf = s->set->cf;
	Evg__Envelope	 env = EVG__ENVELOPE__INIT;
	Evg__Ping	 ping = EVG__PING__INIT;
	char		 why[128];

	(void)fd;
	(void)events;
	if (s->state == SESSION_HANDSHAKE) {
		snprintf(why, sizeof why, "no hello within %u s",
		    cf->handshake_timeout);
		log_warnx("%s: %s; closing", peer_name(s->peer), why);
		session_close(s, why);
		return;
	}
	if (s->state != SESSION_READY)
		return;
	if (s->role != EVG__ROLE__ROLE_GUEST_DAEMON) {
		/* Waiting for its own operation is not idleness. */
		if (!TAILQ_EMPTY(&s->ops) || !TAILQ_EMPTY(&s->reqs)) {
			session_arm(s);
			return;
		}
		snprintf(why, sizeof why, "idle for %u s", cf->idle_timeout);
		log_info("%s: %s; closing", peer_name(s->peer), why);
		session_close(s, why);
		return;
	}
	if (s->ping_id != 0) {
		snprintf(why, sizeof why, "guest daemon did not answer a ping "
		    "within %u s", cf->ping_interval);
		log_warnx("%s: %s; closing", peer_name(s->peer), why);
		session_close(s, why);
		return;
	}
	env.id = s->ping_id = s->next_id++;
	env.body_case = EVG__ENVELOPE__BODY_PING;
	env.ping = &ping;
	peer_send(s->peer, &env);
	session_arm(s);
}

/* Peer callback: a message, or NULL when the connection is gone. */
static void
session_dispatch(struct peer *peer, Evg__Envelope *env, void *arg)
{
	struct session	*s = arg;

	if (env == NULL) {
		if (s->state != SESSION_CLOSING)
			session_close(s, peer_close_reason(peer));
		log_info("%s: disconnected: %s", peer_name(peer),
		    peer_close_reason(peer));
		session_drop_pending(s, peer_close_reason(peer)[0] != '\0' ?
		    peer_close_reason(peer) : "connection lost");
		if (s->sv != NULL && s->sv->nsessions > 0)
			s->sv->nsessions--;
		s->set->closed(s->set->closed_arg);
		TAILQ_REMOVE(&s->set->list, s, entry);
		event_free(s->timer);
		peer_free(peer);
		free(s);
		return;
	}
	if (s->state == SESSION_CLOSING)
		return;
	if (s->state == SESSION_HANDSHAKE) {
		session_on_hello(s, env);
		return;
	}
	if (s->role != EVG__ROLE__ROLE_GUEST_DAEMON)
		session_arm(s);
	session_on_request(s, env);
}
