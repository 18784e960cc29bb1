/* Framed, event-driven connections with caps on input and output. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "codec.h"
#include "frame.h"
#include "log.h"
#include "peer.h"
#include "text.h"
#include "status.h"
#include "xmalloc.h"

#define PEER_READ_CHUNK	16384
/* A closing peer that does not take its last output is dropped after this. */
#define PEER_CLOSE_SECONDS	5

enum peer_state {
	PEER_OPEN,		/* reading and writing */
	PEER_CLOSING,		/* no more reading; flushing output */
	PEER_DEAD,		/* NULL dispatch done or pending */
};

struct peer {
	struct event_base	*base;
	int			 fd;
	char			*name;
	enum peer_state		 state;
	uint32_t		 version;
	size_t			 max_output;
	struct frame_decoder	 dec;
	struct evbuffer		*out;
	struct event		*ev_read;
	struct event		*ev_write;
	struct event		*ev_lost;
	struct event		*ev_linger;
	peer_dispatch_cb	 dispatch;
	void			*arg;
	char			 reason[256];
};

static void	peer_read_cb(evutil_socket_t, short, void *);
static void	peer_write_cb(evutil_socket_t, short, void *);
static void	peer_lost_cb(evutil_socket_t, short, void *);
static void	peer_linger_cb(evutil_socket_t, short, void *);

