/*
 * Guest daemon: the connection to the host as an explicit state machine.
 *
 *	DISCONNECTED --backoff timer--> CONNECTING --connected--> HANDSHAKE
 *	HANDSHAKE --hello_ack--> READY
 *	HANDSHAKE or READY --we drop it--> CLOSING
 *	any connected state --peer lost--> DISCONNECTED (backoff timer armed)
 *
 * Each timer belongs to the one state it guards and is stopped on leaving
 * it (daemon_set_state()).  CLOSING exists because peer_close() flushes
 * queued output before the peer reports itself lost; its timer makes sure
 * a host that stops reading cannot hold the close, and so the reconnect,
 * back forever.
 *
 * In READY the host's requests go to serve.c (freeze, thaw, ping), which
 * lives as long as the daemon; a session that ends while it holds
 * filesystems frozen thaws them at once (serve_lost()).  The daemon locks
 * its memory so that nothing it touches while frozen waits on paging.
 */
#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "codec.h"
#include "daemon.h"
#include "frozenrec.h"
#include "frame.h"
#include "guardian.h"
#include "log.h"
#include "memlock.h"
#include "peer.h"
#include "serve.h"
#include "status.h"
#include "transport.h"
#include "xmalloc.h"

/* transport_connect() blocks the loop; nothing else runs meanwhile. */
#define DAEMON_CONNECT_TIMEOUT_MS	3000
#define DAEMON_HANDSHAKE_TIMEOUT_S	10
/* Also bounds how long a stop waits for queued replies to be flushed. */
#define DAEMON_BACKOFF_MIN_MS		1000
#define DAEMON_BACKOFF_MAX_MS		30000
/*
 * A session that ends sooner than this after its handshake does not reset
 * the backoff: a host that accepts and then drops every session at once
 * must not be hammered every second.
 */
#define DAEMON_STABLE_S			10
/* Queued replies beyond this mean the host is not reading. */
#define DAEMON_OUTPUT_MAX		(1024 * 1024)

enum daemon_state {
	DAEMON_DISCONNECTED,	/* no connection; backoff timer armed */
	DAEMON_CONNECTING,	/* inside transport_connect() */
	DAEMON_HANDSHAKE,	/* Hello sent; handshake timer armed */
	DAEMON_READY,		/* session up; serving host requests */
	DAEMON_CLOSING,		/* peer_close() called; close timer armed */
};

static const char *daemon_state_names[] = {
	[DAEMON_DISCONNECTED] = "disconnected",
	[DAEMON_CONNECTING] = "connecting",
	[DAEMON_HANDSHAKE] = "handshake",
	[DAEMON_READY] = "ready",
	[DAEMON_CLOSING] = "closing",
};

struct daemon {
	struct event_base	*base;
	const struct daemon_config *conf;
	char			 addr_name[UNIX_PATH_MAX + 16];

	enum daemon_state	 state;
	struct peer		*peer;		/* owned; NULL while disconnected */
	struct serve		*serve;		/* owned; outlives every peer */
	int			 was_ready;	/* this peer reached READY */
	time_t			 ready_at;	/* monotonic seconds */
	uint64_t		 hello_id;
	uint64_t		 next_id;
	unsigned int		 backoff_ms;	/* base of the next wait */
	unsigned int		 backoff_kept;	/* base before the last READY */
	/* Last reason a connection failed, to log a repeat only once. */
	char			 last_failure[512];
	int			 exiting;

	struct event		*ev_backoff;	/* DISCONNECTED */
	struct event		*ev_handshake;	/* HANDSHAKE */
	struct event		*ev_sigterm;
	struct event		*ev_sigint;
	struct event		*ev_sigchld;
};

static void	daemon_connect(struct daemon *);
static void	daemon_backoff(struct daemon *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	daemon_drop(struct daemon *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Seconds on the monotonic clock. */
static time_t
daemon_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec);
}

/* Leave the current state, stopping the timer it owns, and enter s. */
static void
daemon_set_state(struct daemon *d, enum daemon_state s)
{
	switch (d->state) {
	case DAEMON_DISCONNECTED:
		evtimer_del(d->ev_backoff);
		break;
	case DAEMON_HANDSHAKE:
		evtimer_del(d->ev_handshake);
		break;
	case DAEMON_CONNECTING:
	case DAEMON_READY:
	case DAEMON_CLOSING:
		break;
	}
	log_debug("%s: %s -> %s", __func__, daemon_state_names[d->state],
	    daemon_state_names[s]);
	d->state = s;
}

