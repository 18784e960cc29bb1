/*
 * evg-wire: a raw-frame client for integration tests.  It connects to a
 * Unix socket of eve-guest-hostd and sends what a well-behaved client never
 * would, or just holds connections open, and prints on stdout what the
 * host did about it.  Replies print as "NAME" or "NAME: message" (NAME as
 * in status.h), prefixed "reply " after the handshake.
 *
 *	hello		a valid Hello; prints its reply's status
 *	oversize N	a header announcing N bytes and at most 8 body bytes;
 *			prints any replies, then "closed" (or "open")
 *	garbage [N]	a well-framed payload of N (32) 0xff bytes; as above
 *	truncated	a header announcing 100 bytes, 10 bytes, then
 *			shutdown(SHUT_WR) and close; prints nothing
 *	badversion	a valid Hello, then a Ping with version 99; as above
 *	idle		prints "connected", sends nothing; if the host closes,
 *			as above, otherwise runs until killed
 *	hold N		a valid Hello (its status printed), then keeps the
 *			connection N seconds, answering pings
 *	baddisk		a valid Hello, then a guest snapshot create whose
 *			DiskRef (EVG_DISK=KIND:VALUE) ends in an unknown
 *			field with a multi-byte field-0 tag (82 00 00); prints
 *			the reply
 *	hostile N	a valid Hello, then N seconds as a hostile guest
 *			daemon: guest info with ESC, a newline, cut UTF-8 and
 *			that unknown field; freeze refused with 60 KB of such
 *			text; hooks failing with such output; pings answered
 *
 * SOCKET is a path (or unix:PATH); AF_VSOCK is refused on purpose.  EVG_ROLE
 * (cli, daemon or control; default cli) sets the Hello role.  No wait for
 * an answer lasts more than WIRE_TIMEOUT_MS.
 *
 * Exit status: 0 when the host did what the mode waits for (hello: a reply
 * arrived; oversize, garbage, badversion, idle: the host closed; hold: the
 * connection stayed up), 1 when it did not, 2 on a usage error, 3 when the
 * socket could not be reached.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "frame.h"
#include "log.h"
#include "status.h"
#include "transport.h"
#include "xmalloc.h"

#define WIRE_TIMEOUT_MS		10000
#define WIRE_CONNECT_MS		5000
/* Frames from the host are decoded with the largest cap any channel has. */
#define WIRE_MAX_FRAME		FRAME_MAX_CONTROL
#define WIRE_GARBAGE_LEN	32
#define WIRE_TRUNC_ANNOUNCE	100
#define WIRE_TRUNC_SEND		10
/* Body bytes sent after an oversize header: fewer than it announces. */
#define WIRE_OVERSIZE_TAIL	8

enum wire_result {
	WIRE_MSG,		/* an envelope arrived */
	WIRE_CLOSED,		/* EOF or reset from the host */
	WIRE_TIMEOUT,		/* nothing before the deadline */
	WIRE_BAD,		/* the host sent something undecodable */
};

struct wire {
	int			 fd;
	uint32_t		 version;	/* negotiated, 0 before Hello */
	uint64_t		 next_id;
	struct frame_decoder	 dec;
	uint8_t			 buf[16384];
	size_t			 off;
	size_t			 len;
	char			 why[256];	/* after WIRE_BAD */
};

/* Print usage and exit with EXIT_USAGE. */
static __attribute__((noreturn)) void
wire_usage(void)
{
	fprintf(stderr, "usage: evg-wire SOCKETPATH hello|oversize N|"
	    "garbage [N]|truncated|badversion|idle|hold N\n"
	    "       EVG_ROLE=cli|daemon|control (default cli)\n");
	exit(EXIT_USAGE);
}

/* Parse a decimal in [min, max] or exit with a usage error. */
static uint32_t
wire_number(const char *s, unsigned long min, unsigned long max)
{
	unsigned long	 v;
	char		*end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < min || v > max) {
		log_warnx("%s: not a number in %lu..%lu", s, min, max);
		wire_usage();
	}
	return ((uint32_t)v);
}

