/* An in-process host daemon driven by fuzz inputs; see fuzzhost.h. */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "backend_impl.h"
#include "catalog.h"
#include "codec.h"
#include "config.h"
#include "control_dispatch.h"
#include "events.h"
#include "frame.h"
#include "fuzzhost.h"
#include "fuzzutil.h"
#include "guest_dispatch.h"
#include "log.h"
#include "registry.h"
#include "server.h"
#include "status.h"
#include "vminfo.h"
#include "workflow.h"
#include "workflow_impl.h"
#include "xmalloc.h"

/* The daemon's own request tables, as hostd hands them to the server. */
static const struct server_dispatch fh_dispatch = {
	&guest_dispatch,
	&control_dispatch,
};

#define FH_MAX_CONNS	4
/* Loop turns after which a daemon that is still busy is a livelock. */
#define FH_MAX_SPINS	10000
/* Timers fired at most while virtual time passes. */
#define FH_MAX_TICKS	64
/* Pending timers looked at. */
#define FH_MAX_TIMERS	64
/* Virtual seconds that are as good as forever. */
#define FH_FOREVER	(365 * 86400)
/* A timer due this soon counts as due (libevent's clocks differ a bit). */
#define FH_SOON_USEC	50000
/* Request ids whose answers are counted, per connection. */
#define FH_MAX_IDS	512
#define FH_READ_CHUNK	65536
#define FH_MIB		(1024ULL * 1024)
#define FH_HEADER	3	/* mode, backend and configuration bytes */
#define FH_STR(x)	FH_STR1(x)
#define FH_STR1(x)	#x

enum fh_role {
	FH_ROLE_FUZZED,		/* sends the input's stream */
	FH_ROLE_FAKE,		/* a scripted guest daemon */
	FH_ROLE_OBSERVER,	/* a control client that wants its answers */
};

/* How often a request id was sent on a connection, and answered. */
struct fh_id {
	uint64_t	id;
	unsigned int	sent;
	unsigned int	answered;
};

/* One connection the harness holds: its end, and the daemon's. */
struct fh_conn {
	enum fh_role		 role;
	const char		*name;
	int			 fd;		/* ours; -1 once closed */
	int			 host_fd;	/* the daemon's; -1 once gone */
	int			 greeted;	/* a first message was sent */
	int			 shut;		/* our write side is shut */
	int			 closed;	/* the daemon closed its end */
	uint32_t		 cap;
	struct frame_decoder	 dec;
	struct fh_id		 ids[FH_MAX_IDS];
	size_t			 nids;
	int			 frozen;	/* scripted daemon: frozen */
};

/* A pending timer with its real and virtual due times. */
struct fh_vtimer {
	struct event	*ev;
	struct timeval	 real;
	struct timeval	 virt;
};

/* Frame caps (guest, control) an input may pick (FC_CAPS()). */
static const uint32_t fh_caps[4][2] = {
	{ FRAME_MAX_GUEST, FRAME_MAX_CONTROL },
	{ 1024, 1024 },		/* the least the configuration allows */
	{ 4096, 4096 },
	{ 16384, 16384 },
};

/* A fixture file, rewritten before every input. */
struct fh_file {
	char	*path;
	char	*data;
	size_t	 len;
};

static struct {
	enum fuzzhost_channel	 ch;
	struct event_base	*base;
	struct config		 cf;
	struct registry		*reg;
	struct server		 srv;
	char			*dir;
	char			*catdir;
	char			*regpath;
	struct fh_file		 files[3];
	struct config		 defaults;	/* numbers only */
	uint8_t			 mode;
	uint8_t			 backend;
	uint8_t			 config;
	struct fh_conn		 conns[FH_MAX_CONNS];
	size_t			 nconns;
	size_t			 fuzzed;	/* conns[] index */
	struct timeval		 vnow;		/* virtual time of the input */
	struct fh_vtimer	 vt[FH_MAX_TIMERS];
	size_t			 nvt;
} fh;

/*
 * The oracle failed: say what and where, then abort (a libFuzzer crash).
 * On stdout, like fuzz_fail(): test/fuzz/run.sh closes stderr (the
 * daemon's log lines) during runs.
 */
static __attribute__((noreturn, format(printf, 4, 5))) void
fh_fail(const struct fh_conn *c, const uint8_t *frame, size_t len,
    const char *fmt, ...)
{
	va_list	ap;
	size_t	i;

	fflush(stdout);
	printf("fuzzhost: %s (input header %02x %02x %02x): ",
	    c != NULL ? c->name : "daemon", fh.mode, fh.backend, fh.config);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (frame != NULL) {
		printf("fuzzhost: frame payload (%zu bytes):", len);
		for (i = 0; i < len && i < 256; i++)
			printf("%s%02x", i % 32 == 0 ? "\n  " : " ", frame[i]);
		printf("%s\n", len > 256 ? " ..." : "");
	}
	fflush(stdout);
	abort();
}

/* The counter of request id on c, or NULL when c tracks too many. */
static struct fh_id *
fh_id(struct fh_conn *c, uint64_t id)
{
	size_t	i;

	for (i = 0; i < c->nids; i++)
		if (c->ids[i].id == id)
			return (&c->ids[i]);
	if (c->nids == FH_MAX_IDS)
		return (NULL);
	c->ids[c->nids].id = id;
	c->ids[c->nids].sent = c->ids[c->nids].answered = 0;
	return (&c->ids[c->nids++]);
}

/*
 * A reply arrived for id: no request is answered more often than it was
 * sent (id 0 once more: the answer to a protocol error).
 */
static void
fh_answered(struct fh_conn *c, uint64_t id, const uint8_t *p, size_t len)
{
	struct fh_id	*r;

	if ((r = fh_id(c, id)) == NULL)
		return;
	r->answered++;
	if (r->answered > r->sent + (id == 0))
		fh_fail(c, p, len, "request %llu was sent %u times and "
		    "answered %u times", (unsigned long long)id, r->sent,
		    r->answered);
}