/*
 * Enter DISCONNECTED and arm the backoff timer: a delay drawn from the
 * upper half of the current base ("equal jitter", so that the agents of
 * many VMs do not reconnect in step after a host restart), then the base
 * doubles up to the cap.  The reason is logged as a warning unless it is
 * the same as last time, so a host that stays away does not fill syslog.
 */
static void
daemon_backoff(struct daemon *d, const char *fmt, ...)
{
	struct timeval	 tv;
	unsigned int	 delay, half;
	char		 why[sizeof d->last_failure];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);

	daemon_set_state(d, DAEMON_DISCONNECTED);
	half = d->backoff_ms / 2;
	delay = half + arc4random_uniform(d->backoff_ms - half + 1);
	if (strcmp(why, d->last_failure) == 0)
		log_debug("%s; retrying in %u.%u s", why, delay / 1000,
		    (delay % 1000) / 100);
	else
		log_warnx("%s; retrying in %u.%u s", why, delay / 1000,
		    (delay % 1000) / 100);
	snprintf(d->last_failure, sizeof d->last_failure, "%s", why);

	d->backoff_ms *= 2;
	if (d->backoff_ms > DAEMON_BACKOFF_MAX_MS)
		d->backoff_ms = DAEMON_BACKOFF_MAX_MS;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(d->ev_backoff, &tv);
}

/* DISCONNECTED: the wait is over; try again. */
static void
daemon_backoff_cb(evutil_socket_t fd, short events, void *arg)
{
	struct daemon	*d = arg;

	(void)fd;
	(void)events;
	if (!d->exiting)
		daemon_connect(d);
}

/*
 * HANDSHAKE or READY -> CLOSING: record why, flush what is queued (a final
 * reply, say) and wait for the peer to report itself lost (peer_close()
 * gives the host a few seconds to take it, then drops it).
 */
static void
daemon_drop(struct daemon *d, const char *fmt, ...)
{
	char		why[256];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);

	peer_set_close_reason(d->peer, "%s", why);
	daemon_set_state(d, DAEMON_CLOSING);
	peer_close(d->peer);
}

/*
 * Any connected state -> DISCONNECTED: the peer is gone (its NULL
 * dispatch).  Free it, log why, and wait before reconnecting (a short-lived
 * session gets the backoff it had before its handshake); or, when a stop
 * was requested, leave the loop.
 */
static void
daemon_lost(struct daemon *d)
{
	char		 reason[256];
	const char	*r;

	r = peer_close_reason(d->peer);
	snprintf(reason, sizeof reason, "%s", r[0] != '\0' ? r :
	    "connection lost");
	serve_lost(d->serve, d->peer);
	peer_free(d->peer);
	d->peer = NULL;

	if (d->exiting) {
		daemon_set_state(d, DAEMON_DISCONNECTED);
		log_info("disconnected from the host at %s: %s", d->addr_name,
		    reason);
		event_base_loopexit(d->base, NULL);
		return;
	}
	if (d->was_ready) {
		if (daemon_now() - d->ready_at < DAEMON_STABLE_S)
			d->backoff_ms = d->backoff_kept;
		daemon_backoff(d, "disconnected from the host at %s: %s",
		    d->addr_name, reason);
	} else {
		daemon_backoff(d, "handshake with the host at %s failed: %s",
		    d->addr_name, reason);
	}
}

/* HANDSHAKE: no answer to Hello in time. */
static void
daemon_handshake_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct daemon	*d = arg;

	(void)fd;
	(void)events;
	daemon_drop(d, "no answer to hello within %d s",
	    DAEMON_HANDSHAKE_TIMEOUT_S);
}

/*
 * HANDSHAKE -> READY: the session is up and the backoff starts over
 * (daemon_lost() takes that back if the session does not last).
 */
static void
daemon_ready(struct daemon *d, uint32_t version, const char *software)
{
	char	esc[128];

	peer_set_version(d->peer, version);
	daemon_set_state(d, DAEMON_READY);
	d->was_ready = 1;
	d->ready_at = daemon_now();
	d->backoff_kept = d->backoff_ms;
	d->backoff_ms = DAEMON_BACKOFF_MIN_MS;
	d->last_failure[0] = '\0';
	log_escape(esc, sizeof esc, software, strlen(software));
	log_info("connected to the host at %s (protocol %u, %s)", d->addr_name,
	    version, esc[0] != '\0' ? esc : "unnamed host software");
}

/*
 * HANDSHAKE: the only acceptable message is the answer to our Hello (id 0
 * when the host refuses before reading it).  A refusal (unknown VM, too
 * many connections, no common version) is retried later with backoff: the
 * VM may not be registered yet.
 */
