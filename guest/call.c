/* An event-driven CLI request that serves the host while it waits. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "call.h"
#include "client.h"
#include "codec.h"
#include "frame.h"
#include "log.h"
#include "output.h"
#include "peer.h"
#include "serve.h"
#include "status.h"
#include "xmalloc.h"

/* Queued replies beyond this mean the host is not reading. */
#define CALL_OUTPUT_MAX		(1024 * 1024)

enum call_state {
	CALL_HANDSHAKE,		/* Hello sent; handshake timer armed */
	CALL_WAITING,		/* request sent; idle timer armed */
	CALL_DONE,		/* result or failure recorded; loop ending */
};

static const char *call_state_names[] = {
	[CALL_HANDSHAKE] = "handshake",
	[CALL_WAITING] = "waiting",
	[CALL_DONE] = "done",
};

static const int call_signals[] = { SIGINT, SIGTERM, SIGHUP };
#define CALL_NSIGNALS	(sizeof call_signals / sizeof call_signals[0])

struct call {
	const struct call_config *conf;
	struct event_base	*base;
	struct peer		*peer;		/* NULL once lost */
	struct serve		*serve;
	enum call_state		 state;
	char			 addr_name[UNIX_PATH_MAX + 16];
	Evg__Envelope		*req;		/* borrowed */
	uint64_t		 hello_id;
	uint64_t		 req_id;

	Evg__Envelope		*result;	/* DONE: the final reply */
	int			 code;		/* DONE: its status or why not */
	char			*cause;

	struct event		*ev_handshake;	/* HANDSHAKE */
	struct event		*ev_idle;	/* WAITING */
	struct event		*ev_signal[CALL_NSIGNALS];
};

/* Leave the current state, stopping the timer it owns, and enter s. */
static void
call_set_state(struct call *c, enum call_state s)
{
	switch (c->state) {
	case CALL_HANDSHAKE:
		evtimer_del(c->ev_handshake);
		break;
	case CALL_WAITING:
		evtimer_del(c->ev_idle);
		break;
	case CALL_DONE:
		break;
	}
	log_debug("%s: %s -> %s", __func__, call_state_names[c->state],
	    call_state_names[s]);
	c->state = s;
}

/* Arm a timer for ms milliseconds. */
static void
call_arm(struct event *ev, int ms)
{
	struct timeval	tv = { .tv_sec = ms / 1000,
			    .tv_usec = (ms % 1000) * 1000 };

	if (evtimer_add(ev, &tv) == -1)
		fatalx("%s: evtimer_add failed", __func__);
}

/*
 * Any state -> DONE.  Thaw first if the host left anything frozen (its
 * part is over either way), then leave the loop.
 */
static void
call_done(struct call *c, const char *why)
{
	call_set_state(c, CALL_DONE);
	if (c->peer != NULL)
		serve_release(c->serve, c->peer, why);
	event_base_loopexit(c->base, NULL);
}

/* Any state -> DONE with a failure: code and a formatted cause. */
static void __attribute__((format(printf, 3, 4)))
call_fail(struct call *c, int code, const char *fmt, ...)
{
	va_list	ap;

	if (c->state == CALL_DONE)
		return;
	c->code = code;
	va_start(ap, fmt);
	xvasprintf(&c->cause, fmt, ap);
	va_end(ap);
	call_done(c, "giving up on the host");
}


/* WAITING -> DONE: the final reply arrived. */
static void
call_result(struct call *c, const Evg__Envelope *env)
{
	const char	*msg;
	unsigned int	 code;

	code = codec_reply_code(env, &msg);
	/* The peer frees env; from the host, so a failure is never fatal. */
	if ((c->result = codec_copy(env)) == NULL) {
		code = EVG_INTERNAL;
		msg = "the host's answer could not be read";
	}
	c->code = (int)code;
	if (code != EVG_OK) {
		c->cause = xstrdup(msg[0] != '\0' ? msg :
		    status_description(code));
	}
	call_done(c, "the host gave its final answer");
}

/* HANDSHAKE -> WAITING: the session is up; send the request. */
static void
call_request(struct call *c, uint32_t version)
{
	peer_set_version(c->peer, version);
	call_set_state(c, CALL_WAITING);
	c->req->id = c->req_id = c->hello_id + 1;
	if (peer_send(c->peer, c->req) == -1) {
		/* A lost peer says so itself, from its NULL dispatch. */
		if (!peer_closing(c->peer))
			call_fail(c, EVG_INTERNAL, "the request is too large "
			    "for the guest channel");
		return;
	}
	call_arm(c->ev_idle, c->conf->idle_ms);
}