/* Wrap fd as a peer; see peer.h. */
struct peer *
peer_create(struct event_base *base, int fd, const char *name,
    uint32_t max_frame, size_t max_output, peer_dispatch_cb dispatch,
    void *arg)
{
	struct peer	*p;

	p = xcalloc(1, sizeof *p);
	p->base = base;
	p->fd = fd;
	p->name = xstrdup(name);
	p->state = PEER_OPEN;
	p->max_output = max_output;
	p->dispatch = dispatch;
	p->arg = arg;
	frame_decoder_init(&p->dec, max_frame);
	if ((p->out = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	p->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, peer_read_cb, p);
	p->ev_write = event_new(base, fd, EV_WRITE, peer_write_cb, p);
	p->ev_lost = event_new(base, -1, 0, peer_lost_cb, p);
	p->ev_linger = evtimer_new(base, peer_linger_cb, p);
	if (p->ev_read == NULL || p->ev_write == NULL || p->ev_lost == NULL ||
	    p->ev_linger == NULL)
		fatalx("%s: event_new failed", __func__);
	event_add(p->ev_read, NULL);
	return (p);
}

/* Free the peer and close its fd. */
void
peer_free(struct peer *p)
{
	if (p == NULL)
		return;
	event_free(p->ev_read);
	event_free(p->ev_write);
	event_free(p->ev_lost);
	event_free(p->ev_linger);
	evbuffer_free(p->out);
	frame_decoder_reset(&p->dec);
	close(p->fd);
	free(p->name);
	free(p);
}

/* Set why the peer is going away, unless a reason is already set. */
void
peer_set_close_reason(struct peer *p, const char *fmt, ...)
{
	va_list	ap;

	if (p->reason[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof p->reason, fmt, ap);
	va_end(ap);
}

/* The reason recorded for closing, or "" while open. */
const char *
peer_close_reason(const struct peer *p)
{
	return (p->reason);
}

/* Schedule the NULL dispatch from the event loop, never re-entrantly. */
static void
peer_lost(struct peer *p)
{
	if (p->state == PEER_DEAD)
		return;
	p->state = PEER_DEAD;
	event_del(p->ev_read);
	event_del(p->ev_write);
	event_del(p->ev_linger);
	event_active(p->ev_lost, 0, 0);
}

/* Deliver the NULL dispatch; the owner frees the peer in it. */
static void
peer_lost_cb(evutil_socket_t fd, short events, void *arg)
{
	struct peer	*p = arg;

	(void)fd;
	(void)events;
	p->dispatch(p, NULL, p->arg);
}

/* A closing peer did not take its output in time: drop it. */
static void
peer_linger_cb(evutil_socket_t fd, short events, void *arg)
{
	struct peer	*p = arg;

	(void)fd;
	(void)events;
	log_warnx("%s: %zu bytes not taken within %d s of closing; dropping",
	    p->name, evbuffer_get_length(p->out), PEER_CLOSE_SECONDS);
	peer_lost(p);
}

/* Begin an orderly close: stop reading and flush, within a deadline. */
void
peer_close(struct peer *p)
{
	struct timeval	tv = { PEER_CLOSE_SECONDS, 0 };

	if (p->state != PEER_OPEN)
		return;
	p->state = PEER_CLOSING;
	event_del(p->ev_read);
	if (evbuffer_get_length(p->out) == 0)
		peer_lost(p);
	else {
		event_add(p->ev_write, NULL);
		evtimer_add(p->ev_linger, &tv);
	}
}

/* Answer a protocol error with a reply, log a sample, then close. */
static void
peer_protocol_error(struct peer *p, const char *why, const uint8_t *sample,
    size_t len)
{
	char	esc[96];

	log_escape(esc, sizeof esc, sample, len > 24 ? 24 : len);
	log_warnx("%s: protocol error: %s (first bytes \"%s\"); closing",
	    p->name, why, esc);
	peer_set_close_reason(p, "protocol error: %s", why);
	peer_reply(p, 0, EVG_INVALID_ARGUMENT, why);
	peer_close(p);
}

/* Read what is available and dispatch every whole frame. */
static void
peer_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct peer		*p = arg;
	uint8_t			 buf[PEER_READ_CHUNK], *payload;
	uint32_t		 plen;
	size_t			 off = 0, used;
	ssize_t			 n;
	enum frame_result	 fr;
	Evg__Envelope		*env;
	char			 err[160];

	(void)events;
	n = read(fd, buf, sizeof buf);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		peer_set_close_reason(p, "read: %s", strerror(errno));
		peer_lost(p);
		return;
	}
	if (n == 0) {
		if (frame_decoder_partial(&p->dec))
			peer_set_close_reason(p, "connection closed in the "
			    "middle of a frame (truncated frame)");
		else
			peer_set_close_reason(p, "connection closed by peer");
		if (frame_decoder_partial(&p->dec))
			log_warnx("%s: %s", p->name, p->reason);
		peer_lost(p);
		return;
	}
	while (off < (size_t)n && p->state == PEER_OPEN) {
		fr = frame_decoder_feed(&p->dec, buf + off, (size_t)n - off,
		    &used, &payload, &plen);
		if (fr == FRAME_ERROR) {
			peer_protocol_error(p, p->dec.error, buf + off,
			    (size_t)n - off);
			return;
		}
		off += used;
		if (fr == FRAME_NEED_MORE)
			break;
		env = codec_unpack(payload, plen, err, sizeof err);
		if (env == NULL) {
			peer_protocol_error(p, err, payload, plen);
			free(payload);
			return;
		}
		free(payload);
		if (p->version != 0 && env->version != p->version) {
			snprintf(err, sizeof err, "message carries protocol "
			    "version %u, this connection uses %u",
			    env->version, p->version);
			codec_free(env);
			peer_protocol_error(p, err, NULL, 0);
			return;
		}
		p->dispatch(p, env, p->arg);
		codec_free(env);
	}
}

/* Write queued output; finish a close once it is flushed. */
static void
peer_write_cb(evutil_socket_t fd, short events, void *arg)
{
	struct peer	*p = arg;
	int		 n;

	(void)events;
	n = evbuffer_write(p->out, fd);
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		peer_set_close_reason(p, "write: %s", strerror(errno));
		peer_lost(p);
		return;
	}
	if (evbuffer_get_length(p->out) != 0)
		event_add(p->ev_write, NULL);
	else if (p->state == PEER_CLOSING)
		peer_lost(p);
}

/*
 * A reply over the frame cap only because of a long status message (it
 * may quote a guest): frame it with the message cut to fit, so the
 * request is still answered.  NULL when that is not the case.
 */