/* Write all of p to the daemon, letting it read while its buffer is full. */
static void
fh_write(struct fh_conn *c, const void *p, size_t len)
{
	const uint8_t	*b = p;
	ssize_t		 n;
	unsigned int	 tries = 0;

	while (len > 0 && c->fd != -1 && !c->shut) {
		n = send(c->fd, b, len, MSG_NOSIGNAL);
		if (n > 0) {
			b += n;
			len -= (size_t)n;
			continue;
		}
		/* A daemon that stopped reading is closing: drop the rest. */
		if (n == -1 && errno == EAGAIN && tries++ < FH_MAX_SPINS) {
			event_base_loop(fh.base, EVLOOP_NONBLOCK);
			continue;
		}
		return;
	}
}

/* Send env with id as the harness's own message. */
static void
fh_send(struct fh_conn *c, uint64_t id, Evg__Envelope *env)
{
	struct fh_id	*r;
	uint8_t		*buf;
	size_t		 len;
	char		*cause;

	env->id = id;
	env->version = PROTO_VERSION_MAX;
	if ((buf = codec_frame(env, c->cap, &len, &cause)) == NULL)
		fatalx("%s: %s", __func__, cause);
	if ((env->body_case != EVG__ENVELOPE__BODY_REPLY || !c->greeted) &&
	    (r = fh_id(c, id)) != NULL)
		r->sent++;
	c->greeted = 1;
	fh_write(c, buf, len);
	free(buf);
}

/* Send a reply with a status (and the result set in r by the caller). */
static void
fh_reply(struct fh_conn *c, struct codec_reply *r)
{
	fh_send(c, r->env.id, &r->env);
}

/* The scripted guest daemon answers a host request. */
static void
fh_fake_answer(struct fh_conn *c, const Evg__Envelope *env)
{
	struct codec_reply	 r;
	Evg__FreezeReport	 fr = EVG__FREEZE_REPORT__INIT;
	Evg__MountReport	 m = EVG__MOUNT_REPORT__INIT, *mp = &m;
	Evg__HookReport		 hr = EVG__HOOK_REPORT__INIT;
	Evg__HookResult		 res = EVG__HOOK_RESULT__INIT, *resp = &res;
	Evg__GuestInfo		 gi = EVG__GUEST_INFO__INIT;
	int			 fails = (fh.mode & FH_DAEMON_FAILS) != 0;

	switch (env->body_case) {
	case EVG__ENVELOPE__BODY_REPLY:
	case EVG__ENVELOPE__BODY_EVENT:
		return;
	case EVG__ENVELOPE__BODY_PING:
		codec_reply_init(&r, env->id, PROTO_VERSION_MAX, EVG_OK, "");
		break;
	case EVG__ENVELOPE__BODY_FREEZE:
	case EVG__ENVELOPE__BODY_FREEZE_STATUS:
	case EVG__ENVELOPE__BODY_THAW:
		if (fails) {
			codec_reply_init(&r, env->id, PROTO_VERSION_MAX,
			    EVG_FREEZE_FAILED, "fake: /data: FIFREEZE: "
			    "Operation not supported");
			break;
		}
		if (env->body_case == EVG__ENVELOPE__BODY_FREEZE)
			c->frozen = 1;
		if (env->body_case == EVG__ENVELOPE__BODY_THAW) {
			c->frozen = 0;
			fr.duration_ms = 3;
		}
		fr.frozen = c->frozen;
		m.mountpoint = (char *)"/data";
		m.fstype = (char *)"ext4";
		m.device = (char *)"/dev/vdb";
		m.action = (char *)"frozen";
		fr.mounts = &mp;
		fr.n_mounts = 1;
		fr.frozen_count = 1;
		fr.lease_left_ms = c->frozen ? fh.cf.freeze_lease_ms : 0;
		codec_reply_init(&r, env->id, PROTO_VERSION_MAX, EVG_OK, "");
		r.reply.result_case = EVG__REPLY__RESULT_FREEZE_REPORT;
		r.reply.freeze_report = &fr;
		break;
	case EVG__ENVELOPE__BODY_FREEZE_RENEW:
		codec_reply_init(&r, env->id, PROTO_VERSION_MAX, fails ?
		    EVG_FAILED_PRECONDITION : EVG_OK, fails ? "fake: the "
		    "lease ran out" : "");
		break;
	case EVG__ENVELOPE__BODY_HOOK:
		res.path = (char *)"/etc/eve/snapshots/pre.sh";
		res.status = (char *)(fails ? "failed" : "ok");
		res.exit_code = fails ? 3 : 0;
		res.output = (char *)"flushing the database\n";
		res.reason = (char *)"";
		hr.ok = !fails;
		hr.results = &resp;
		hr.n_results = 1;
		codec_reply_init(&r, env->id, PROTO_VERSION_MAX, EVG_OK, "");
		r.reply.result_case = EVG__REPLY__RESULT_HOOK_REPORT;
		r.reply.hook_report = &hr;
		break;
	case EVG__ENVELOPE__BODY_GUEST_INFO:
		if (fails) {
			codec_reply_init(&r, env->id, PROTO_VERSION_MAX,
			    EVG_INTERNAL, "fake: cannot read /etc/os-release");
			break;
		}
		gi.agent_version = (char *)"eve-guest-agent 0.1.0";
		gi.os = (char *)"Debian GNU/Linux 12 (bookworm)";
		gi.kernel = (char *)"Linux";
		gi.kernel_version = (char *)"6.1.0-13-amd64";
		gi.hostname = (char *)"web-01";
		gi.uptime_seconds = 3600;
		codec_reply_init(&r, env->id, PROTO_VERSION_MAX, EVG_OK, "");
		r.reply.result_case = EVG__REPLY__RESULT_GUEST_INFO;
		r.reply.guest_info = &gi;
		break;
	default:
		codec_reply_init(&r, env->id, PROTO_VERSION_MAX,
		    EVG_UNSUPPORTED, "fake: not a host request");
		break;
	}
	fh_reply(c, &r);
}

