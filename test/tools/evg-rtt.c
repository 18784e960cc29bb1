/*
 * evg-rtt: request round trips on one open connection, for the
 * side-by-side benchmark (test/bench/sidebyside.sh).
 *
 *	evg-rtt [-e EVG-SOCKET] [-q QGA-SOCKET] [-n N] [-w W]
 *
 * -e: connects to a VM's hybrid socket of eve-guest-hostd (PATH_2210) as
 * a guest CLI (Hello, role ROLE_GUEST_CLI), then sends Ping envelopes one
 * at a time, each time waiting for its Reply (status OK).
 * -q: connects to qemu-guest-agent's Unix socket, syncs
 * (guest-sync-delimited), then sends {"execute":"guest-ping"} one at a
 * time, each time waiting for its {"return": {}}.
 *
 * Each round trip, from the write of the request to the read of its
 * answer, is timed with CLOCK_MONOTONIC and printed as "evg USEC" or
 * "qga USEC" (microseconds, one decimal), one line each.  With both
 * sockets the two alternate request by request (evg, qga, evg, ...), so
 * both see the same machine.  W (default 3) unprinted round trips per
 * side come first; N (default 50) are printed per side.
 *
 * Both sockets are Unix paths: AF_VSOCK is never opened.  Exit status 0
 * when every round trip was answered, 1 otherwise (a message on stderr),
 * 2 on a usage error, 3 when a socket could not be reached.
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

#include <json-c/json.h>

#include "codec.h"
#include "frame.h"
#include "log.h"
#include "status.h"
#include "transport.h"
#include "xmalloc.h"

#define RTT_TIMEOUT_MS		10000
#define RTT_CONNECT_MS		5000
#define RTT_MAX_N		1000000
#define RTT_LINE_MAX		65536
/* Marks the start of qemu-ga's answer to guest-sync-delimited. */
#define RTT_DELIMITER		0xff
#define RTT_QGA_PING		"{\"execute\":\"guest-ping\"}\n"

struct rtt_conn {
	const char		*what;		/* "evg" or "qga" */
	int			 fd;
	uint32_t		 version;	/* evg: negotiated */
	uint64_t		 next_id;
	struct frame_decoder	 dec;		/* evg */
	uint8_t			 buf[RTT_LINE_MAX];
	size_t			 off;
	size_t			 len;
};

/* Print usage and exit with EXIT_USAGE. */
static __attribute__((noreturn)) void
rtt_usage(void)
{
	fprintf(stderr, "usage: evg-rtt [-e EVG-SOCKET] [-q QGA-SOCKET] "
	    "[-n N] [-w W]\n");
	exit(EXIT_USAGE);
}

/* Parse a decimal in [min, max] or exit with a usage error. */
static uint32_t
rtt_number(const char *s, unsigned long min, unsigned long max)
{
	unsigned long	 v;
	char		*end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < min ||
	    v > max) {
		log_warnx("%s: not a number in %lu..%lu", s, min, max);
		rtt_usage();
	}
	return ((uint32_t)v);
}

/* Nanoseconds on the monotonic clock. */
static int64_t
rtt_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

/* Connect to a Unix socket path; exits with EXIT_UNREACHABLE on failure. */
static struct rtt_conn *
rtt_connect(const char *what, const char *path)
{
	struct evg_addr	 addr;
	struct rtt_conn	*c;
	char		*spec, *cause;
	int		 fd;

	if (strncmp(path, "vsock:", 6) == 0) {
		log_warnx("%s: only Unix sockets are supported", path);
		rtt_usage();
	}
	if (strncmp(path, "unix:", 5) == 0)
		spec = xstrdup(path);
	else
		xasprintf(&spec, "unix:%s", path);
	if (addr_parse(spec, &addr, &cause) == -1) {
		log_warnx("%s", cause);
		free(cause);
		free(spec);
		rtt_usage();
	}
	free(spec);
	if (addr.type != ADDR_UNIX) {
		log_warnx("%s: not a Unix socket", path);
		rtt_usage();
	}
	if ((fd = transport_connect(&addr, RTT_CONNECT_MS, &cause)) == -1) {
		log_warnx("%s", cause);
		free(cause);
		exit(EXIT_UNREACHABLE);
	}
	/* Non-blocking: a read never waits but in poll, with a deadline. */
	if (transport_set_nonblock(fd, 1) == -1)
		fatal("O_NONBLOCK");
	c = xcalloc(1, sizeof *c);
	c->what = what;
	c->fd = fd;
	c->next_id = 1;
	frame_decoder_init(&c->dec, FRAME_MAX_CONTROL);
	return (c);
}

/* Close and free. */
static void
rtt_close(struct rtt_conn *c)
{
	frame_decoder_reset(&c->dec);
	close(c->fd);
	free(c);
}