static uint8_t *
peer_frame_cut(struct peer *p, Evg__Envelope *env, size_t *len)
{
	Evg__Status	*st;
	char		*orig, *cut, *cause;
	size_t		 plen, mlen, over;
	uint8_t		*buf;

	if (env->body_case != EVG__ENVELOPE__BODY_REPLY ||
	    env->reply == NULL || (st = env->reply->status) == NULL ||
	    st->message == NULL)
		return (NULL);
	plen = evg__envelope__get_packed_size(env);
	mlen = strlen(st->message);
	/* Room for the mark and a few bytes of length prefixes. */
	over = plen > p->dec.max ? plen - p->dec.max + 16 : 16;
	orig = st->message;
	buf = NULL;
	/* Halve what is left while other repaired strings still overflow. */
	while (buf == NULL && mlen > over) {
		cut = text_cut(text_utf8_fix(orig, strlen(orig)), mlen - over);
		st->message = cut;
		buf = codec_frame(env, p->dec.max, len, &cause);
		st->message = orig;
		free(cut);
		if (buf == NULL)
			free(cause);
		over += (mlen - over) / 2 + 1;
	}
	return (buf);
}

/* Queue an envelope; see peer.h. */
int
peer_send(struct peer *p, Evg__Envelope *env)
{
	uint8_t	*buf;
	size_t	 len, queued;
	char	*cause;

	if (p->state == PEER_DEAD)
		return (-1);
	env->version = p->version != 0 ? p->version : PROTO_VERSION_MAX;
	buf = codec_frame(env, p->dec.max, &len, &cause);
	if (buf == NULL && (buf = peer_frame_cut(p, env, &len)) != NULL) {
		log_warnx("%s: %s; sent with its message cut", p->name, cause);
		free(cause);
	}
	if (buf == NULL) {
		log_warnx("%s: %s", p->name, cause);
		free(cause);
		return (-1);
	}
	if (evbuffer_get_length(p->out) + len > p->max_output) {
		free(buf);
		log_warnx("%s: peer is not reading (%zu bytes queued, cap %zu); "
		    "dropping it", p->name, evbuffer_get_length(p->out),
		    p->max_output);
		peer_set_close_reason(p, "output cap exceeded");
		peer_lost(p);
		return (-1);
	}
	queued = evbuffer_get_length(p->out);
	evbuffer_add(p->out, buf, len);
	free(buf);
	/*
	 * Written now, not a loop pass later, when nothing is queued ahead
	 * (a reply, a freeze or a thaw goes out when it is ready).  Whatever
	 * is left (a short write, or one that failed: its error comes back
	 * there) is for the write callback, so the peer is never lost under
	 * its caller.
	 */
	if (queued == 0 && p->state == PEER_OPEN)
		(void)evbuffer_write(p->out, p->fd);
	if (evbuffer_get_length(p->out) != 0)
		event_add(p->ev_write, NULL);
	return (0);
}

/* Queue a reply carrying only a status. */
int
peer_reply(struct peer *p, uint64_t id, unsigned int code, const char *msg)
{
	struct codec_reply	r;

	codec_reply_init(&r, id, p->version, code, msg);
	return (peer_send(p, &r.env));
}

/* Fix the version of the connection after the handshake. */
void
peer_set_version(struct peer *p, uint32_t v)
{
	p->version = v;
}

/* Negotiated version, 0 before the handshake. */
uint32_t
peer_version(const struct peer *p)
{
	return (p->version);
}

/* Frame cap of the channel (input and output alike). */
size_t
peer_frame_max(const struct peer *p)
{
	return (p->dec.max);
}

/* Name used in log lines. */
const char *
peer_name(const struct peer *p)
{
	return (p->name);
}

/* The socket. */
int
peer_fd(const struct peer *p)
{
	return (p->fd);
}

/* True once closing or lost. */
int
peer_closing(const struct peer *p)
{
	return (p->state != PEER_OPEN);
}