static void
daemon_handshake_dispatch(struct daemon *d, const Evg__Envelope *env)
{
	const Evg__Reply	*r = env->reply;
	const Evg__HelloAck	*ack;
	const char		*msg;
	unsigned int		 code;
	char			 esc[256];

	if (env->body_case != EVG__ENVELOPE__BODY_REPLY ||
	    (env->id != d->hello_id && env->id != 0)) {
		daemon_drop(d, "unexpected %s (id %" PRIu64 ") before the "
		    "handshake finished", codec_body_name(env), env->id);
		return;
	}
	code = codec_reply_code(env, &msg);
	if (code != EVG_OK) {
		log_escape(esc, sizeof esc, msg, strlen(msg));
		daemon_drop(d, "the host refused the session: %s: %s",
		    status_name(code),
		    esc[0] != '\0' ? esc : status_description(code));
		return;
	}
	ack = r->result_case == EVG__REPLY__RESULT_HELLO_ACK ?
	    r->hello_ack : NULL;
	if (ack == NULL || codec_negotiate(ack->version, ack->version) == 0) {
		daemon_drop(d, "the host's answer to hello names no protocol "
		    "version this agent speaks (%u to %u)", PROTO_VERSION_MIN,
		    PROTO_VERSION_MAX);
		return;
	}
	daemon_ready(d, ack->version, ack->software);
}

/* READY: log an event the host sent (nothing is sent back). */
static void
daemon_event(const Evg__Event *ev)
{
	char	kind[64], msg[256];

	log_escape(kind, sizeof kind, ev->kind, strlen(ev->kind));
	log_escape(msg, sizeof msg, ev->message, strlen(ev->message));
	log_info("host event %s: %s", kind, msg);
}

/*
 * READY: answer one message from the host.  Requests (freeze, thaw, ping
 * and the ones this agent does not know) are serve.c's; events are logged
 * and replies need nothing, as nothing is asked of the host here.
 */
static void
daemon_ready_dispatch(struct daemon *d, const Evg__Envelope *env)
{
	if (serve_dispatch(d->serve, d->peer, env))
		return;
	if (env->body_case == EVG__ENVELOPE__BODY_EVENT)
		daemon_event(env->event);
	else {
		log_debug("%s: ignoring reply %" PRIu64 " to no request",
		    __func__, env->id);
	}
}

/* Every message from the host, and NULL when the connection is gone. */
static void
daemon_dispatch(struct peer *p, Evg__Envelope *env, void *arg)
{
	struct daemon	*d = arg;

	(void)p;
	if (env == NULL) {
		daemon_lost(d);
		return;
	}
	switch (d->state) {
	case DAEMON_HANDSHAKE:
		daemon_handshake_dispatch(d, env);
		break;
	case DAEMON_READY:
		daemon_ready_dispatch(d, env);
		break;
	case DAEMON_DISCONNECTED:
	case DAEMON_CONNECTING:
	case DAEMON_CLOSING:
		fatalx("%s: %s message in state %s", __func__,
		    codec_body_name(env), daemon_state_names[d->state]);
	}
}

/* CONNECTING -> HANDSHAKE: wrap the socket in a peer and send Hello. */
static void
daemon_handshake(struct daemon *d, int fd)
{
	struct timeval	tv = { .tv_sec = DAEMON_HANDSHAKE_TIMEOUT_S };
	Evg__Envelope	env = EVG__ENVELOPE__INIT;
	Evg__Hello	hello = EVG__HELLO__INIT;

	d->peer = peer_create(d->base, fd, d->addr_name, FRAME_MAX_GUEST,
	    DAEMON_OUTPUT_MAX, daemon_dispatch, d);
	d->was_ready = 0;
	daemon_set_state(d, DAEMON_HANDSHAKE);

	hello.min_version = PROTO_VERSION_MIN;
	hello.max_version = PROTO_VERSION_MAX;
	hello.role = EVG__ROLE__ROLE_GUEST_DAEMON;
	hello.software = (char *)d->conf->software;
	env.id = d->hello_id = d->next_id++;
	env.body_case = EVG__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	if (peer_send(d->peer, &env) == -1) {
		daemon_drop(d, "cannot send hello");
		return;
	}
	evtimer_add(d->ev_handshake, &tv);
}

/*
 * DISCONNECTED -> CONNECTING -> HANDSHAKE, or back to DISCONNECTED when
 * the host cannot be reached.
 */
static void
daemon_connect(struct daemon *d)
{
	char	*cause;
	int	 fd;

	daemon_set_state(d, DAEMON_CONNECTING);
	log_debug("%s: connecting to %s", __func__, d->addr_name);
	fd = transport_connect(&d->conf->addr, DAEMON_CONNECT_TIMEOUT_MS,
	    &cause);
	if (fd == -1) {
		daemon_backoff(d, "cannot connect to the host at %s", cause);
		free(cause);
		return;
	}
	if (transport_set_nonblock(fd, 1) == -1) {
		daemon_backoff(d, "cannot connect to the host at %s: "
		    "O_NONBLOCK: %s", d->addr_name, strerror(errno));
		close(fd);
		return;
	}
	daemon_handshake(d, fd);
}