/* The oracle on one frame the daemon wrote to c. */
static void
fh_check_frame(struct fh_conn *c, const uint8_t *p, uint32_t len)
{
	Evg__Envelope	*env, *raw;
	const char	*bad;
	size_t		 unknown = 0;
	char		 err[160];

	if ((env = codec_unpack(p, len, err, sizeof err)) == NULL)
		fh_fail(c, p, len, "a frame the daemon wrote does not "
		    "unpack: %s", err);
	if (env->version != PROTO_VERSION_MAX)
		fh_fail(c, p, len, "a frame carries protocol version %u",
		    env->version);
	if (env->body_case == EVG__ENVELOPE__BODY__NOT_SET)
		fh_fail(c, p, len, "a frame carries no body");
	if ((raw = evg__envelope__unpack(NULL, len, p)) == NULL)
		fh_fail(c, p, len, "codec_unpack() takes a frame protobuf-c "
		    "refuses");
	if ((bad = fuzz_bad_string(&raw->base, &unknown)) != NULL)
		fh_fail(c, p, len, "string field '%s' is not valid UTF-8", bad);
	if (unknown != 0)
		fh_fail(c, p, len, "a frame carries %zu unknown fields (bytes "
		    "relayed from a peer?)", unknown);
	evg__envelope__free_unpacked(raw, NULL);
	if (env->body_case == EVG__ENVELOPE__BODY_REPLY) {
		if (env->reply->status == NULL)
			fh_fail(c, p, len, "a reply carries no status");
		fh_answered(c, env->id, p, len);
	}
	if (c->role == FH_ROLE_FAKE)
		fh_fake_answer(c, env);
	codec_free(env);
}

/* Read and check everything the daemon wrote to c so far. */
static void
fh_pump(struct fh_conn *c)
{
	uint8_t			 buf[FH_READ_CHUNK], *payload;
	uint32_t		 plen;
	size_t			 off, used;
	ssize_t			 n;
	enum frame_result	 r;

	while (c->fd != -1 && !c->closed) {
		n = read(c->fd, buf, sizeof buf);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			if (n == 0 && frame_decoder_partial(&c->dec))
				fh_fail(c, NULL, 0, "the daemon closed in the "
				    "middle of a frame");
			c->closed = 1;
			c->host_fd = -1;
			break;
		}
		for (off = 0; off < (size_t)n; off += used) {
			r = frame_decoder_feed(&c->dec, buf + off,
			    (size_t)n - off, &used, &payload, &plen);
			if (r == FRAME_ERROR)
				fh_fail(c, buf + off, (size_t)n - off, "the "
				    "daemon wrote a bad frame: %s",
				    c->dec.error);
			if (r == FRAME_NEED_MORE)
				break;
			fh_check_frame(c, payload, plen);
			free(payload);
		}
	}
}

/* A pending timer and when it is due. */
struct fh_timer {
	struct event	*ev;
	struct timeval	 tv;
};

/* What one look at the loop's events found. */
struct fh_scan {
	struct timeval	 soon;		/* timers due before this are due */
	int		 busy;		/* something runs on the next turn */
	struct fh_timer	 timers[FH_MAX_TIMERS];
	size_t		 ntimers;
};

/* Bytes waiting to be read on fd. */
static int
fh_unread(int fd)
{
	int	n;

	return (ioctl(fd, FIONREAD, &n) == 0 ? n : 0);
}

/* event_base_foreach_event() callback: due timers, pending I/O. */
static int
fh_scan_cb(const struct event_base *base, const struct event *ev, void *arg)
{
	struct fh_scan	*s = arg;
	struct timeval	 tv;
	evutil_socket_t	 fd = event_get_fd(ev);
	size_t		 i;

	(void)base;
	if (fd == -1 || (event_get_events(ev) & EV_SIGNAL)) {
		if (!event_pending(ev, EV_TIMEOUT, &tv))
			return (0);
		if (timercmp(&tv, &s->soon, <))
			s->busy = 1;
		if (s->ntimers < FH_MAX_TIMERS) {
			s->timers[s->ntimers].ev = (struct event *)ev;
			s->timers[s->ntimers++].tv = tv;
		}
		return (0);
	}
	for (i = 0; i < fh.nconns; i++) {
		if (fh.conns[i].host_fd != fd)
			continue;
		/* Output queued, or input (or our EOF) not yet read. */
		if (event_pending(ev, EV_WRITE, NULL) ||
		    (event_pending(ev, EV_READ, NULL) && (fh.conns[i].shut ||
		    fh_unread(fd) > 0)))
			s->busy = 1;
	}
	return (0);
}

/* Look at the loop: is anything going to run now? */
static void
fh_scan(struct fh_scan *s)
{
	struct timeval	now, soon = { 0, FH_SOON_USEC };

	memset(s, 0, sizeof *s);
	gettimeofday(&now, NULL);
	timeradd(&now, &soon, &s->soon);
	if (event_base_get_num_events(fh.base, EVENT_BASE_COUNT_ACTIVE) > 0)
		s->busy = 1;
	event_base_foreach_event(fh.base, fh_scan_cb, s);
}

/* One turn of the loop, then read what the daemon wrote. */
static void
fh_turn(void)
{
	size_t	i;

	event_base_loop(fh.base, EVLOOP_NONBLOCK);
	for (i = 0; i < fh.nconns; i++)
		fh_pump(&fh.conns[i]);
}

/* Run the daemon (and the scripted peers) until nothing is left to do. */
static void
fh_settle(void)
{
	struct fh_scan	s;
	unsigned int	spins;

	for (spins = 0; spins < FH_MAX_SPINS; spins++) {
		fh_turn();
		fh_scan(&s);
		if (!s.busy)
			return;
	}
	fh_fail(NULL, NULL, 0, "the daemon is still busy after %u loop turns",
	    spins);
}

/*
 * Give every pending timer its virtual due time: the one it had, or, when
 * it was armed since, the virtual now plus the delay it was armed with
 * (real time barely moves during an input).
 */
