/* Control-socket connections: handshake, timers, pending replies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "control.h"
#include "events.h"
#include "handshake.h"
#include "log.h"
#include "peer.h"
#include "status.h"
#include "xmalloc.h"

static void	control_peer_cb(struct peer *, Evg__Envelope *, void *);
static void	control_timer_cb(evutil_socket_t, short, void *);

/* (Re)arm the timer: handshake limit, then idle limit (not following). */
static void
control_arm(struct control *c)
{
	struct timeval	tv = { 0, 0 };

	if (c->state == CONTROL_CLOSING || c->following) {
		evtimer_del(c->timer);
		return;
	}
	tv.tv_sec = c->state == CONTROL_HANDSHAKE ?
	    c->set->cf->handshake_timeout : c->set->cf->idle_timeout;
	evtimer_add(c->timer, &tv);
}

/* Set up an empty set; see control.h. */
void
controls_init(struct controls *set, struct event_base *base,
    struct config *cf, struct registry *reg,
    const struct control_dispatch *dispatch, void *owner,
    void (*closed)(void *))
{
	memset(set, 0, sizeof *set);
	set->base = base;
	set->cf = cf;
	set->reg = reg;
	set->dispatch = dispatch;
	set->owner = owner;
	set->closed = closed;
	TAILQ_INIT(&set->list);
}

/* Start a control connection; see control.h. */
void
control_create(struct controls *set, int fd, uid_t uid)
{
	struct control	*c;
	char		 name[64];

	c = xcalloc(1, sizeof *c);
	c->set = set;
	c->uid = uid;
	c->state = CONTROL_HANDSHAKE;
	TAILQ_INIT(&c->pending);
	snprintf(name, sizeof name, "control (uid %ld)", (long)uid);
	c->peer = peer_create(set->base, fd, name, set->cf->max_frame_control,
	    set->cf->max_output, control_peer_cb, c);
	if ((c->timer = evtimer_new(set->base, control_timer_cb, c)) == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	set->count++;
	TAILQ_INSERT_TAIL(&set->list, c, entry);
	control_arm(c);
}

/* Transition to CLOSING. */
static void
control_close(struct control *c, const char *why)
{
	if (c->state == CONTROL_CLOSING)
		return;
	c->state = CONTROL_CLOSING;
	peer_set_close_reason(c->peer, "%s", why);
	control_arm(c);
	peer_close(c->peer);
}

/* Reply with a status and a message; see control.h. */
void
control_fail(struct control *c, uint64_t id, int code, const char *msg)
{
	log_info("%s: request %llu: %s: %s", peer_name(c->peer),
	    (unsigned long long)id, status_name((unsigned)code), msg);
	peer_reply(c->peer, id, (unsigned)code, msg);
}

/* A pending reply; see control.h. */
struct control_pending *
control_pending_start(struct control *c, uint64_t id, int kind)
{
	struct control_pending	*p;

	p = xcalloc(1, sizeof *p);
	p->c = c;
	p->id = id;
	p->kind = kind;
	TAILQ_INSERT_TAIL(&c->pending, p, entry);
	return (p);
}

/* Unlink and free a pending reply; see control.h. */
void
control_pending_done(struct control_pending *p)
{
	TAILQ_REMOVE(&p->c->pending, p, entry);
	free(p);
}

/* The requester is gone: its operations go on, their replies do not. */
static void
control_drop_pending(struct control *c)
{
	struct control_pending	*p;

	while ((p = TAILQ_FIRST(&c->pending)) != NULL) {
		TAILQ_REMOVE(&c->pending, p, entry);
		c->set->dispatch->pending_gone(p);
		free(p);
	}
}

/* An event for a following client. */
static void
control_event_sink(const Evg__Event *e, void *arg)
{
	struct control	*c = arg;
	Evg__Envelope	 env = EVG__ENVELOPE__INIT;

	if (peer_closing(c->peer))
		return;
	env.body_case = EVG__ENVELOPE__BODY_EVENT;
	env.event = (Evg__Event *)e;
	peer_send(c->peer, &env);
}

/* Stream events; see control.h. */
void
control_follow(struct control *c)
{
	if (c->following)
		return;
	c->following = 1;
	control_arm(c);
	events_subscribe(control_event_sink, c);
}

/* The VM a request names, replying as the channel does when absent. */
static struct reg_vm *
control_find(struct control *c, uint64_t id, const char *uuid)
{
	struct reg_vm	*vm;
	char		*msg;

	if (uuid == NULL || !uuid_valid(uuid)) {
		xasprintf(&msg, "uuid: '%s' is not a UUID",
		    uuid != NULL ? uuid : "");
		control_fail(c, id, EVG_INVALID_ARGUMENT, msg);
		free(msg);
		return (NULL);
	}
	if ((vm = registry_find(c->set->reg, uuid)) == NULL) {
		xasprintf(&msg, "no VM %s is registered", uuid);
		control_fail(c, id, EVG_NOT_FOUND, msg);
		free(msg);
	}
	return (vm);
}

/* The dispatch table's row for a body case, or NULL. */
static const struct control_route *
control_route(const struct control_dispatch *d, int body)
{
	size_t	i;

	for (i = 0; i < d->nroutes; i++)
		if (d->routes[i].body == body)
			return (&d->routes[i]);
	return (NULL);
}

/* Handle one request in READY: the channel's own, else the table's. */
static void
control_on_request(struct control *c, Evg__Envelope *env)
{
	const struct control_route	*rt;
	struct reg_vm			*vm = NULL;
	char				 msg[128];

	if ((rt = control_route(c->set->dispatch, env->body_case)) != NULL) {
		if (rt->vm_of != NULL &&
		    (vm = control_find(c, env->id, rt->vm_of(env))) == NULL)
			return;
		rt->handle(c, env, vm);
		return;
	}
	switch (env->body_case) {
	case EVG__ENVELOPE__BODY_PING:
		peer_reply(c->peer, env->id, EVG_OK, "");
		break;
	case EVG__ENVELOPE__BODY_REPLY:
		break;
	case EVG__ENVELOPE__BODY_HELLO:
		peer_reply(c->peer, env->id, EVG_FAILED_PRECONDITION,
		    "hello was already done on this connection");
		break;
	case EVG__ENVELOPE__BODY__NOT_SET:
		peer_reply(c->peer, env->id, EVG_UNSUPPORTED, "unknown request "
		    "(sent by a newer client?)");
		break;
	default:
		snprintf(msg, sizeof msg, "request '%s' is not available on "
		    "the control channel", codec_body_name(env));
		peer_reply(c->peer, env->id, EVG_UNSUPPORTED, msg);
		break;
	}
}

/* Timer: handshake or idle limit reached. */
static void
control_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct control	*c = arg;
	char		 why[64];

	(void)fd;
	(void)events;
	/* Waiting for its own operation is not idleness. */
	if (c->state == CONTROL_READY && !TAILQ_EMPTY(&c->pending)) {
		control_arm(c);
		return;
	}
	snprintf(why, sizeof why, c->state == CONTROL_HANDSHAKE ?
	    "no hello within %u s" : "idle for %u s",
	    c->state == CONTROL_HANDSHAKE ? c->set->cf->handshake_timeout :
	    c->set->cf->idle_timeout);
	log_info("%s: %s; closing", peer_name(c->peer), why);
	control_close(c, why);
}