/*
 * SIGTERM or SIGINT: close the connection gracefully (queued replies are
 * flushed, within the CLOSING timeout) and leave the loop once it is gone;
 * a second signal leaves at once.
 */
static void
daemon_signal_cb(evutil_socket_t sig, short events, void *arg)
{
	struct daemon	*d = arg;

	(void)events;
	log_info("%s received; stopping", sig == SIGTERM ? "SIGTERM" :
	    "SIGINT");
	if (d->exiting || d->peer == NULL) {
		d->exiting = 1;
		event_base_loopexit(d->base, NULL);
		return;
	}
	d->exiting = 1;
	if (!peer_closing(d->peer))
		daemon_drop(d, "agent stopping");
}

/* SIGCHLD: a freeze guardian that ended is reaped (hooks reap their own). */
static void
daemon_sigchld_cb(evutil_socket_t sig, short events, void *arg)
{
	(void)sig;
	(void)events;
	(void)arg;
	guardian_reap();
}

/* Run the daemon; see daemon.h. */
int
daemon_run(const struct daemon_config *conf)
{
	struct daemon	*d;
	struct timeval	 now = { 0, 0 };
	int		 rc = 0;

	d = xcalloc(1, sizeof *d);
	d->conf = conf;
	d->next_id = 1;
	d->backoff_ms = DAEMON_BACKOFF_MIN_MS;
	d->state = DAEMON_DISCONNECTED;
	addr_format(&conf->addr, d->addr_name, sizeof d->addr_name);

	/*
	 * Paging must not wait on a disk this daemon has frozen: its program
	 * resident, its memory locked (memlock.h).  Without it the daemon
	 * still works, at that risk.
	 */
	memlock_malloc_tune();
	if (memlock_process(MEMLOCK_ONFAULT) == -1)
		log_warn("%s: mlockall (memory stays pageable)", __func__);

	if ((d->base = event_base_new()) == NULL)
		fatalx("%s: event_base_new failed", __func__);
	/* What an agent killed mid-freeze left frozen is thawed first. */
	frozenrec_recover();
	d->serve = serve_create(d->base, NULL);
	serve_set_hooks_dir(d->serve, conf->hooks_dir);
	d->ev_backoff = evtimer_new(d->base, daemon_backoff_cb, d);
	d->ev_handshake = evtimer_new(d->base, daemon_handshake_timeout_cb, d);
	d->ev_sigterm = evsignal_new(d->base, SIGTERM, daemon_signal_cb, d);
	d->ev_sigint = evsignal_new(d->base, SIGINT, daemon_signal_cb, d);
	d->ev_sigchld = evsignal_new(d->base, SIGCHLD, daemon_sigchld_cb, d);
	if (d->ev_backoff == NULL || d->ev_handshake == NULL ||
	    d->ev_sigterm == NULL || d->ev_sigint == NULL ||
	    d->ev_sigchld == NULL)
		fatalx("%s: event_new failed", __func__);
	evsignal_add(d->ev_sigterm, NULL);
	evsignal_add(d->ev_sigint, NULL);
	evsignal_add(d->ev_sigchld, NULL);
	/* A guardian waits, idle, so that a freeze only hands it work. */
	serve_keep_guardian(d->serve);
	serve_allow_disk_release(d->serve);
	signal(SIGPIPE, SIG_IGN);
	/* No settings to reload, and a hangup must not end a freeze. */
	signal(SIGHUP, SIG_IGN);

	log_info("starting %s: host %s, hooks in %s", conf->software,
	    d->addr_name, conf->hooks_dir);
	/* What start-up allocated and freed goes back (the heap's top). */
	malloc_trim(0);
	/* The first attempt is immediate, from inside the loop. */
	evtimer_add(d->ev_backoff, &now);
	if (event_base_dispatch(d->base) == -1) {
		log_warnx("%s: event loop failed", __func__);
		rc = 1;
	}

	/* The loop has stopped, so no peer callback can be running. */
	if (d->peer != NULL) {
		serve_lost(d->serve, d->peer);
		peer_free(d->peer);
	}
	serve_free(d->serve);
	event_free(d->ev_backoff);
	event_free(d->ev_handshake);
	event_free(d->ev_sigterm);
	event_free(d->ev_sigint);
	event_free(d->ev_sigchld);
	event_base_free(d->base);
	free(d);
	log_info("stopped");
	return (rc);
}