/* Write all bytes; -1 with a message when the peer is gone. */
static int
rtt_write(struct rtt_conn *c, const void *data, size_t len)
{
	struct pollfd	 pfd;
	const uint8_t	*p = data;
	ssize_t		 n;

	while (len > 0) {
		n = write(c->fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			pfd.fd = c->fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, RTT_TIMEOUT_MS) > 0)
				continue;
		}
		if (n <= 0) {
			log_warn("%s: write", c->what);
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * Read what is there (waiting up to RTT_TIMEOUT_MS) into the buffer after
 * its len bytes; -1 with a message on timeout, close or error.
 */
static int
rtt_fill(struct rtt_conn *c)
{
	struct pollfd	pfd = { .fd = c->fd, .events = POLLIN };
	int64_t		deadline, left;
	ssize_t		n;

	deadline = rtt_now_ns() / 1000000 + RTT_TIMEOUT_MS;
	for (;;) {
		if (c->len == sizeof c->buf) {
			log_warnx("%s: an answer over %zu bytes", c->what,
			    sizeof c->buf);
			return (-1);
		}
		n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			return (0);
		}
		if (n == 0) {
			log_warnx("%s: the peer closed the connection",
			    c->what);
			return (-1);
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			log_warn("%s: read", c->what);
			return (-1);
		}
		if ((left = deadline - rtt_now_ns() / 1000000) <= 0) {
			log_warnx("%s: no answer within %d ms", c->what,
			    RTT_TIMEOUT_MS);
			return (-1);
		}
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR) {
			log_warn("poll");
			return (-1);
		}
	}
}

/* Frame and send env (id assigned if zero); -1 on failure. */
static int
evg_send(struct rtt_conn *c, Evg__Envelope *env, uint32_t version)
{
	uint8_t	*buf;
	size_t	 len;
	char	*cause;
	int	 rc;

	if (env->id == 0)
		env->id = c->next_id++;
	env->version = version;
	if ((buf = codec_frame(env, FRAME_MAX_GUEST, &len, &cause)) == NULL) {
		log_warnx("%s", cause);
		free(cause);
		return (-1);
	}
	rc = rtt_write(c, buf, len);
	free(buf);
	return (rc);
}

/* The next envelope from the host (caller codec_free()s), or NULL. */
static Evg__Envelope *
evg_recv(struct rtt_conn *c)
{
	enum frame_result	 fr;
	Evg__Envelope		*env;
	uint8_t			*payload;
	uint32_t		 plen;
	size_t			 used;
	char			 err[160];

	for (;;) {
		while (c->off < c->len) {
			fr = frame_decoder_feed(&c->dec, c->buf + c->off,
			    c->len - c->off, &used, &payload, &plen);
			c->off += used;
			if (fr == FRAME_ERROR) {
				log_warnx("evg: bad frame: %s", c->dec.error);
				return (NULL);
			}
			if (fr == FRAME_NEED_MORE)
				break;
			env = codec_unpack(payload, plen, err, sizeof err);
			free(payload);
			if (env == NULL)
				log_warnx("evg: bad message: %s", err);
			return (env);
		}
		c->off = c->len = 0;
		if (rtt_fill(c) == -1)
			return (NULL);
	}
}

/*
 * Wait for the Reply to request id, answering the host's pings meanwhile;
 * 0 when it is OK, -1 with a message otherwise.
 */
static int
evg_wait_reply(struct rtt_conn *c, uint64_t id, const char *what)
{
	struct codec_reply	 r;
	Evg__Envelope		*env;
	const char		*msg;
	unsigned int		 code;

	for (;;) {
		if ((env = evg_recv(c)) == NULL)
			return (-1);
		if (env->body_case == EVG__ENVELOPE__BODY_PING) {
			codec_reply_init(&r, env->id, c->version, EVG_OK, "");
			if (evg_send(c, &r.env, c->version) == -1) {
				codec_free(env);
				return (-1);
			}
		} else if (env->body_case == EVG__ENVELOPE__BODY_REPLY &&
		    env->id == id) {
			if (env->reply->result_case ==
			    EVG__REPLY__RESULT_HELLO_ACK)
				c->version = env->reply->hello_ack->version;
			if ((code = codec_reply_code(env, &msg)) != EVG_OK) {
				log_warnx("evg: %s: %s%s%s", what,
				    status_name(code), *msg != '\0' ? ": " : "",
				    msg);
				codec_free(env);
				return (-1);
			}
			codec_free(env);
			return (0);
		}
		codec_free(env);
	}
}

/* Hello as a guest CLI; 0 once the host accepted it. */
static int
evg_hello(struct rtt_conn *c)
{
	Evg__Envelope	env = EVG__ENVELOPE__INIT;
	Evg__Hello	hello = EVG__HELLO__INIT;

	hello.min_version = PROTO_VERSION_MIN;
	hello.max_version = PROTO_VERSION_MAX;
	hello.role = EVG__ROLE__ROLE_GUEST_CLI;
	hello.software = (char *)"evg-rtt " EVG_VERSION;
	env.body_case = EVG__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	if (evg_send(c, &env, PROTO_VERSION_MAX) == -1 ||
	    evg_wait_reply(c, env.id, "hello") == -1)
		return (-1);
	if (c->version == 0) {
		log_warnx("evg: the Hello reply carried no version");
		return (-1);
	}
	return (0);
}