static void
fh_vtimes(const struct fh_scan *s)
{
	struct fh_vtimer	old[FH_MAX_TIMERS];
	struct timeval		now, d;
	size_t			i, j, nold = fh.nvt;

	memcpy(old, fh.vt, sizeof old);
	gettimeofday(&now, NULL);
	fh.nvt = 0;
	for (i = 0; i < s->ntimers; i++) {
		fh.vt[i].ev = s->timers[i].ev;
		fh.vt[i].real = s->timers[i].tv;
		for (j = 0; j < nold; j++)
			if (old[j].ev == fh.vt[i].ev &&
			    timercmp(&old[j].real, &fh.vt[i].real, ==))
				break;
		if (j < nold)
			fh.vt[i].virt = old[j].virt;
		else {
			if (timercmp(&fh.vt[i].real, &now, <))
				timerclear(&d);
			else
				timersub(&fh.vt[i].real, &now, &d);
			timeradd(&fh.vnow, &d, &fh.vt[i].virt);
		}
		fh.nvt++;
	}
}

/*
 * Let virtual time run to the next timer, if it is due by until: fire it
 * (and any due at the same time) and let the daemon settle.  0 if none.
 */
static int
fh_advance(const struct timeval *until)
{
	struct fh_scan	s;
	struct timeval	first;
	size_t		i;

	fh_scan(&s);
	fh_vtimes(&s);
	for (i = 0; i < fh.nvt; i++)
		if (i == 0 || timercmp(&fh.vt[i].virt, &first, <))
			first = fh.vt[i].virt;
	if (fh.nvt == 0 || timercmp(&first, until, >))
		return (0);
	fh.vnow = first;
	for (i = 0; i < fh.nvt; i++) {
		if (!timercmp(&fh.vt[i].virt, &first, ==))
			continue;
		event_active(fh.vt[i].ev, EV_TIMEOUT, 1);
		/* Pending again later means armed again: a new due time. */
		fh.vt[i].ev = NULL;
	}
	fh_settle();
	return (1);
}

/*
 * Let up to seconds of virtual time pass, timer by timer, while more is
 * true (NULL: always; then all of it passes) and at most FH_MAX_TICKS
 * timers fire.
 */
static void
fh_pass(time_t seconds, int (*more)(void))
{
	struct timeval	until, d = { seconds, 0 };
	unsigned int	i;

	timeradd(&fh.vnow, &d, &until);
	for (i = 0; i < FH_MAX_TICKS && (more == NULL || more()); i++) {
		if (!fh_advance(&until)) {
			if (more == NULL)
				fh.vnow = until;
			break;
		}
	}
}

/* A new connection: a guest session of vm, or a control connection. */
static struct fh_conn *
fh_open(enum fh_role role, const char *name, enum fuzzhost_channel ch,
    const char *vm)
{
	struct fh_conn	*c;
	struct reg_vm	*v;
	int		 sv[2];

	if (fh.nconns == FH_MAX_CONNS)
		fatalx("%s: too many connections", __func__);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		fatal("%s: socketpair", __func__);
	c = &fh.conns[fh.nconns++];
	memset(c, 0, sizeof *c);
	c->role = role;
	c->name = name;
	c->fd = sv[0];
	c->host_fd = sv[1];
	c->cap = ch == FUZZHOST_GUEST ? fh.cf.max_frame_guest :
	    fh.cf.max_frame_control;
	frame_decoder_init(&c->dec, c->cap);
	if (ch == FUZZHOST_CONTROL)
		server_adopt_control(&fh.srv, sv[1]);
	else if ((v = registry_find(fh.reg, vm)) != NULL && v->rt != NULL)
		server_adopt_guest(&fh.srv, v, sv[1]);
	else
		fatalx("%s: no VM %s", __func__, vm);
	return (c);
}

/* Send a valid Hello with role. */
static void
fh_hello(struct fh_conn *c, Evg__Role role)
{
	Evg__Envelope	env = EVG__ENVELOPE__INIT;
	Evg__Hello	h = EVG__HELLO__INIT;

	h.min_version = PROTO_VERSION_MIN;
	h.max_version = PROTO_VERSION_MAX;
	h.role = role;
	h.software = (char *)"fuzzhost";
	env.body_case = EVG__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	fh_send(c, 0, &env);
	fh_settle();
}

/* Shut our write side: the daemon reads EOF. */
static void
fh_shut(struct fh_conn *c)
{
	if (c->fd != -1 && !c->shut) {
		shutdown(c->fd, SHUT_WR);
		c->shut = 1;
	}
}

/*
 * Deliver the fuzzed stream a frame at a time (as its headers say), the
 * daemon settling after each; the unframed rest goes in one piece.
 */
static void
fh_stream(struct fh_conn *c, const uint8_t *p, size_t len)
{
	Evg__Envelope	*env;
	struct fh_id	*r;
	uint32_t	 flen = 0;
	size_t		 chunk;
	int		 whole;
	char		 err[160];

	while (len > 0 && !c->closed) {
		chunk = len;
		whole = 0;
		if (len >= FRAME_HEADER_SIZE) {
			flen = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			    (uint32_t)p[2] << 8 | p[3];
			if (flen <= c->cap && flen <= len - FRAME_HEADER_SIZE) {
				chunk = FRAME_HEADER_SIZE + flen;
				whole = 1;
			}
		}
		/*
		 * What the daemon answers: a request (not a reply), or the
		 * first message, whatever it is (the handshake refuses it).
		 */
		env = whole ? codec_unpack(p + FRAME_HEADER_SIZE, flen, err,
		    sizeof err) : NULL;
		if (env != NULL && (env->body_case !=
		    EVG__ENVELOPE__BODY_REPLY || !c->greeted) &&
		    (r = fh_id(c, env->id)) != NULL)
			r->sent++;
		if (env != NULL)
			c->greeted = 1;
		codec_free(env);
		fh_write(c, p, chunk);
		p += chunk;
		len -= chunk;
		fh_settle();
		if (fh.mode & FH_TICK)
			fh_pass(FH_TICK_SECONDS, NULL);
	}
}

