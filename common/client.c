/* Blocking framed client used by the command-line tools. */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "codec.h"
#include "frame.h"
#include "status.h"
#include "xmalloc.h"

/* How long to look for a refusal reply after a failed send. */
#define CLIENT_REFUSAL_WAIT_MS	1000

struct client {
	int			 fd;
	int			 timeout_ms;
	uint64_t		 next_id;
	uint32_t		 version;
	struct frame_decoder	 dec;
	uint8_t			 buf[16384];
	size_t			 off;
	size_t			 len;
};

/* Milliseconds on the monotonic clock. */
static int64_t
client_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Write all bytes, retrying short writes. */
static int
client_write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return (-1);
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* Send an envelope; fills in id and version. */
int
client_send(struct client *c, Evg__Envelope *env, char **cause)
{
	uint8_t	*buf;
	size_t	 len;
	int	 rc;

	if (env->id == 0)
		env->id = c->next_id++;
	env->version = c->version != 0 ? c->version : PROTO_VERSION_MAX;
	if ((buf = codec_frame_verbatim(env, c->dec.max, &len, cause)) ==
	    NULL)
		return (-1);
	rc = client_write_all(c->fd, buf, len);
	free(buf);
	if (rc == -1)
		xasprintf(cause, "sending to the host: %s", strerror(errno));
	return (rc);
}

/* Receive the next envelope; see client.h. */
Evg__Envelope *
client_recv(struct client *c, int timeout_ms, char **cause)
{
	struct pollfd		 pfd = { .fd = c->fd, .events = POLLIN };
	enum frame_result	 fr;
	uint8_t			*payload;
	uint32_t		 plen;
	size_t			 used;
	ssize_t			 n;
	int64_t			 deadline, left;
	Evg__Envelope		*env;
	char			 err[160];

	deadline = timeout_ms < 0 ? -1 : client_now_ms() + timeout_ms;
	for (;;) {
		while (c->off < c->len) {
			fr = frame_decoder_feed(&c->dec, c->buf + c->off,
			    c->len - c->off, &used, &payload, &plen);
			c->off += used;
			if (fr == FRAME_ERROR) {
				xasprintf(cause, "bad frame from the host: %s",
				    c->dec.error);
				return (NULL);
			}
			if (fr == FRAME_NEED_MORE)
				break;
			env = codec_unpack(payload, plen, err, sizeof err);
			free(payload);
			if (env == NULL) {
				xasprintf(cause, "bad message from the host: "
				    "%s", err);
				return (NULL);
			}
			return (env);
		}
		c->off = c->len = 0;
		left = deadline < 0 ? -1 : deadline - client_now_ms();
		if (deadline >= 0 && left <= 0) {
			xasprintf(cause, "no answer from the host within %d ms",
			    timeout_ms);
			return (NULL);
		}
		n = poll(&pfd, 1, (int)left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			continue;
		n = read(c->fd, c->buf, sizeof c->buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			xasprintf(cause, "the host closed the connection%s%s",
			    n == -1 ? ": " : "", n == -1 ? strerror(errno) : "");
			return (NULL);
		}
		c->len = (size_t)n;
	}
}

/* Send a request and wait for its reply; see client.h. */
Evg__Envelope *
client_call(struct client *c, Evg__Envelope *req, client_event_cb cb,
    void *arg, int *code, char **cause)
{
	Evg__Envelope	*env;
	const char	*msg;
	char		*why = NULL;
	uint64_t	 id;

	req->id = 0;
	if (client_send(c, req, cause) == -1) {
		/* A host that refused us may have said why before closing. */
		env = client_recv(c, CLIENT_REFUSAL_WAIT_MS, &why);
		free(why);
		if (env != NULL && env->body_case ==
		    EVG__ENVELOPE__BODY_REPLY && env->id == 0) {
			free(*cause);
			*code = (int)codec_reply_code(env, &msg);
			xasprintf(cause, "%s", msg[0] != '\0' ? msg :
			    status_description((unsigned)*code));
			return (env);
		}
		codec_free(env);
		*code = CLIENT_UNREACHABLE;
		return (NULL);
	}
	id = req->id;
	for (;;) {
		env = client_recv(c, c->timeout_ms, cause);
		if (env == NULL) {
			*code = EVG_UNAVAILABLE;
			return (NULL);
		}
		if (env->body_case == EVG__ENVELOPE__BODY_REPLY &&
		    (env->id == id || env->id == 0)) {
			*code = (int)codec_reply_code(env, &msg);
			if (*code != EVG_OK)
				xasprintf(cause, "%s", msg[0] != '\0' ? msg :
				    status_description((unsigned)*code));
			return (env);
		}
		if (cb != NULL)
			cb(env, arg);
		codec_free(env);
	}
}

/* Connect and complete the Hello handshake; see client.h. */
struct client *
client_open(const struct evg_addr *addr, Evg__Role role, const char *software,
    int timeout_ms, uint32_t max_frame, int *code, char **cause)
{
	struct client	*c;
	Evg__Envelope	 env = EVG__ENVELOPE__INIT, *rep;
	Evg__Hello	 hello = EVG__HELLO__INIT;
	char		*why;
	int		 fd;

	if ((fd = transport_connect(addr, timeout_ms, &why)) == -1) {
		xasprintf(cause, "cannot reach the host at %s", why);
		free(why);
		*code = CLIENT_UNREACHABLE;
		return (NULL);
	}
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->timeout_ms = timeout_ms;
	c->next_id = 1;
	frame_decoder_init(&c->dec, max_frame);

	hello.min_version = PROTO_VERSION_MIN;
	hello.max_version = PROTO_VERSION_MAX;
	hello.role = role;
	hello.software = (char *)software;
	env.body_case = EVG__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	if ((rep = client_call(c, &env, NULL, NULL, code, cause)) == NULL) {
		if (*code == EVG_UNAVAILABLE) {
			why = *cause;
			xasprintf(cause, "host handshake failed: %s", why);
			free(why);
			*code = CLIENT_UNREACHABLE;
		}
		goto fail;
	}
	if (*code != EVG_OK) {
		codec_free(rep);
		goto fail;
	}
	if (rep->reply->result_case != EVG__REPLY__RESULT_HELLO_ACK ||
	    codec_negotiate(rep->reply->hello_ack->version,
	    rep->reply->hello_ack->version) == 0) {
		xasprintf(cause, "host handshake failed: no usable protocol "
		    "version in its answer");
		*code = EVG_UNSUPPORTED;
		codec_free(rep);
		goto fail;
	}
	c->version = rep->reply->hello_ack->version;
	codec_free(rep);
	return (c);
fail:
	client_close(c);
	return (NULL);
}

/* Close and free. */
void
client_close(struct client *c)
{
	if (c == NULL)
		return;
	frame_decoder_reset(&c->dec);
	close(c->fd);
	free(c);
}

/* Change the per-call timeout. */
void
client_set_timeout(struct client *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

/* Negotiated version. */
uint32_t
client_version(const struct client *c)
{
	return (c->version);
}