/* HANDSHAKE: the answer to Hello (id 0 when the host refused at once). */
static void
call_handshake_reply(struct call *c, const Evg__Envelope *env)
{
	const Evg__HelloAck	*ack;
	const char		*msg;
	unsigned int		 code;

	code = codec_reply_code(env, &msg);
	if (code != EVG_OK) {
		call_fail(c, (int)code, "%s", msg[0] != '\0' ? msg :
		    status_description(code));
		return;
	}
	ack = env->reply->result_case == EVG__REPLY__RESULT_HELLO_ACK ?
	    env->reply->hello_ack : NULL;
	if (ack == NULL || codec_negotiate(ack->version, ack->version) == 0) {
		call_fail(c, EVG_UNSUPPORTED, "host handshake failed: no "
		    "usable protocol version in its answer");
		return;
	}
	call_request(c, ack->version);
}

/*
 * HANDSHAKE or WAITING, connection lost: the host may have said its last
 * word and closed at once (a refusal right after accept(), say), and if a
 * write of ours met the closed socket first the peer gave up before
 * reading it.  Look for the answer we wait for among what is still queued
 * on the socket.  Returns 1 (and the call is DONE) if it was there.
 */
static int
call_salvage(struct call *c, int fd)
{
	struct frame_decoder	 dec;
	enum frame_result	 fr = FRAME_NEED_MORE;
	Evg__Envelope		*env;
	uint8_t			 buf[4096], *payload;
	uint32_t		 plen;
	size_t			 off, used;
	ssize_t			 n;
	uint64_t		 want;
	const char		*msg;
	char			 err[128];

	want = c->state == CALL_HANDSHAKE ? c->hello_id : c->req_id;
	frame_decoder_init(&dec, FRAME_MAX_GUEST);
	while (c->state != CALL_DONE && fr != FRAME_ERROR &&
	    (n = read(fd, buf, sizeof buf)) > 0) {
		for (off = 0; c->state != CALL_DONE && off < (size_t)n;
		    off += used) {
			fr = frame_decoder_feed(&dec, buf + off,
			    (size_t)n - off, &used, &payload, &plen);
			if (fr != FRAME_OK)
				break;
			env = codec_unpack(payload, plen, err, sizeof err);
			free(payload);
			/*
			 * In HANDSHAKE only a refusal counts: a session that
			 * was accepted and then lost is still lost.
			 */
			if (env != NULL &&
			    env->body_case == EVG__ENVELOPE__BODY_REPLY &&
			    (env->id == 0 || env->id == want)) {
				if (c->state == CALL_WAITING)
					call_result(c, env);
				else if (codec_reply_code(env, &msg) != EVG_OK)
					call_handshake_reply(c, env);
			}
			codec_free(env);
		}
	}
	frame_decoder_reset(&dec);
	return (c->state == CALL_DONE);
}

/*
 * The host's word about the request before its answer: "queued", it
 * waits for its turn.  Said on stderr, never while something is frozen
 * (nothing is, before a create's turn: this is only a guard).
 */
static void
call_notice(struct call *c, const Evg__Event *ev)
{
	char	msg[512];

	if (ev == NULL || ev->kind == NULL || strcmp(ev->kind, "queued") != 0 ||
	    serve_frozen(c->serve) > 0)
		return;
	fprintf(stderr, "eve-guest-agent: %s\n", output_safe(msg, sizeof msg,
	    ev->message != NULL ? ev->message : "waiting for its turn"));
}

/* Every message from the host, and NULL when the connection is gone. */
static void
call_dispatch(struct peer *p, Evg__Envelope *env, void *arg)
{
	struct call	*c = arg;
	const char	*why;

	if (env == NULL) {
		why = peer_close_reason(p);
		if (why[0] == '\0')
			why = "connection lost";
		serve_lost(c->serve, p);
		if (c->state != CALL_DONE && !call_salvage(c, peer_fd(p))) {
			if (c->state == CALL_HANDSHAKE)
				call_fail(c, CLIENT_UNREACHABLE, "host "
				    "handshake failed: %s", why);
			else
				call_fail(c, EVG_UNAVAILABLE, "the host closed "
				    "the connection (%s)", why);
		}
		peer_free(p);
		c->peer = NULL;
		return;
	}
	switch (c->state) {
	case CALL_HANDSHAKE:
		if (env->body_case == EVG__ENVELOPE__BODY_REPLY &&
		    (env->id == c->hello_id || env->id == 0))
			call_handshake_reply(c, env);
		else
			serve_dispatch(c->serve, p, env);
		break;
	case CALL_WAITING:
		/* Any word from the host restarts the silence count. */
		call_arm(c->ev_idle, c->conf->idle_ms);
		if (env->body_case == EVG__ENVELOPE__BODY_REPLY &&
		    (env->id == c->req_id || env->id == 0))
			call_result(c, env);
		else if (env->body_case == EVG__ENVELOPE__BODY_EVENT &&
		    env->id == c->req_id)
			call_notice(c, env->event);
		else if (!serve_dispatch(c->serve, p, env))
			log_debug("%s: ignoring %s %" PRIu64, __func__,
			    codec_body_name(env), env->id);
		break;
	case CALL_DONE:
		break;
	}
}