/* One Ping and its Reply. */
static int
evg_ping(struct rtt_conn *c)
{
	Evg__Envelope	env = EVG__ENVELOPE__INIT;
	Evg__Ping	ping = EVG__PING__INIT;

	env.body_case = EVG__ENVELOPE__BODY_PING;
	env.ping = &ping;
	if (evg_send(c, &env, c->version) == -1)
		return (-1);
	return (evg_wait_reply(c, env.id, "ping"));
}

/* The next line from qemu-ga, NUL-terminated in the buffer; NULL. */
static char *
qga_line(struct rtt_conn *c)
{
	uint8_t	*nl;
	char	*line;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	while ((nl = memchr(c->buf, '\n', c->len)) == NULL)
		if (rtt_fill(c) == -1)
			return (NULL);
	*nl = '\0';
	line = (char *)c->buf;
	c->off = (size_t)(nl - c->buf) + 1;
	return (line);
}

/* guest-sync-delimited: skip to the 0xff, then to the answer with our id. */
static int
qga_sync(struct rtt_conn *c)
{
	json_object	*obj, *ret;
	char		 req[128], *line;
	uint8_t		*mark;
	long long	 id = (long long)getpid() * 1000 + 7;
	int		 ok;

	snprintf(req, sizeof req, "{\"execute\":\"guest-sync-delimited\","
	    "\"arguments\":{\"id\":%lld}}\n", id);
	if (rtt_write(c, req, strlen(req)) == -1)
		return (-1);
	for (;;) {
		while ((mark = memchr(c->buf, RTT_DELIMITER, c->len)) == NULL) {
			c->len = c->off = 0;
			if (rtt_fill(c) == -1)
				return (-1);
		}
		c->off = (size_t)(mark - c->buf) + 1;
		if ((line = qga_line(c)) == NULL)
			return (-1);
		obj = json_tokener_parse(line);
		ok = obj != NULL && json_object_object_get_ex(obj, "return",
		    &ret) && json_object_get_int64(ret) == id;
		json_object_put(obj);
		if (ok)
			return (0);
	}
}

/* One guest-ping and its {"return": {}}. */
static int
qga_ping(struct rtt_conn *c)
{
	char	*line;

	if (rtt_write(c, RTT_QGA_PING, sizeof RTT_QGA_PING - 1) == -1)
		return (-1);
	if ((line = qga_line(c)) == NULL)
		return (-1);
	if (strstr(line, "\"return\"") == NULL) {
		log_warnx("qga: guest-ping answered %s", line);
		return (-1);
	}
	return (0);
}

/* One timed round trip on c, printed unless warm; 0 or -1. */
static int
rtt_once(struct rtt_conn *c, int warm)
{
	int64_t	t0, t1;
	int	rc;

	t0 = rtt_now_ns();
	if (strcmp(c->what, "evg") == 0)
		rc = evg_ping(c);
	else
		rc = qga_ping(c);
	t1 = rtt_now_ns();
	if (rc == 0 && !warm)
		printf("%s %.1f\n", c->what, (double)(t1 - t0) / 1000.0);
	return (rc);
}

int
main(int argc, char **argv)
{
	struct rtt_conn	*conns[2];
	const char	*evg_path = NULL, *qga_path = NULL;
	uint32_t	 n = 50, warm = 3, i;
	size_t		 nconn = 0, j;
	int		 ch, rc = 0;

	log_init("evg-rtt", LOG_TO_STDERR, 0);
	while ((ch = getopt(argc, argv, "e:q:n:w:")) != -1) {
		switch (ch) {
		case 'e':
			evg_path = optarg;
			break;
		case 'q':
			qga_path = optarg;
			break;
		case 'n':
			n = rtt_number(optarg, 1, RTT_MAX_N);
			break;
		case 'w':
			warm = rtt_number(optarg, 0, RTT_MAX_N);
			break;
		default:
			rtt_usage();
		}
	}
	if (optind != argc || (evg_path == NULL && qga_path == NULL))
		rtt_usage();
	signal(SIGPIPE, SIG_IGN);

	if (evg_path != NULL) {
		conns[nconn] = rtt_connect("evg", evg_path);
		if (evg_hello(conns[nconn++]) == -1)
			return (1);
	}
	if (qga_path != NULL) {
		conns[nconn] = rtt_connect("qga", qga_path);
		if (qga_sync(conns[nconn++]) == -1)
			return (1);
	}
	for (i = 0; i < warm + n && rc == 0; i++)
		for (j = 0; j < nconn && rc == 0; j++)
			rc = rtt_once(conns[j], i < warm);
	fflush(stdout);
	for (j = 0; j < nconn; j++)
		rtt_close(conns[j]);
	return (rc == 0 ? 0 : 1);
}