/* Milliseconds on the monotonic clock. */
static int64_t
wire_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Connect to a Unix socket path; exits with EXIT_UNREACHABLE on failure. */
static struct wire *
wire_connect(const char *target)
{
	struct evg_addr	 addr;
	struct wire	*w;
	char		*spec, *cause;
	int		 fd;

	if (strncmp(target, "vsock:", 6) == 0) {
		log_warnx("%s: only Unix sockets are supported", target);
		wire_usage();
	}
	if (strncmp(target, "unix:", 5) == 0)
		spec = xstrdup(target);
	else
		xasprintf(&spec, "unix:%s", target);
	if (addr_parse(spec, &addr, &cause) == -1) {
		log_warnx("%s", cause);
		free(cause);
		free(spec);
		wire_usage();
	}
	free(spec);
	if ((fd = transport_connect(&addr, WIRE_CONNECT_MS, &cause)) == -1) {
		log_warnx("%s", cause);
		free(cause);
		exit(EXIT_UNREACHABLE);
	}
	w = xcalloc(1, sizeof *w);
	w->fd = fd;
	w->next_id = 1;
	frame_decoder_init(&w->dec, WIRE_MAX_FRAME);
	return (w);
}

/* Close and free. */
static void
wire_close(struct wire *w)
{
	frame_decoder_reset(&w->dec);
	close(w->fd);
	free(w);
}

