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
#include "xmalloc.h"

static void	session_dispatch(struct peer *, Evg__Envelope *, void *);
static void	session_timer_cb(evutil_socket_t, short, void *);

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
	s->peer = peer_create(srv->base, fd, name, srv->cf->max_frame_guest,
	    srv->cf->max_output, session_dispatch, s);
	s->timer = evtimer_new(srv->base, session_timer_cb, s);
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
	    s->role == EVG__ROLE__ROLE_GUEST_DAEMON && s->rt->ndaemons > 0)
		s->rt->ndaemons--;
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