/* An observer expects exactly one answer to each of its requests. */
static void
fh_expect_answers(struct fh_conn *c)
{
	size_t	i;

	for (i = 0; i < c->nids; i++)
		if (c->ids[i].sent != c->ids[i].answered)
			fh_fail(c, NULL, 0, "request %llu was sent %u times "
			    "and answered %u times",
			    (unsigned long long)c->ids[i].id, c->ids[i].sent,
			    c->ids[i].answered);
}

/* The observer: a well-behaved control client that reads everything. */
static void
fh_observe(void)
{
	struct fh_conn		*c;
	Evg__Envelope		 env = EVG__ENVELOPE__INIT;
	Evg__EventsRequest	 ev = EVG__EVENTS_REQUEST__INIT;
	Evg__SnapshotListRequest sl = EVG__SNAPSHOT_LIST_REQUEST__INIT;
	Evg__VmListRequest	 vl = EVG__VM_LIST_REQUEST__INIT;

	c = fh_open(FH_ROLE_OBSERVER, "observer", FUZZHOST_CONTROL, NULL);
	fh_hello(c, EVG__ROLE__ROLE_CONTROL);
	env.body_case = EVG__ENVELOPE__BODY_EVENTS;
	env.events = &ev;
	fh_send(c, 1, &env);
	env.body_case = EVG__ENVELOPE__BODY_SNAPSHOT_LIST;
	env.snapshot_list = &sl;
	sl.vm_uuid = (char *)FH_VM_RUNNING;
	fh_send(c, 2, &env);
	sl.vm_uuid = (char *)FH_VM_STOPPED;
	fh_send(c, 3, &env);
	env.body_case = EVG__ENVELOPE__BODY_VM_LIST;
	env.vm_list = &vl;
	fh_send(c, 4, &env);
	fh_settle();
	fh_expect_answers(c);
}

/*
 * A controller asks for web-01's guest info, then an app-consistent
 * snapshot (both answered by the end): the guest daemon is asked for its
 * facts, then its pre hooks, freeze, ..., post hooks.
 */
static struct fh_conn *
fh_controller(void)
{
	struct fh_conn			*c;
	Evg__Envelope			 env = EVG__ENVELOPE__INIT;
	Evg__GuestInfoRequest		 gi = EVG__GUEST_INFO_REQUEST__INIT;
	Evg__SnapshotCreateRequest	 cr =
	    EVG__SNAPSHOT_CREATE_REQUEST__INIT;

	c = fh_open(FH_ROLE_OBSERVER, "controller", FUZZHOST_CONTROL, NULL);
	fh_hello(c, EVG__ROLE__ROLE_CONTROL);
	gi.vm_uuid = (char *)FH_VM_RUNNING;
	env.body_case = EVG__ENVELOPE__BODY_VM_GUEST_INFO;
	env.vm_guest_info = &gi;
	fh_send(c, 1, &env);
	cr.vm_uuid = (char *)FH_VM_RUNNING;
	cr.name = (char *)"controller's";
	cr.consistency = (char *)"app";
	cr.hook_timeout_ms = fh.config & FC_LONG_HOOKS ? 600000 : 0;
	env.body_case = EVG__ENVELOPE__BODY_SNAPSHOT_CREATE;
	env.snapshot_create = &cr;
	fh_send(c, 2, &env);
	fh_settle();
	return (c);
}

/* The fake backend: answers at once (from the loop) as the input says. */
static int
fh_backend_start(struct backend_op *op)
{
	struct wf_vm	*wv;
	struct cat_snap	*cs;
	uint8_t		 b = fh.backend;
	int		 fail = 0;
	size_t		 n;

	switch (op->req.verb) {
	case BACKEND_SPACE:
		fail = b & FB_SPACE_FAIL;
		op->res.free_bytes = (b & FB_NO_SPACE ? 1 : 102400) * FH_MIB;
		op->res.need_bytes = 48 * FH_MIB;
		op->res.where = xstrdup(op->vol.locator);
		break;
	case BACKEND_CREATE:
		fail = b & FB_CREATE_FAIL;
		op->res.size = 48 * FH_MIB;
		break;
	case BACKEND_DELETE:
		fail = b & FB_DELETE_FAIL;
		break;
	case BACKEND_ROLLBACK:
		fail = b & FB_ROLLBACK_FAIL;
		break;
	case BACKEND_LIST:
		if ((fail = b & FB_LIST_FAIL))
			break;
		/* The backend holds what the catalogs say it does. */
		n = 0;
		TAILQ_FOREACH(wv, &wf_g.vms, entry)
			TAILQ_FOREACH(cs, &wv->cat->snaps, entry)
				if (strcasecmp(cs->volume, op->vol.uuid) == 0 &&
				    (n++ > 0 || !(b & FB_LIST_ODD)))
					backend_result_add(&op->res, cs->tag,
					    NULL, cs->name, cs->created,
					    cs->size);
		if (b & FB_LIST_ODD)
			backend_result_add(&op->res, "fuzz-adopted", NULL,
			    "made behind the host's back", 1700000000, 4096);
		break;
	}
	if (fail)
		backend_finish(op, EVG_BACKEND_ERROR, "fake %s of '%s' failed",
		    backend_verb_name(op->req.verb), op->vol.name);
	else
		backend_finish(op, EVG_OK, NULL);
	return (0);
}

/* nftw() callback: remove everything under the state directory. */
static int
fh_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	if (ftw->level == 0)
		return (0);
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) == -1)
		fatal("%s: remove %s", __func__, path);
	return (0);
}

/* Write len bytes to path (the state directory is private). */
static void
fh_write_file(const char *path, const void *data, size_t len)
{
	int	fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || write(fd, data, len) != (ssize_t)len ||
	    close(fd) == -1)
		fatal("%s: %s", __func__, path);
}

