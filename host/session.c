/* Guest session state machine: handshake, requests, idle and pings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "log.h"
#include "peer.h"
#include "session.h"
#include "status.h"
#include "vminfo.h"
#include "guestops.h"
#include "workflow.h"
#include "events.h"
#include "xmalloc.h"

static uint64_t	session_serial;

static void	session_dispatch(struct peer *, Evg__Envelope *, void *);
static void	session_timer_cb(evutil_socket_t, short, void *);
static void	session_on_reply(struct session *, Evg__Envelope *);

/* (Re)arm the session's timer for the current state. */
static void
session_arm(struct session *s)
{
	struct config	*cf = s->srv->cf;
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
session_create(struct server *srv, struct vm_runtime *rt, int fd,
    const char *name)
{
	struct session	*s;

	s = xcalloc(1, sizeof *s);
	s->srv = srv;
	s->rt = rt;
	s->state = SESSION_HANDSHAKE;
	s->next_id = 1;
	s->serial = ++session_serial;
	TAILQ_INIT(&s->reqs);
	TAILQ_INIT(&s->ops);
	s->peer = peer_create(srv->base, fd, name, srv->cf->max_frame_guest,
	    srv->cf->max_output, session_dispatch, s);
	if ((s->timer = evtimer_new(srv->base, session_timer_cb, s)) == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	TAILQ_INSERT_TAIL(&srv->sessions, s, entry);
	session_arm(s);
	log_info("%s: connected", name);
}

/* Transition to CLOSING: stop timers, flush, wait for the lost dispatch. */
static void
session_close(struct session *s, const char *why)
{
	if (s->state == SESSION_CLOSING)
		return;
	if (s->state == SESSION_READY && s->rt != NULL &&
	    s->role == EVG__ROLE__ROLE_GUEST_DAEMON && s->rt->ndaemons > 0) {
		s->rt->ndaemons--;
		events_emit("guest-disconnected", s->rt->vm->uuid, NULL, NULL,
		    NULL, 0, "guest agent daemon disconnected: %s", why);
	}
	s->state = SESSION_CLOSING;
	peer_set_close_reason(s->peer, "%s", why);
	session_arm(s);
	peer_close(s->peer);
}

/* Close because the VM was removed; the runtime is going away. */
void
session_detach(struct session *s, const char *why)
{
	session_close(s, why);
	s->rt = NULL;
}

/* Transition HANDSHAKE -> READY on a good Hello. */
static void
session_on_hello(struct session *s, Evg__Envelope *env)
{
	char	sw[96];

	if (server_handshake(s->peer, env, &s->role) != 0) {
		session_close(s, peer_close_reason(s->peer));
		return;
	}
	if (s->role != EVG__ROLE__ROLE_GUEST_DAEMON)
		s->role = EVG__ROLE__ROLE_GUEST_CLI;
	else
		s->rt->ndaemons++;
	s->state = SESSION_READY;
	session_arm(s);
	log_escape(sw, sizeof sw, env->hello->software,
	    strlen(env->hello->software));
	if (s->role == EVG__ROLE__ROLE_GUEST_DAEMON)
		events_emit("guest-connected", s->rt->vm->uuid, NULL, NULL,
		    NULL, 0, "guest agent daemon connected (%s)", sw);
	log_info("%s: hello from %s (%s), protocol %u", peer_name(s->peer),
	    sw, s->role == EVG__ROLE__ROLE_GUEST_DAEMON ?
	    "daemon" : "cli", peer_version(s->peer));
}

/* Answer guest_status: the VM as the host knows it. */
static void
session_on_status(struct session *s, Evg__Envelope *env)
{
	struct codec_reply	 r;
	Evg__VmInfo		*vm;

	vm = vminfo_from_reg(s->rt->vm, VMINFO_GUEST);
	vm->agent_connected = s->rt->ndaemons > 0;
	vm->connections = s->rt->nsessions;
	codec_reply_init(&r, env->id, peer_version(s->peer), EVG_OK, "");
	r.reply.result_case = EVG__REPLY__RESULT_VM;
	r.reply.vm = vm;
	if (peer_send(s->peer, &r.env) != 0)
		peer_reply(s->peer, env->id, EVG_INTERNAL, "the VM's "
		    "description does not fit in one guest-channel frame");
	vminfo_free(vm);
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
	struct session		*s = r->s;
	session_reply_cb	 cb = r->cb;
	void			*cbarg = r->arg;

	(void)fd;
	(void)events;
	session_req_free(r);
	cb(s, NULL, "the guest agent did not answer in time", cbarg);
}

/* Send and track a host request; see session.h. */
int
session_request(struct session *s, Evg__Envelope *env, unsigned int timeout_ms,
    session_reply_cb cb, void *arg)
{
	struct session_req	*r;
	struct timeval		 tv;

	if (s->state != SESSION_READY || peer_closing(s->peer))
		return (SESSION_REQ_GONE);
	env->id = s->next_id++;
	if (peer_send(s->peer, env) != 0)
		return (peer_closing(s->peer) ? SESSION_REQ_GONE :
		    SESSION_REQ_TOO_BIG);
	r = xcalloc(1, sizeof *r);
	r->s = s;
	r->id = env->id;
	r->cb = cb;
	r->arg = arg;
	if (timeout_ms != 0) {
		r->timer = evtimer_new(s->srv->base, session_req_timeout, r);
		if (r->timer == NULL)
			fatalx("%s: evtimer_new failed", __func__);
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		evtimer_add(r->timer, &tv);
	}
	TAILQ_INSERT_TAIL(&s->reqs, r, entry);
	return (0);
}

/* Forget arg's requests; see session.h. */
void
session_forget(struct session *s, void *arg)
{
	struct session_req	*r, *next;

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
	session_reply_cb	 cb;
	void			*arg;

	TAILQ_FOREACH(r, &s->reqs, entry) {
		if (r->id == env->id) {
			cb = r->cb;
			arg = r->arg;
			session_req_free(r);
			cb(s, env, NULL, arg);
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
	struct session_req	*r;
	struct session_op	*op;
	session_reply_cb	 cb;
	void			*arg;

	while ((r = TAILQ_FIRST(&s->reqs)) != NULL) {
		cb = r->cb;
		arg = r->arg;
		session_req_free(r);
		cb(s, NULL, why, arg);
	}
	while ((op = TAILQ_FIRST(&s->ops)) != NULL) {
		TAILQ_REMOVE(&s->ops, op, entry);
		op->s = NULL;
		workflow_forget_owner(op);
		free(op);
	}
	/* A create frozen through this session ends now, not at its end. */
	workflow_guest_gone(s->serial);
}

/* Find a live session by serial. */
struct session *
session_find(struct server *srv, uint64_t serial)
{
	struct session	*s;

	TAILQ_FOREACH(s, &srv->sessions, entry)
		if (s->serial == serial)
			return (peer_closing(s->peer) ? NULL : s);
	return (NULL);
}

/* Free at shutdown; see session.h. */
void
session_free(struct session *s)
{
	struct session_op	*op;

	while (!TAILQ_EMPTY(&s->reqs))
		session_req_free(TAILQ_FIRST(&s->reqs));
	while ((op = TAILQ_FIRST(&s->ops)) != NULL) {
		TAILQ_REMOVE(&s->ops, op, entry);
		free(op);
	}
	TAILQ_REMOVE(&s->srv->sessions, s, entry);
	if (s->timer != NULL)
		event_free(s->timer);
	peer_free(s->peer);
	free(s);
}

/* Where to freeze; see session.h. */
struct session *
session_freeze_channel(struct server *srv, struct vm_runtime *rt,
    struct session *requester)
{
	struct session	*s;

	TAILQ_FOREACH(s, &srv->sessions, entry)
		if (s->rt == rt && s->state == SESSION_READY &&
		    s->role == EVG__ROLE__ROLE_GUEST_DAEMON &&
		    !peer_closing(s->peer))
			return (s);
	return (requester);
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

/* Handle one message in READY. */
static void
session_on_request(struct session *s, Evg__Envelope *env)
{
	char	msg[128];

	switch (env->body_case) {
	case EVG__ENVELOPE__BODY_GUEST_STATUS:
		session_on_status(s, env);
		break;
	case EVG__ENVELOPE__BODY_PING:
		peer_reply(s->peer, env->id, EVG_OK, "");
		break;
	case EVG__ENVELOPE__BODY_REPLY:
		if (s->ping_id != 0 && env->id == s->ping_id)
			s->ping_id = 0;
		else
			session_on_reply(s, env);
		break;
	case EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CREATE:
	case EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_LIST:
	case EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_ROLLBACK:
	case EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CHECK:
	case EVG__ENVELOPE__BODY_SNAPSHOT_DELETE:
		guestops_dispatch(s, env);
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
	struct config	*cf = s->srv->cf;
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
		if (s->rt != NULL && s->rt->nsessions > 0)
			s->rt->nsessions--;
		server_conn_closed(s->srv);
		TAILQ_REMOVE(&s->srv->sessions, s, entry);
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