/* Write all bytes; -1 with errno when the host is gone. */
static int
wire_write(struct wire *w, const void *data, size_t len)
{
	const uint8_t	*p = data;
	ssize_t		 n;

	while (len > 0) {
		n = write(w->fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return (-1);
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * Send, in one write, a header announcing announce bytes and then len raw
 * body bytes.  A host that hangs up first is not an error here: the report
 * that follows shows it.
 */
static void
wire_send_raw(struct wire *w, uint32_t announce, const void *body, size_t len)
{
	uint8_t	*buf;

	buf = xmalloc(FRAME_HEADER_SIZE + len);
	frame_put_header(buf, announce);
	if (len > 0)
		memcpy(buf + FRAME_HEADER_SIZE, body, len);
	if (wire_write(w, buf, FRAME_HEADER_SIZE + len) == -1 &&
	    errno != EPIPE && errno != ECONNRESET)
		log_warn("sending to the host");
	free(buf);
}

/* Frame and send env with the given version (id assigned if zero). */
static void
wire_send(struct wire *w, Evg__Envelope *env, uint32_t version)
{
	uint8_t	*buf;
	size_t	 len;
	char	*cause;

	if (env->id == 0)
		env->id = w->next_id++;
	env->version = version;
	if ((buf = codec_frame(env, WIRE_MAX_FRAME, &len, &cause)) == NULL) {
		log_warnx("%s", cause);
		free(cause);
		return;
	}
	if (wire_write(w, buf, len) == -1 && errno != EPIPE &&
	    errno != ECONNRESET)
		log_warn("sending to the host");
	free(buf);
}

/*
 * Wait until deadline (monotonic ms; -1 for ever) for the next envelope
 * from the host.  On WIRE_MSG *envp is owned by the caller (codec_free()).
 */
static enum wire_result
wire_recv(struct wire *w, int64_t deadline, Evg__Envelope **envp)
{
	struct pollfd		 pfd = { .fd = w->fd, .events = POLLIN };
	enum frame_result	 fr;
	uint8_t			*payload;
	uint32_t		 plen;
	size_t			 used;
	ssize_t			 n;
	int64_t			 left;
	char			 err[160];

	*envp = NULL;
	for (;;) {
		while (w->off < w->len) {
			fr = frame_decoder_feed(&w->dec, w->buf + w->off,
			    w->len - w->off, &used, &payload, &plen);
			w->off += used;
			if (fr == FRAME_ERROR) {
				snprintf(w->why, sizeof w->why, "bad frame: %s",
				    w->dec.error);
				return (WIRE_BAD);
			}
			if (fr == FRAME_NEED_MORE)
				break;
			*envp = codec_unpack(payload, plen, err, sizeof err);
			free(payload);
			if (*envp == NULL) {
				snprintf(w->why, sizeof w->why,
				    "bad message: %s", err);
				return (WIRE_BAD);
			}
			return (WIRE_MSG);
		}
		w->off = w->len = 0;
		left = -1;
		if (deadline >= 0 && (left = deadline - wire_now_ms()) <= 0)
			return (WIRE_TIMEOUT);
		n = poll(&pfd, 1, (int)left);
		if (n == -1 && errno != EINTR) {
			snprintf(w->why, sizeof w->why, "poll: %s",
			    strerror(errno));
			return (WIRE_BAD);
		}
		if (n <= 0)
			continue;
		n = read(w->fd, w->buf, sizeof w->buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			return (WIRE_CLOSED);
		if (n == -1) {
			snprintf(w->why, sizeof w->why, "read: %s",
			    strerror(errno));
			return (WIRE_BAD);
		}
		w->len = (size_t)n;
	}
}

/* Status code and message of a reply envelope (INTERNAL if it has none). */
static unsigned int
wire_status(const Evg__Envelope *env, const char **msg)
{
	*msg = "";
	if (env->body_case != EVG__ENVELOPE__BODY_REPLY ||
	    env->reply->status == NULL)
		return (EVG_INTERNAL);
	*msg = env->reply->status->message;
	return (env->reply->status->code);
}

/* Print "[prefix ]NAME[: message]" for a reply. */
static void
wire_print_reply(const char *prefix, const Evg__Envelope *env)
{
	const char	*msg;
	unsigned int	 code;

	code = wire_status(env, &msg);
	printf("%s%s%s%s%s\n", prefix, prefix[0] != '\0' ? " " : "",
	    status_name(code), msg[0] != '\0' ? ": " : "", msg);
	fflush(stdout);
}

/* Answer a Ping from the host with an OK reply, as a real client would. */
static void
wire_answer_ping(struct wire *w, const Evg__Envelope *ping)
{
	struct codec_reply	r;

	codec_reply_init(&r, ping->id, w->version, EVG_OK, "");
	wire_send(w, &r.env, w->version);
}

/*
 * Print what the host sends until it closes or deadline passes: each reply
 * as "reply NAME: message", other messages by body name, then "closed".
 * Returns 0 if the host closed the connection, 1 otherwise.
 */
static int
wire_report(struct wire *w, int64_t deadline)
{
	Evg__Envelope	*env;

	for (;;) {
		switch (wire_recv(w, deadline, &env)) {
		case WIRE_MSG:
			if (env->body_case == EVG__ENVELOPE__BODY_REPLY)
				wire_print_reply("reply", env);
			else {
				printf("message %s\n", codec_body_name(env));
				fflush(stdout);
				if (env->body_case == EVG__ENVELOPE__BODY_PING)
					wire_answer_ping(w, env);
			}
			codec_free(env);
			break;
		case WIRE_CLOSED:
			printf("closed\n");
			fflush(stdout);
			return (0);
		case WIRE_TIMEOUT:
			printf("open\n");
			fflush(stdout);
			log_warnx("the host neither closed the connection nor "
			    "said anything more within %d ms",
			    WIRE_TIMEOUT_MS);
			return (1);
		case WIRE_BAD:
			printf("bad %s\n", w->why);
			fflush(stdout);
			return (1);
		}
	}
}

/* Hello role from EVG_ROLE; exits with a usage error on a bad value. */
static Evg__Role
wire_role(void)
{
	const char	*s = getenv("EVG_ROLE");

	if (s == NULL || *s == '\0' || strcmp(s, "cli") == 0)
		return (EVG__ROLE__ROLE_GUEST_CLI);
	if (strcmp(s, "daemon") == 0)
		return (EVG__ROLE__ROLE_GUEST_DAEMON);
	if (strcmp(s, "control") == 0)
		return (EVG__ROLE__ROLE_CONTROL);
	log_warnx("EVG_ROLE=%s: expected cli, daemon or control", s);
	wire_usage();
}

/*
 * Send a valid Hello and wait for its reply (events before it are shown
 * and skipped).  On success the reply is returned (caller frees) and the
 * negotiated version recorded; NULL when no reply came.
 */
static Evg__Envelope *
wire_hello(struct wire *w)
{
	Evg__Envelope	 env = EVG__ENVELOPE__INIT, *rep;
	Evg__Hello	 hello = EVG__HELLO__INIT;
	int64_t		 deadline;

	hello.min_version = PROTO_VERSION_MIN;
	hello.max_version = PROTO_VERSION_MAX;
	/* EVG_HELLO_VERSION=N offers only version N (to test refusal). */
	if (getenv("EVG_HELLO_VERSION") != NULL)
		hello.min_version = hello.max_version =
		    (uint32_t)strtoul(getenv("EVG_HELLO_VERSION"), NULL, 10);
	hello.role = wire_role();
	hello.software = (char *)"evg-wire " EVG_VERSION;
	env.body_case = EVG__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	/* A host refusing the connection may have said why already. */
	wire_send(w, &env, PROTO_VERSION_MAX);
	deadline = wire_now_ms() + WIRE_TIMEOUT_MS;
	for (;;) {
		switch (wire_recv(w, deadline, &rep)) {
		case WIRE_MSG:
			if (rep->body_case == EVG__ENVELOPE__BODY_REPLY) {
				if (rep->reply->result_case ==
				    EVG__REPLY__RESULT_HELLO_ACK)
					w->version =
					    rep->reply->hello_ack->version;
				return (rep);
			}
			log_warnx("before the Hello reply: %s",
			    codec_body_name(rep));
			codec_free(rep);
			break;
		case WIRE_CLOSED:
			log_warnx("the host closed the connection without "
			    "answering the Hello");
			return (NULL);
		case WIRE_TIMEOUT:
			log_warnx("no answer to the Hello within %d ms",
			    WIRE_TIMEOUT_MS);
			return (NULL);
		case WIRE_BAD:
			log_warnx("%s", w->why);
			return (NULL);
		}
	}
}

/* hello: print the reply's status; 0 if a reply arrived. */
static int
wire_mode_hello(struct wire *w, uint32_t unused)
{
	Evg__Envelope	*rep;

	(void)unused;
	if ((rep = wire_hello(w)) == NULL)
		return (1);
	wire_print_reply("", rep);
	codec_free(rep);
	return (0);
}

/* Handshake that must succeed; prints the status.  0 or 1. */
static int
wire_handshake(struct wire *w)
{
	Evg__Envelope	*rep;
	const char	*msg;
	unsigned int	 code;

	if ((rep = wire_hello(w)) == NULL)
		return (1);
	wire_print_reply("", rep);
	code = wire_status(rep, &msg);
	codec_free(rep);
	if (code != EVG_OK || w->version == 0) {
		log_warnx("the Hello was not accepted");
		return (1);
	}
	return (0);
}

/* oversize N: a header announcing N bytes, then a few bytes only. */
static int
wire_mode_oversize(struct wire *w, uint32_t announce)
{
	uint8_t	tail[WIRE_OVERSIZE_TAIL];
	size_t	n = sizeof tail;

	memset(tail, 0xff, sizeof tail);
	if (announce <= n)
		n = announce > 0 ? announce - 1 : 0;
	wire_send_raw(w, announce, tail, n);
	return (wire_report(w, wire_now_ms() + WIRE_TIMEOUT_MS));
}

/* garbage [N]: a correctly framed payload of 0xff bytes (never protobuf). */
static int
wire_mode_garbage(struct wire *w, uint32_t len)
{
	uint8_t	*body;

	body = xmalloc(len);
	memset(body, 0xff, len);
	wire_send_raw(w, len, body, len);
	free(body);
	return (wire_report(w, wire_now_ms() + WIRE_TIMEOUT_MS));
}

/* truncated: announce 100 bytes, send 10, half-close and go. */
static int
wire_mode_truncated(struct wire *w, uint32_t unused)
{
	uint8_t	body[WIRE_TRUNC_SEND];

	(void)unused;
	memset(body, 0xa5, sizeof body);
	wire_send_raw(w, WIRE_TRUNC_ANNOUNCE, body, sizeof body);
	if (shutdown(w->fd, SHUT_WR) == -1)
		log_warn("shutdown");
	return (0);
}

/* badversion: a valid handshake, then a Ping carrying version 99. */
static int
wire_mode_badversion(struct wire *w, uint32_t unused)
{
	Evg__Envelope	env = EVG__ENVELOPE__INIT;
	Evg__Ping	ping = EVG__PING__INIT;

	(void)unused;
	if (wire_handshake(w) != 0)
		return (1);
	env.body_case = EVG__ENVELOPE__BODY_PING;
	env.ping = &ping;
	wire_send(w, &env, 99);
	return (wire_report(w, wire_now_ms() + WIRE_TIMEOUT_MS));
}

/* idle: say "connected", send nothing, report if the host closes. */
static int
wire_mode_idle(struct wire *w, uint32_t unused)
{
	(void)unused;
	printf("connected\n");
	fflush(stdout);
	return (wire_report(w, -1));
}

/* hold N: a valid handshake, then keep the connection N seconds. */
static int
wire_mode_hold(struct wire *w, uint32_t seconds)
{
	Evg__Envelope	*env;
	int64_t		 deadline;

	if (wire_handshake(w) != 0)
		return (1);
	deadline = wire_now_ms() + (int64_t)seconds * 1000;
	for (;;) {
		switch (wire_recv(w, deadline, &env)) {
		case WIRE_MSG:
			if (env->body_case == EVG__ENVELOPE__BODY_PING)
				wire_answer_ping(w, env);
			else if (env->body_case == EVG__ENVELOPE__BODY_REPLY)
				wire_print_reply("reply", env);
			codec_free(env);
			break;
		case WIRE_TIMEOUT:
			return (0);
		case WIRE_CLOSED:
			printf("closed\n");
			fflush(stdout);
			return (1);
		case WIRE_BAD:
			printf("bad %s\n", w->why);
			fflush(stdout);
			return (1);
		}
	}
}

/* Bytes of text in a freeze refusal: near the guest frame cap. */
#define WIRE_HOSTILE_BIG	60000
/* Bytes with a multi-byte field-0 tag: decodes as unknown, never re-packs. */
static const uint8_t wire_bad_field[] = { 0x82, 0x00, 0x00 };
/* Guest text meant to deceive: ESC sequences, a forged log line, bad UTF-8. */
#define WIRE_HOSTILE_TEXT	"\033[31mred\033[0m\nevg: forged line \xff\xfe " \
				"caf\xc3\xa9 \xe2\x82\xac"

/* Append a varint to buf at *len (buf has room). */
static void
wire_varint(uint8_t *buf, size_t *len, uint64_t v)
{
	while (v >= 0x80) {
		buf[(*len)++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	buf[(*len)++] = (uint8_t)v;
}

/*
 * Pack msg (with the field named left unset), then append that field as
 * the given bytes: how a test puts what protobuf-c would never pack
 * (inner messages carrying raw bytes) inside a valid message.  Returns a
 * new buffer of *len bytes.
 */
static uint8_t *
wire_wrap(const ProtobufCMessage *msg, const char *field, const uint8_t *inner,
    size_t ilen, size_t *len)
{
	const ProtobufCFieldDescriptor	*fd;
	uint8_t				*buf;

	fd = protobuf_c_message_descriptor_get_field_by_name(msg->descriptor,
	    field);
	if (fd == NULL)
		fatalx("no field %s", field);
	buf = xmalloc(protobuf_c_message_get_packed_size(msg) + ilen + 20);
	*len = protobuf_c_message_pack(msg, buf);
	wire_varint(buf, len, ((uint64_t)fd->id << 3) | 2);
	wire_varint(buf, len, ilen);
	memcpy(buf + *len, inner, ilen);
	*len += ilen;
	return (buf);
}

/* Pack m and append the unknown field bytes; a new buffer of *len bytes. */
static uint8_t *
wire_pack_with_bad_field(const ProtobufCMessage *m, size_t *len)
{
	uint8_t	*buf;

	buf = xmalloc(protobuf_c_message_get_packed_size(m) +
	    sizeof wire_bad_field);
	*len = protobuf_c_message_pack(m, buf);
	memcpy(buf + *len, wire_bad_field, sizeof wire_bad_field);
	*len += sizeof wire_bad_field;
	return (buf);
}

/* Send an envelope (id, version) whose body field carries raw bytes. */
static void
wire_send_body(struct wire *w, uint64_t id, const char *body,
    const uint8_t *inner, size_t ilen)
{
	Evg__Envelope	 env = EVG__ENVELOPE__INIT;
	uint8_t		*buf;
	size_t		 len;

	env.id = id != 0 ? id : w->next_id++;
	env.version = w->version;
	buf = wire_wrap(&env.base, body, inner, ilen, &len);
	wire_send_raw(w, (uint32_t)len, buf, len);
	free(buf);
}

/* baddisk: a guest create whose DiskRef holds an unknown field. */
static int
wire_mode_baddisk(struct wire *w, uint32_t unused)
{
	Evg__GuestSnapshotCreateRequest	 req =
	    EVG__GUEST_SNAPSHOT_CREATE_REQUEST__INIT;
	Evg__DiskRef			 d = EVG__DISK_REF__INIT;
	Evg__DiskId			 id = EVG__DISK_ID__INIT, *idp = &id;
	const char			*spec = getenv("EVG_DISK");
	char				*kind, *value;
	uint8_t				*disk, *body;
	size_t				 dlen, blen;

	(void)unused;
	if (spec == NULL || strchr(spec, ':') == NULL)
		fatalx("baddisk needs EVG_DISK=KIND:VALUE");
	kind = xstrdup(spec);
	value = strchr(kind, ':');
	*value++ = '\0';
	if (wire_handshake(w) != 0)
		return (1);
	id.kind = kind;
	id.value = value;
	d.device = (char *)"/dev/hostile";
	d.ids = &idp;
	d.n_ids = 1;
	req.name = (char *)"hostile";
	disk = wire_pack_with_bad_field(&d.base, &dlen);
	body = wire_wrap(&req.base, "disks", disk, dlen, &blen);
	wire_send_body(w, 0, "guest_snapshot_create", body, blen);
	free(body);
	free(disk);
	free(kind);
	return (wire_report(w, wire_now_ms() + WIRE_TIMEOUT_MS));
}

/* Reply to a request with a result message packed with the bad field. */
static void
wire_reply_raw(struct wire *w, uint64_t id, const char *result,
    const ProtobufCMessage *m)
{
	Evg__Reply	 rep = EVG__REPLY__INIT;
	Evg__Status	 st = EVG__STATUS__INIT;
	uint8_t		*inner, *body;
	size_t		 ilen, blen;

	rep.status = &st;
	inner = wire_pack_with_bad_field(m, &ilen);
	body = wire_wrap(&rep.base, result, inner, ilen, &blen);
	wire_send_body(w, id, "reply", body, blen);
	free(body);
	free(inner);
}

/* Reply with a status code and message, its bytes sent as they are. */
static void
wire_reply(struct wire *w, uint64_t id, unsigned int code, const char *msg)
{
	struct codec_reply	 r;
	uint8_t			*buf;
	size_t			 len;

	codec_reply_init(&r, id, w->version, code, msg);
	buf = xmalloc(evg__envelope__get_packed_size(&r.env));
	len = evg__envelope__pack(&r.env, buf);
	wire_send_raw(w, (uint32_t)len, buf, len);
	free(buf);
}

/* hostile N: N seconds as a guest daemon whose every answer deceives. */
static int
wire_mode_hostile(struct wire *w, uint32_t seconds)
{
	Evg__Envelope	*env;
	Evg__GuestInfo	 gi = EVG__GUEST_INFO__INIT;
	Evg__HookReport	 hr = EVG__HOOK_REPORT__INIT;
	Evg__HookResult	 res = EVG__HOOK_RESULT__INIT, *resp = &res;
	char		*big, out[600];
	int64_t		 deadline;
	size_t		 i;

	if (wire_handshake(w) != 0)
		return (1);
	gi.agent_version = (char *)"9.9 " WIRE_HOSTILE_TEXT;
	gi.os = (char *)WIRE_HOSTILE_TEXT;
	gi.kernel = (char *)"linux";
	gi.hostname = (char *)WIRE_HOSTILE_TEXT;
	/* 60 KB of deception for freeze refusals. */
	big = xmalloc(WIRE_HOSTILE_BIG + 1);
	for (i = 0; i + sizeof WIRE_HOSTILE_TEXT < WIRE_HOSTILE_BIG;
	    i += sizeof WIRE_HOSTILE_TEXT - 1)
		memcpy(big + i, WIRE_HOSTILE_TEXT, sizeof WIRE_HOSTILE_TEXT - 1);
	big[i] = '\0';
	/* Hook output whose last 512 bytes start inside a euro sign. */
	memset(out, 'x', sizeof out);
	memcpy(out, WIRE_HOSTILE_TEXT, sizeof WIRE_HOSTILE_TEXT - 1);
	memcpy(out + sizeof out - 514, "\xe2\x82\xac", 3);
	out[sizeof out - 1] = '\0';
	res.path = (char *)"/etc/eve/snapshots/pre.sh\033[2J";
	res.status = (char *)"failed";
	res.exit_code = 7;
	res.output = out;
	hr.results = &resp;
	hr.n_results = 1;
	deadline = wire_now_ms() + (int64_t)seconds * 1000;
	for (;;) {
		switch (wire_recv(w, deadline, &env)) {
		case WIRE_MSG:
			if (env->body_case == EVG__ENVELOPE__BODY_PING)
				wire_answer_ping(w, env);
			else if (env->body_case ==
			    EVG__ENVELOPE__BODY_GUEST_INFO)
				wire_reply_raw(w, env->id, "guest_info",
				    &gi.base);
			else if (env->body_case == EVG__ENVELOPE__BODY_HOOK)
				wire_reply_raw(w, env->id, "hook_report",
				    &hr.base);
			else if (env->body_case == EVG__ENVELOPE__BODY_FREEZE)
				wire_reply(w, env->id, EVG_FREEZE_FAILED, big);
			else if (env->body_case != EVG__ENVELOPE__BODY_REPLY &&
			    env->body_case != EVG__ENVELOPE__BODY_EVENT)
				wire_reply(w, env->id, EVG_UNSUPPORTED, big);
			codec_free(env);
			break;
		case WIRE_TIMEOUT:
			free(big);
			return (0);
		case WIRE_CLOSED:
		case WIRE_BAD:
			printf("%s %s\n", w->why[0] != '\0' ? "bad" : "closed",
			    w->why);
			fflush(stdout);
			free(big);
			return (1);
		}
	}
}

enum wire_arg {
	WIRE_ARG_NONE,
	WIRE_ARG_REQUIRED,
	WIRE_ARG_OPTIONAL,
};

static const struct wire_mode {
	const char	*name;
	enum wire_arg	 arg;
	unsigned long	 min;		/* bounds of the argument */
	unsigned long	 max;
	uint32_t	 dflt;		/* when an optional one is absent */
	int		(*run)(struct wire *, uint32_t);
} wire_modes[] = {
	{ "hello", WIRE_ARG_NONE, 0, 0, 0, wire_mode_hello },
	{ "oversize", WIRE_ARG_REQUIRED, 0, UINT32_MAX, 0, wire_mode_oversize },
	{ "garbage", WIRE_ARG_OPTIONAL, 1, FRAME_MAX_LIMIT, WIRE_GARBAGE_LEN,
	  wire_mode_garbage },
	{ "truncated", WIRE_ARG_NONE, 0, 0, 0, wire_mode_truncated },
	{ "badversion", WIRE_ARG_NONE, 0, 0, 0, wire_mode_badversion },
	{ "idle", WIRE_ARG_NONE, 0, 0, 0, wire_mode_idle },
	{ "hold", WIRE_ARG_REQUIRED, 0, 86400, 0, wire_mode_hold },
	{ "baddisk", WIRE_ARG_NONE, 0, 0, 0, wire_mode_baddisk },
	{ "hostile", WIRE_ARG_REQUIRED, 0, 86400, 0, wire_mode_hostile },
};

int
main(int argc, char **argv)
{
	const struct wire_mode	*m = NULL;
	struct wire		*w;
	uint32_t		 n;
	size_t			 i;
	int			 rc;

	log_init("evg-wire", LOG_TO_STDERR, 0);
	if (argc < 3 || argc > 4)
		wire_usage();
	for (i = 0; i < sizeof wire_modes / sizeof wire_modes[0]; i++)
		if (strcmp(argv[2], wire_modes[i].name) == 0)
			m = &wire_modes[i];
	if (m == NULL || (argc == 4 && m->arg == WIRE_ARG_NONE) ||
	    (argc == 3 && m->arg == WIRE_ARG_REQUIRED))
		wire_usage();
	n = argc == 4 ? wire_number(argv[3], m->min, m->max) : m->dflt;
	/* Check EVG_ROLE before connecting, so a typo is a usage error. */
	wire_role();
	signal(SIGPIPE, SIG_IGN);

	w = wire_connect(argv[1]);
	rc = m->run(w, n);
	wire_close(w);
	return (rc);
}