/* Remember a fixture file as the code wrote it. */
static void
fh_keep_file(struct fh_file *f, const char *path)
{
	struct stat	 sb;
	int		 fd;

	f->path = xstrdup(path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1)
		fatal("%s: %s", __func__, path);
	f->len = (size_t)sb.st_size;
	f->data = xmalloc(f->len + 1);
	if (read(fd, f->data, f->len) != (ssize_t)f->len)
		fatal("%s: read %s", __func__, path);
	close(fd);
}

/* Register one fixture VM. */
static void
fh_fixture_vm(const char *uuid, const char *name, unsigned int cid,
    const char *hybrid, const char *qmp, const char *state,
    Evg__Volume **vols, size_t nvols)
{
	Evg__VmInfo	 vi = EVG__VM_INFO__INIT;
	struct reg_vm	*vm;
	char		*cause;

	vi.uuid = (char *)uuid;
	vi.name = (char *)name;
	vi.cid = cid;
	vi.hybrid_socket = (char *)hybrid;
	vi.qmp = (char *)qmp;
	vi.state = (char *)state;
	vi.volumes = vols;
	vi.n_volumes = nvols;
	vm = vminfo_to_reg(&vi);
	if (registry_add(fh.reg, vm, &cause) != EVG_OK)
		fatalx("fixture vm %s: %s", name, cause);
}

/* One fixture snapshot, committed with its catalog by the caller. */
static void
fh_fixture_snap(struct catalog *cat, const char *uuid, const char *name,
    const char *volume, enum snap_state state)
{
	struct cat_snap	*cs;

	cs = catalog_add(cat, uuid, name, volume, uuid, "guest");
	cs->created = 1764164400;
	cs->size = 48 * FH_MIB;
	cs->state = state;
	free(cs->consistency);
	cs->consistency = xstrdup("fs");
	cs->freeze_ms = 3;
	catalog_add_mount(cs, "/data", "ext4", "/dev/vdb", "frozen", NULL);
}

/* Write a fixture catalog and remember its file. */
static void
fh_fixture_catalog(struct fh_file *f, const char *vm, int which)
{
	struct catalog	*cat;
	char		*cause, *path;

	if ((cat = catalog_open(fh.catdir, vm, &cause)) == NULL)
		fatalx("fixture catalog: %s", cause);
	if (which == 0) {
		fh_fixture_snap(cat, FH_SNAP_DATA, "Weekly backup",
		    FH_VOL_DATA, SNAP_READY);
		fh_fixture_snap(cat, FH_SNAP_LOGS, "Weekly backup",
		    FH_VOL_LOGS, SNAP_READY);
		fh_fixture_snap(cat, FH_SNAP_MISSING, "nightly", FH_VOL_DATA,
		    SNAP_MISSING);
		fh_fixture_snap(cat, FH_SNAP_CREATING, "in-flight",
		    FH_VOL_DATA, SNAP_CREATING);
	} else
		fh_fixture_snap(cat, FH_SNAP_DB, "before-upgrade", FH_VOL_DB,
		    SNAP_READY);
	if (catalog_commit(cat, &cause) != 0)
		fatalx("fixture catalog: %s", cause);
	/* The commit went to the journal: a close writes the file whole. */
	catalog_close(cat);
	xasprintf(&path, "%s/%s.json", fh.catdir, vm);
	fh_keep_file(f, path);
	free(path);
}

/* Build the fixture with the daemon's own code and keep its files. */
static void
fh_fixture(void)
{
	Evg__DiskId	 d_serial = EVG__DISK_ID__INIT;
	Evg__DiskId	 d_pci = EVG__DISK_ID__INIT;
	Evg__DiskId	 d_wwn = EVG__DISK_ID__INIT;
	Evg__DiskId	 d_back = EVG__DISK_ID__INIT;
	char		*why;
	Evg__DiskId	 d_pci2 = EVG__DISK_ID__INIT;
	Evg__DiskId	*data_ids[] = { &d_serial, &d_pci };
	Evg__DiskId	*logs_ids[] = { &d_wwn };
	Evg__DiskId	*db_ids[] = { &d_back, &d_pci2 };
	Evg__Volume	 data = EVG__VOLUME__INIT, logs = EVG__VOLUME__INIT;
	Evg__Volume	 db = EVG__VOLUME__INIT;
	Evg__Volume	*web_vols[] = { &data, &logs }, *db_vols[] = { &db };

	d_serial.kind = (char *)"serial";
	d_serial.value = (char *)FH_SERIAL_DATA;
	d_pci.kind = (char *)"pci";
	d_pci.value = (char *)FH_PCI_DATA;
	d_wwn.kind = (char *)"wwn";
	d_wwn.value = (char *)FH_WWN_LOGS;
	d_back.kind = (char *)"backing";
	d_back.value = (char *)FH_BACKING_DB;
	d_pci2.kind = (char *)"pci";
	d_pci2.value = (char *)"0000:05:00.0";
	data.uuid = (char *)FH_VOL_DATA;
	data.name = (char *)"data";
	data.backend = (char *)"qcow2";
	data.locator = (char *)"/persist/vault/volumes/" FH_VOL_DATA "#0.qcow2";
	data.node = (char *)"drive-virtio-disk1";
	data.disks = data_ids;
	data.n_disks = 2;
	logs.uuid = (char *)FH_VOL_LOGS;
	logs.name = (char *)"logs";
	logs.backend = (char *)"zfs";
	logs.locator = (char *)"persist/vault/volumes/" FH_VOL_LOGS ".0";
	logs.disks = logs_ids;
	logs.n_disks = 1;
	db.uuid = (char *)FH_VOL_DB;
	db.name = (char *)"db";
	db.backend = (char *)"qcow2";
	db.locator = (char *)"/persist/vault/volumes/" FH_VOL_DB "#0.qcow2";
	db.disks = db_ids;
	db.n_disks = 2;

	fh.reg = registry_create(fh.regpath);
	fh_fixture_vm(FH_VM_RUNNING, "web-01", 0, "/run/eve-fuzz/web-01.vsock",
	    "/run/eve-fuzz/web-01.qmp", "running", web_vols, 2);
	fh_fixture_vm(FH_VM_STOPPED, "db-02", 5, NULL, NULL, "stopped", db_vols,
	    1);
	registry_free(fh.reg);
	/* The adds went to the journal: a load writes the file whole. */
	fh.reg = registry_create(fh.regpath);
	if (registry_load(fh.reg, &why) != 0)
		fatalx("%s: %s", __func__, why);
	registry_free(fh.reg);
	fh.reg = NULL;
	fh_keep_file(&fh.files[0], fh.regpath);
	fh_fixture_catalog(&fh.files[1], FH_VM_RUNNING, 0);
	fh_fixture_catalog(&fh.files[2], FH_VM_STOPPED, 1);
}