/* HANDSHAKE: no answer to Hello in time. */
static void
call_handshake_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct call	*c = arg;

	(void)fd;
	(void)events;
	call_fail(c, CLIENT_UNREACHABLE, "host handshake failed: no answer "
	    "within %d ms", c->conf->connect_ms);
}

/* WAITING: the host said nothing for too long; thaw and give up. */
static void
call_idle_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct call	*c = arg;

	(void)fd;
	(void)events;
	call_fail(c, EVG_TIMEOUT, "no word from the host for %d s; giving up "
	    "(the host may still finish the operation)",
	    c->conf->idle_ms / 1000);
}

/*
 * A signal that would kill us: thaw first (a frozen filesystem outlives
 * its process), then die by the same signal so the caller sees it.
 */
static void
call_signal_cb(evutil_socket_t sig, short events, void *arg)
{
	struct call	*c = arg;
	char		 why[64];

	(void)events;
	snprintf(why, sizeof why, "interrupted by %s", strsignal((int)sig));
	if (c->peer != NULL)
		serve_release(c->serve, c->peer, why);
	signal((int)sig, SIG_DFL);
	raise((int)sig);
}

/* Run one request; see call.h. */
Evg__Envelope *
call_run(const struct call_config *conf, Evg__Envelope *req, int *code,
    char **cause)
{
	struct call	*c;
	Evg__Envelope	 env = EVG__ENVELOPE__INIT, *result;
	Evg__Hello	 hello = EVG__HELLO__INIT;
	char		*why;
	size_t		 i;
	int		 fd;

	*cause = NULL;
	/* A host that hangs up mid-write must give an error, not a kill. */
	signal(SIGPIPE, SIG_IGN);
	if ((fd = transport_connect(conf->addr, conf->connect_ms, &why)) ==
	    -1) {
		xasprintf(cause, "cannot reach the host at %s", why);
		free(why);
		*code = CLIENT_UNREACHABLE;
		return (NULL);
	}
	if (transport_set_nonblock(fd, 1) == -1) {
		xasprintf(cause, "O_NONBLOCK: %s", strerror(errno));
		close(fd);
		*code = EVG_INTERNAL;
		return (NULL);
	}

	c = xcalloc(1, sizeof *c);
	c->conf = conf;
	c->req = req;
	c->state = CALL_HANDSHAKE;
	addr_format(conf->addr, c->addr_name, sizeof c->addr_name);
	if ((c->base = event_base_new()) == NULL)
		fatalx("%s: event_base_new failed", __func__);
	c->serve = serve_create(c->base, conf->mountinfo);
	serve_set_disks(c->serve, conf->disks, conf->ndisks);
	c->ev_handshake = evtimer_new(c->base, call_handshake_timeout_cb, c);
	c->ev_idle = evtimer_new(c->base, call_idle_timeout_cb, c);
	if (c->ev_handshake == NULL || c->ev_idle == NULL)
		fatalx("%s: event_new failed", __func__);
	for (i = 0; i < CALL_NSIGNALS; i++) {
		c->ev_signal[i] = evsignal_new(c->base, call_signals[i],
		    call_signal_cb, c);
		if (c->ev_signal[i] == NULL)
			fatalx("%s: evsignal_new failed", __func__);
		evsignal_add(c->ev_signal[i], NULL);
	}
	c->peer = peer_create(c->base, fd, c->addr_name, FRAME_MAX_GUEST,
	    CALL_OUTPUT_MAX, call_dispatch, c);

	hello.min_version = PROTO_VERSION_MIN;
	hello.max_version = PROTO_VERSION_MAX;
	hello.role = EVG__ROLE__ROLE_GUEST_CLI;
	hello.software = (char *)conf->software;
	env.id = c->hello_id = 1;
	env.body_case = EVG__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	if (peer_send(c->peer, &env) == -1)
		call_fail(c, CLIENT_UNREACHABLE, "cannot send hello");
	else {
		call_arm(c->ev_handshake, conf->connect_ms);
		if (event_base_dispatch(c->base) == -1)
			call_fail(c, EVG_INTERNAL, "event loop failed");
	}
	if (c->state != CALL_DONE)
		call_fail(c, EVG_INTERNAL, "event loop ended early");

	/* The loop has stopped, so no peer callback can be running. */
	if (c->peer != NULL) {
		serve_release(c->serve, c->peer, "closing the connection");
		peer_free(c->peer);
	}
	serve_free(c->serve);
	for (i = 0; i < CALL_NSIGNALS; i++)
		event_free(c->ev_signal[i]);
	event_free(c->ev_handshake);
	event_free(c->ev_idle);
	event_base_free(c->base);

	result = c->result;
	*code = c->code;
	*cause = c->cause;
	free(c);
	return (result);
}