/* Free one connection (its pending entries without callbacks). */
static void
control_free(struct control *c)
{
	struct control_pending	*p;

	while ((p = TAILQ_FIRST(&c->pending)) != NULL) {
		TAILQ_REMOVE(&c->pending, p, entry);
		free(p);
	}
	TAILQ_REMOVE(&c->set->list, c, entry);
	if (c->timer != NULL)
		event_free(c->timer);
	peer_free(c->peer);
	free(c);
}

/* Free every connection; see control.h. */
void
controls_free_all(struct controls *set)
{
	while (!TAILQ_EMPTY(&set->list))
		control_free(TAILQ_FIRST(&set->list));
}

/* Peer callback: a message, or NULL when the connection is gone. */
static void
control_peer_cb(struct peer *peer, Evg__Envelope *env, void *arg)
{
	struct control	*c = arg;
	struct controls	*set = c->set;
	Evg__Role	 role;

	if (env == NULL) {
		log_debug("%s: disconnected: %s", peer_name(peer),
		    peer_close_reason(peer));
		control_drop_pending(c);
		events_unsubscribe(c);
		if (set->count > 0)
			set->count--;
		control_free(c);
		set->closed(set->owner);
		return;
	}
	if (c->state == CONTROL_CLOSING)
		return;
	if (c->state == CONTROL_HANDSHAKE) {
		if (handshake_answer(peer, env, &role) != 0) {
			control_close(c, peer_close_reason(peer));
			return;
		}
		c->state = CONTROL_READY;
		control_arm(c);
		return;
	}
	control_arm(c);
	control_on_request(c, env);
}