/* Start an input from the fixture: files, registry, workflows, server. */
static void
fh_reset(void)
{
	struct reg_vm	*vm;
	char		*cause, *tmp;
	size_t		 i;

	if (nftw(fh.dir, fh_rm_cb, 8, FTW_DEPTH | FTW_PHYS) == -1)
		fatal("%s: nftw %s", __func__, fh.dir);
	if (mkdir(fh.catdir, 0700) == -1)
		fatal("%s: mkdir %s", __func__, fh.catdir);
	for (i = 0; i < sizeof fh.files / sizeof fh.files[0]; i++) {
		fh_write_file(fh.files[i].path, fh.files[i].data,
		    fh.files[i].len);
		/* atomicfile_write() cannot make its temporary file. */
		xasprintf(&tmp, "%s.tmp.%ld", fh.files[i].path,
		    (long)getpid());
		if ((fh.config & FC_WRITES_FAIL) && mkdir(tmp, 0700) == -1)
			fatal("%s: mkdir %s", __func__, tmp);
		free(tmp);
		/*
		 * Nor can a catalog's journal be made: read as missing, but
		 * never created (its target's directory does not exist).
		 */
		xasprintf(&tmp, "%s.journal", fh.files[i].path);
		if (i > 0 && (fh.config & FC_WRITES_FAIL) &&
		    symlink("/nonexistent-evg-fuzz/journal", tmp) == -1)
			fatal("%s: symlink %s", __func__, tmp);
		free(tmp);
	}
	fh.reg = registry_create(fh.regpath);
	if (registry_load(fh.reg, &cause) != 0)
		fatalx("%s: %s", __func__, cause);
	/* Nor can the registry's journal be appended to. */
	xasprintf(&tmp, "%s.journal", fh.regpath);
	if ((fh.config & FC_WRITES_FAIL) && (unlink(tmp) == -1 ?
	    errno != ENOENT : 0))
		fatal("%s: unlink %s", __func__, tmp);
	if ((fh.config & FC_WRITES_FAIL) && mkdir(tmp, 0700) == -1)
		fatal("%s: mkdir %s", __func__, tmp);
	free(tmp);
	if (workflow_init(fh.base, &fh.cf, fh.reg, &fh.srv.guests.link,
	    &cause) != 0)
		fatalx("%s: %s", __func__, cause);
	server_init(&fh.srv, fh.base, &fh.cf, fh.reg, &fh_dispatch);
	TAILQ_FOREACH(vm, &fh.reg->vms, entry)
		if (server_vm_attach(&fh.srv, vm, &cause) != 0)
			fatalx("%s: %s", __func__, cause);
	fh.nconns = 0;
	timerclear(&fh.vnow);
	fh.nvt = 0;
}

/* True while a workflow runs. */
static int
fh_workflows(void)
{
	return (!TAILQ_EMPTY(&wf_g.all));
}

/* True while the fuzzed peer's connection is open. */
static int
fh_fuzzed_open(void)
{
	return (!fh.conns[fh.fuzzed].closed);
}

/* End an input: nothing may be left running, registered or stuck. */
static void
fh_teardown(void)
{
	struct workflow	*wf;
	size_t		 i;
	int		 n;

	for (i = 0; i < fh.nconns; i++)
		fh_shut(&fh.conns[i]);
	fh_settle();
	for (i = 0; i < fh.nconns; i++) {
		if (!fh.conns[i].closed)
			fh_fail(&fh.conns[i], NULL, 0, "the daemon keeps a "
			    "connection open after its peer hung up");
		frame_decoder_reset(&fh.conns[i].dec);
		close(fh.conns[i].fd);
	}
	if (!TAILQ_EMPTY(&fh.srv.guests.list) ||
	    !TAILQ_EMPTY(&fh.srv.controls.list))
		fh_fail(NULL, NULL, 0, "the server still lists a connection");
	/* A slow backend finishes once its time has passed. */
	fh_pass(FH_FOREVER, fh_workflows);
	if ((wf = TAILQ_FIRST(&wf_g.all)) != NULL)
		fh_fail(NULL, NULL, 0, "a snapshot %s of VM %s is still "
		    "running (state %d) with no connection left and no "
		    "timer to wait for", wf_kind_names[wf->kind], wf->wv->uuid,
		    wf_state_value(wf));
	workflow_shutdown();
	events_shutdown();
	server_stop(&fh.srv);
	registry_free(fh.reg);
	fh.reg = NULL;
	n = event_base_get_num_events(fh.base, EVENT_BASE_COUNT_ADDED |
	    EVENT_BASE_COUNT_ACTIVE);
	if (n != 0)
		fh_fail(NULL, NULL, 0, "%d libevent events are left after "
		    "the server stopped", n);
}

/* Remove the state directory at exit. */
static void
fh_cleanup(void)
{
	if (fh.dir != NULL) {
		nftw(fh.dir, fh_rm_cb, 8, FTW_DEPTH | FTW_PHYS);
		rmdir(fh.dir);
	}
}

/* Set up once; see fuzzhost.h. */
void
fuzzhost_init(enum fuzzhost_channel ch, void (*seeds)(const char *))
{
	struct event_config	*ec;
	const char		*tmp;
	char			*tmpl;

	if ((tmp = getenv("EVG_FUZZ_SEEDS")) != NULL) {
		seeds(tmp);
		exit(0);
	}

	fh.ch = ch;
	if (getenv("EVG_FUZZ_LOG") != NULL)
		log_init("fuzzhost", LOG_TO_STDERR, 2);
	else {
		/* Formatted and escaped as ever, never written. */
		log_init("fuzzhost", LOG_TO_STDERR, 2);
		log_hold(1);
	}
	signal(SIGPIPE, SIG_IGN);
	tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" :
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	xasprintf(&tmpl, "%s/evg-fuzzhost.XXXXXX", tmp);
	if ((fh.dir = mkdtemp(tmpl)) == NULL)
		fatal("mkdtemp %s", tmpl);
	atexit(fh_cleanup);
	xasprintf(&fh.catdir, "%s/%s", fh.dir, CATALOG_DIR);
	xasprintf(&fh.regpath, "%s/%s", fh.dir, REGISTRY_FILE);
	if (mkdir(fh.catdir, 0700) == -1)
		fatal("mkdir %s", fh.catdir);

	config_defaults(&fh.cf);
	fh.cf.state_dir = xstrdup(fh.dir);
	free(fh.cf.control_socket);
	xasprintf(&fh.cf.control_socket, "%s/control.sock", fh.dir);
	fh.cf.vsock = 0;
	fh.cf.control_uids[0] = getuid();
	fh.cf.ncontrol_uids = 1;
	fh.defaults = fh.cf;

	/* Timers armed a moment apart must differ (virtual time). */
	if ((ec = event_config_new()) == NULL ||
	    event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER) != 0 ||
	    (fh.base = event_base_new_with_config(ec)) == NULL)
		fatalx("event_base_new_with_config failed");
	event_config_free(ec);
	backend_fake_start = fh_backend_start;
	fh_fixture();
}

/* Run one input; see fuzzhost.h. */
void
fuzzhost_input(const uint8_t *data, size_t size)
{
	struct fh_conn	*fz, *ctl = NULL;
	Evg__Role	 role;

	if (size < FH_HEADER)
		return;
	fh.mode = data[0];
	fh.backend = data[1];
	fh.config = data[2];
	fh.cf.max_frame_guest = fh_caps[fh.config & 0x03][0];
	fh.cf.max_frame_control = fh_caps[(fh.config >> 2) & 0x03][1];
	fh.cf.max_parallel_ops = fh.config & FC_ONE_OP ? 1 :
	    fh.defaults.max_parallel_ops;
	fh.cf.max_conns_per_vm = fh.config & FC_ONE_CONN ? 1 :
	    fh.defaults.max_conns_per_vm;
	/* The daemon's own test hook delays backend creates. */
	if (fh.backend & FB_SLOW)
		setenv("EVG_TEST_BACKEND_DELAY_MS", FH_STR(FH_SLOW_MS), 1);
	else
		unsetenv("EVG_TEST_BACKEND_DELAY_MS");
	fh_reset();
	if (fh.mode & FH_FAKE_DAEMON)
		fh_hello(fh_open(FH_ROLE_FAKE, "scripted guest daemon",
		    FUZZHOST_GUEST, FH_VM_RUNNING),
		    EVG__ROLE__ROLE_GUEST_DAEMON);
	fh.fuzzed = fh.nconns;
	fz = fh_open(FH_ROLE_FUZZED, "fuzzed peer", fh.ch,
	    fh.mode & FH_STOPPED ? FH_VM_STOPPED : FH_VM_RUNNING);
	if (fh.mode & FH_HELLO) {
		role = fh.ch == FUZZHOST_CONTROL ? EVG__ROLE__ROLE_CONTROL :
		    fh.mode & FH_DAEMON ? EVG__ROLE__ROLE_GUEST_DAEMON :
		    EVG__ROLE__ROLE_GUEST_CLI;
		fh_hello(fz, role);
	}
	if (fh.mode & FH_CONTROLLER)
		ctl = fh_controller();
	fh_stream(fz, data + FH_HEADER, size - FH_HEADER);
	if (fh.mode & FH_DRAIN_TIME)
		fh_pass(FH_FOREVER, fh_fuzzed_open);
	fh_shut(fz);
	fh_settle();
	if (!fz->closed)
		fh_fail(fz, NULL, 0, "the daemon keeps a connection open after "
		    "its peer hung up");
	if (ctl != NULL) {
		fh_pass(FH_FOREVER, fh_workflows);
		fh_expect_answers(ctl);
	}
	fh_observe();
	fh_teardown();
}

/* Start a seed; see fuzzhost.h. */
void
fuzzhost_seed_begin(struct fuzzhost_seed *s, uint8_t mode, uint8_t backend,
    uint8_t config)
{
	s->buf = xmalloc(FH_HEADER);
	s->buf[0] = mode;
	s->buf[1] = backend;
	s->buf[2] = config;
	s->len = FH_HEADER;
}

/* Append a frame; see fuzzhost.h. */
void
fuzzhost_seed_add(struct fuzzhost_seed *s, uint64_t id, Evg__Envelope *env)
{
	uint8_t	*buf;
	size_t	 len;
	char	*cause;

	env->id = id;
	env->version = PROTO_VERSION_MAX;
	if ((buf = codec_frame(env, FRAME_MAX_CONTROL, &len, &cause)) == NULL)
		fatalx("%s: %s", __func__, cause);
	s->buf = xreallocarray(s->buf, s->len + len, 1);
	memcpy(s->buf + s->len, buf, len);
	s->len += len;
	free(buf);
}

/* Write and free a seed; see fuzzhost.h. */
void
fuzzhost_seed_write(struct fuzzhost_seed *s, const char *dir, const char *name)
{
	char	*path;

	xasprintf(&path, "%s/%s", dir, name);
	fh_write_file(path, s->buf, s->len);
	free(path);
	free(s->buf);
	s->buf = NULL;
	s->len = 0;
}
