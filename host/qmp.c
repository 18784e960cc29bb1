/*
 * One-shot QMP client: a state machine driven by the event loop.  QMP
 * messages are JSON objects separated by CRLF; they are parsed as they
 * arrive with a json_tokener, so a read may hold several messages or part
 * of one.  One timer covers the whole exchange, connect to reply.
 *
 * A prepared client stages its command: right behind qmp_capabilities
 * it sends all of it but the closing brace, and qmp_go() sends that
 * brace.  QEMU's monitor reads its socket one byte per main-loop pass
 * (monitor_can_read() asks for one; about 7 to 14 us a byte on a test
 * machine, so 1 to 2 ms for a snapshot command), and runs a command only
 * once its JSON object is complete.  Staged, all of that is done before the guest freezes;
 * while frozen QEMU reads one byte and snapshots.  An incomplete object
 * never runs: a staged client that is cancelled closes the socket, and
 * QEMU drops what it had parsed of it (its parser is reset when the
 * client goes).
 *
 * A prepared client lingers after its callback: its socket stays open
 * QMP_LINGER_MS, or until another client of the same monitor starts, or
 * qmp_shutdown().  Closing wakes QEMU's main loop, which on a host as
 * busy as the snapshot makes it competes for a CPU with what the answer
 * sets going: the thaw of the frozen guest.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "jsonread.h"
#include "qmp.h"
#include "status.h"
#include "xmalloc.h"

#define QMP_READ_CHUNK	16384
/* Nesting QEMU may send: query-named-block-nodes nests backing chains. */
#define QMP_JSON_DEPTH	256
/* Pause before connecting again to a monitor whose listen queue is full. */
#define QMP_CONNECT_RETRY_MS	50
/* How long a prepared client keeps its socket after its answer. */
#define QMP_LINGER_MS		5

enum qmp_state {
	QMP_CONNECTING,		/* non-blocking connect in progress */
	QMP_GREETING,		/* waiting for {"QMP": ...} */
	QMP_CAPABILITIES,	/* qmp_capabilities sent */
	QMP_READY,		/* prepared: negotiated, the command staged
				   (all but its closing brace sent with
				   qmp_capabilities), waiting for qmp_go() */
	QMP_COMMAND,		/* the command sent */
	QMP_EVENT,		/* answered; waiting for its event */
	QMP_DONE,		/* outcome known; callback scheduled */
};

struct qmp {
	struct event_base	*base;
	enum qmp_state		 state;
	int			 fd;
	char			*path;
	char			*command;
	json_object		*args;
	unsigned int		 timeout_ms;
	/*
	 * Of the request in flight: 1, 2, ... on each connection (replies
	 * come on the connection asked), so tests and fuzzers know them.
	 */
	unsigned int		 id;
	unsigned int		 caps_id;	/* qmp_capabilities' */
	int			 staged;	/* the command is in out */

	json_tokener		*tok;
	size_t			 pending;	/* bytes of the message parsed */

	char			*out;
	size_t			 out_len;
	size_t			 out_off;
	/* The staged command's end: held back from out until qmp_go(). */
	size_t			 out_hold;

	struct event		*ev_read;
	struct event		*ev_write;
	struct event		*ev_timeout;
	struct event		*ev_retry;
	struct event		*ev_done;

	int			 status;
	char			*message;
	json_object		*reply;		/* holds ret */
	json_object		*ret;
	int			 calling;
	qmp_done_cb		 cb;
	void			*arg;
	/* Prepared clients (qmp_prepare()): stop in READY until qmp_go(). */
	int			 held;
	qmp_ready_cb		 ready;
	struct event		*ev_ready;
	/* qmp_execute_event(): the event awaited, and for which device. */
	char			*wait_event;
	char			*wait_device;
	json_object		*event;		/* the one seen, or NULL */
	/* Called back, its socket still open: on qmp_lingering. */
	int			 lingering;
	LIST_ENTRY(qmp)		 linger_entry;
};

static LIST_HEAD(, qmp) qmp_lingering = LIST_HEAD_INITIALIZER(qmp_lingering);

static void	qmp_read_cb(evutil_socket_t, short, void *);
static void	qmp_write_cb(evutil_socket_t, short, void *);
static void	qmp_timeout_cb(evutil_socket_t, short, void *);
static void	qmp_retry_cb(evutil_socket_t, short, void *);
static void	qmp_done_event(evutil_socket_t, short, void *);
static void	qmp_ready_event(evutil_socket_t, short, void *);
static struct qmp *qmp_new(struct event_base *, const char *, const char *,
		    json_object *, unsigned int, qmp_done_cb, void *);
static void	qmp_feed_json(struct qmp *, const char *, size_t);

/* What the client waits for in a state, for messages. */
static const char *
qmp_waiting_for(const struct qmp *q)
{
	switch (q->state) {
	case QMP_CONNECTING:
		return ("connection");
	case QMP_GREETING:
		return ("greeting");
	case QMP_CAPABILITIES:
		return ("qmp_capabilities reply");
	case QMP_READY:
		return ("go-ahead (held open)");
	case QMP_EVENT:
		return ("event");
	case QMP_COMMAND:
	case QMP_DONE:
		break;
	}
	return ("reply");
}

/* Free everything; no callback. */
static void
qmp_free(struct qmp *q)
{
	if (q->lingering)
		LIST_REMOVE(q, linger_entry);
	if (q->ev_read != NULL)
		event_free(q->ev_read);
	if (q->ev_write != NULL)
		event_free(q->ev_write);
	event_free(q->ev_timeout);
	event_free(q->ev_retry);
	event_free(q->ev_done);
	if (q->ev_ready != NULL)
		event_free(q->ev_ready);
	if (q->fd != -1)
		close(q->fd);
	if (q->tok != NULL)
		json_tokener_free(q->tok);
	json_object_put(q->args);
	json_object_put(q->reply);
	json_object_put(q->event);
	free(q->wait_event);
	free(q->wait_device);
	free(q->out);
	free(q->message);
	free(q->path);
	free(q->command);
	free(q);
}

/*
 * Transition to DONE: stop all I/O and schedule the callback.  ret is
 * borrowed from reply, whose reference is taken.  The socket is closed
 * after the callback (qmp_done_event()); QEMU serves the next monitor
 * client once it is closed.
 */
static void
qmp_finish(struct qmp *q, int status, char *message, json_object *reply,
    json_object *ret)
{
	q->state = QMP_DONE;
	q->status = status;
	q->message = message;
	q->reply = reply;
	q->ret = ret;
	if (q->ev_read != NULL)
		event_del(q->ev_read);
	if (q->ev_write != NULL)
		event_del(q->ev_write);
	event_del(q->ev_timeout);
	event_del(q->ev_retry);
	if (q->ev_ready != NULL)
		event_del(q->ev_ready);
	event_active(q->ev_done, 0, 0);
}

/* Transition to DONE with an error status and message. */
static void __attribute__((format(printf, 3, 4)))
qmp_fail(struct qmp *q, int status, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	log_debug("%s: %s", __func__, msg);
	qmp_finish(q, status, msg, NULL, NULL);
}

/*
 * Run the callback, then free: from the loop once more, or for a prepared
 * client once it has lingered (see the top), unless the loop was told to
 * stop.  What the callback set going comes first (a snapshot's result goes
 * on to the thaw through an event of its own), the close after it: it
 * wakes QEMU's monitor thread, which may take a CPU for a while (about
 * 0.1 ms seen on a test machine).
 */
static void
qmp_done_event(evutil_socket_t fd, short events, void *arg)
{
	struct qmp	*q = arg;
	struct timeval	 tv = { 0, QMP_LINGER_MS * 1000 };

	(void)fd;
	(void)events;
	if (q->calling) {
		qmp_free(q);
		return;
	}
	q->calling = 1;
	q->cb(q->status, q->message, q->ret, q->arg);
	if (event_base_got_break(q->base))
		qmp_free(q);
	else if (q->ev_ready != NULL && q->fd != -1) {
		q->lingering = 1;
		LIST_INSERT_HEAD(&qmp_lingering, q, linger_entry);
		event_add(q->ev_done, &tv);
	} else
		event_active(q->ev_done, 0, 0);
}

/* Close the lingering clients of path (all of them for NULL). */
static void
qmp_linger_end(const char *path)
{
	struct qmp	*q, *next;

	for (q = LIST_FIRST(&qmp_lingering); q != NULL; q = next) {
		next = LIST_NEXT(q, linger_entry);
		if (path == NULL || strcmp(q->path, path) == 0)
			qmp_free(q);
	}
}

/*
 * The deadline passed in whatever state: TIMEOUT.  QEMU serves one monitor
 * client at a time and leaves the others in the listen queue, ungreeted
 * (or, once that is full, unconnected): a client that never got as far
 * as the greeting waited for another one, on EVE pillar, to let go.
 */
static void
qmp_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct qmp	*q = arg;
	char		 limit[32];

	(void)fd;
	(void)events;
	if (q->timeout_ms % 1000 == 0)
		snprintf(limit, sizeof limit, "%u s", q->timeout_ms / 1000);
	else
		snprintf(limit, sizeof limit, "%u ms", q->timeout_ms);
	switch (q->state) {
	case QMP_CONNECTING:
		qmp_fail(q, EVG_TIMEOUT, "QMP monitor %s took no connection "
		    "within %s (to run %s): another client (pillar?) holds it "
		    "and its queue is full", q->path, limit, q->command);
		break;
	case QMP_GREETING:
		qmp_fail(q, EVG_TIMEOUT, "QMP monitor %s sent no greeting "
		    "within %s (to run %s): another client (pillar?) holds it",
		    q->path, limit, q->command);
		break;
	case QMP_EVENT:
		qmp_fail(q, EVG_TIMEOUT, "QMP %s: %s of %s accepted, but no "
		    "%s within %s", q->path, q->command, q->wait_device,
		    q->wait_event, limit);
		break;
	case QMP_CAPABILITIES:
	case QMP_READY:
	case QMP_COMMAND:
	case QMP_DONE:
		qmp_fail(q, EVG_TIMEOUT, "QMP %s: no answer to %s within %s",
		    q->path, q->state == QMP_CAPABILITIES ? "qmp_capabilities" :
		    q->command, limit);
		break;
	}
}

/*
 * Send what is queued, up to what is held back, at once if the socket
 * takes it; the rest (a short write, EAGAIN, an error, which it sees
 * again) is left to the write callback.  The prepared snapshot's last
 * byte goes out here the moment the guest is frozen.
 */
static void
qmp_flush(struct qmp *q)
{
	size_t	 end = q->out_len - q->out_hold;
	ssize_t	 n;

	if (q->ev_write == NULL)	/* detached, see qmp.h */
		return;
	if (event_pending(q->ev_write, EV_WRITE, NULL) || q->fd == -1 ||
	    q->state == QMP_CONNECTING)
		return;		/* the write callback sends it */
	if (q->out_off < end) {
		n = send(q->fd, q->out + q->out_off, end - q->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			q->out_off += (size_t)n;
	}
	if (q->out_off < end) {
		event_add(q->ev_write, NULL);
		return;
	}
	if (q->out_hold == 0)
		q->out_off = q->out_len = 0;
}

/*
 * Queue one request {"execute", "arguments", "id"} and send it; staged,
 * its closing brace and line end are held back (see the top of this
 * file).
 */
static void
qmp_send(struct qmp *q, const char *execute, json_object *args, int staged)
{
	json_object	*req;
	const char	*s;
	size_t		 len;

	q->id++;
	req = json_object_new_object();
	json_object_object_add(req, "execute", json_object_new_string(execute));
	if (args != NULL)
		json_object_object_add(req, "arguments", json_object_get(args));
	json_object_object_add(req, "id", json_object_new_int64(q->id));
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	len = strlen(s);
	if (len == 0 || s[len - 1] != '}')
		fatalx("%s: json-c wrote a request not ending in '}'",
		    __func__);
	q->out = xreallocarray(q->out, q->out_len + len + 2, 1);
	memcpy(q->out + q->out_len, s, len);
	memcpy(q->out + q->out_len + len, "\r\n", 2);
	q->out_len += len + 2;
	/* The "}" json-c ends an object with, and the CRLF. */
	q->out_hold = staged ? 3 : 0;
	json_object_put(req);
	qmp_flush(q);
}

/* CONNECTING -> GREETING: the socket is connected. */
static void
qmp_connected(struct qmp *q)
{
	log_debug("%s: %s", __func__, q->path);
	q->state = QMP_GREETING;
	event_add(q->ev_read, NULL);
}

/* GREETING -> CAPABILITIES: leave negotiation mode. */
static void
qmp_greeted(struct qmp *q, json_object *msg)
{
	json_object	*greeting, *v;

	if (!json_object_object_get_ex(msg, "QMP", &greeting)) {
		qmp_fail(q, EVG_BACKEND_ERROR, "QMP %s: expected a greeting, "
		    "got %.80s", q->path, json_object_to_json_string_ext(msg,
		    JSON_C_TO_STRING_PLAIN));
		return;
	}
	if (json_object_object_get_ex(greeting, "version", &v))
		log_debug("%s: %s: %s", __func__, q->path,
		    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	q->state = QMP_CAPABILITIES;
	qmp_send(q, "qmp_capabilities", NULL, 0);
	q->caps_id = q->id;
	/*
	 * A prepared client stages its command right behind: QEMU reads it
	 * while it answers qmp_capabilities and while the guest prepares its
	 * freeze, not after.
	 */
	if (q->held) {
		qmp_send(q, q->command, q->args, 1);
		q->staged = 1;
	}
}

/*
 * CAPABILITIES -> COMMAND: negotiated; send the command, or the staged
 * one's closing brace.  A prepared client still held stops in READY
 * instead: no deadline while held (the caller's step before qmp_go() has
 * its own), and the ready callback follows.
 */
static void
qmp_negotiated(struct qmp *q)
{
	if (q->held) {
		q->state = QMP_READY;
		event_del(q->ev_timeout);
		event_active(q->ev_ready, 0, 0);
		return;
	}
	q->state = QMP_COMMAND;
	if (!q->staged) {
		qmp_send(q, q->command, q->args, 0);
		return;
	}
	/* The staged command's closing brace. */
	q->out_hold = 0;
	qmp_flush(q);
}

/* READY: tell the owner the command can go at once. */
static void
qmp_ready_event(evutil_socket_t fd, short events, void *arg)
{
	struct qmp	*q = arg;

	(void)fd;
	(void)events;
	q->ready(q->arg);
}

/*
 * COMMAND -> DONE: the command's answer, success or error; or COMMAND ->
 * EVENT when an event is awaited that has not come yet.
 */
static void
qmp_answered(struct qmp *q, json_object *msg, json_object *ret)
{
	json_object	*data;

	if (q->wait_event == NULL) {
		qmp_finish(q, EVG_OK, NULL, json_object_get(msg), ret);
		return;
	}
	if (q->event == NULL) {
		q->state = QMP_EVENT;
		return;
	}
	if (!json_object_object_get_ex(q->event, "data", &data))
		data = NULL;
	qmp_finish(q, EVG_OK, NULL, json_object_get(q->event), data);
}

/*
 * An event: the one awaited (its name, and its data's "device" the one
 * named) is kept, and ends an EVENT wait; any other is skipped.
 */
static void
qmp_event(struct qmp *q, json_object *msg, const char *name)
{
	json_object	*data = NULL;
	const char	*dev = NULL;

	if (json_object_object_get_ex(msg, "data", &data))
		dev = jsonread_str(data, "device");
	if (q->wait_event == NULL || q->event != NULL ||
	    (q->state != QMP_COMMAND && q->state != QMP_EVENT) ||
	    strcmp(name, q->wait_event) != 0 || dev == NULL ||
	    strcmp(dev, q->wait_device) != 0) {
		log_debug("%s: %s: skipping event %s", __func__, q->path, name);
		return;
	}
	q->event = json_object_get(msg);
	if (q->state == QMP_EVENT)
		qmp_finish(q, EVG_OK, NULL, json_object_get(msg), data);
}

/* Any state -> DONE: QEMU answered a request with an error. */
static void
qmp_error_reply(struct qmp *q, const char *what, json_object *error)
{
	json_object	*v;
	const char	*desc = NULL, *class = NULL;

	if (json_object_object_get_ex(error, "desc", &v) &&
	    json_object_is_type(v, json_type_string))
		desc = json_object_get_string(v);
	if (json_object_object_get_ex(error, "class", &v) &&
	    json_object_is_type(v, json_type_string))
		class = json_object_get_string(v);
	if (desc == NULL)
		desc = class != NULL ? class : "unknown error";
	log_debug("%s: %s: %s: %s (%s)", __func__, q->path, what, desc,
	    class != NULL ? class : "no class");
	qmp_fail(q, EVG_BACKEND_ERROR, "%s: %s", what, desc);
}

/*
 * Handle a reply ({"return"} or {"error"}) to the request in flight.  A
 * reply carrying another id is stale and skipped; an error without an id
 * is QEMU refusing the request as a whole, so it is ours.
 */
static void
qmp_reply(struct qmp *q, json_object *msg)
{
	json_object	*v, *ret, *error;
	int		 has_ret, has_error;
	const char	*what;

	has_ret = json_object_object_get_ex(msg, "return", &ret);
	has_error = json_object_object_get_ex(msg, "error", &error);
	if (!has_ret && !has_error) {
		qmp_fail(q, EVG_BACKEND_ERROR, "QMP %s: unexpected message "
		    "while waiting for the %s: %.80s", q->path,
		    qmp_waiting_for(q), json_object_to_json_string_ext(msg,
		    JSON_C_TO_STRING_PLAIN));
		return;
	}
	if (json_object_object_get_ex(msg, "id", &v) &&
	    (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != (int64_t)(q->state ==
	    QMP_CAPABILITIES ? q->caps_id : q->id))) {
		log_warnx("%s: %s: skipping a reply to another request (id "
		    "%s)", __func__, q->path, json_object_to_json_string(v));
		return;
	}
	what = q->state == QMP_CAPABILITIES ? "qmp_capabilities" : q->command;
	if (has_error)
		qmp_error_reply(q, what, error);
	else if (q->state == QMP_CAPABILITIES)
		qmp_negotiated(q);
	else
		qmp_answered(q, msg, ret);
}

/* Dispatch one complete message by state; events are skipped. */
static void
qmp_message(struct qmp *q, json_object *msg)
{
	json_object	*v;

	if (!json_object_is_type(msg, json_type_object)) {
		qmp_fail(q, EVG_BACKEND_ERROR, "QMP %s: protocol error: a "
		    "message is not a JSON object", q->path);
		return;
	}
	if (json_object_object_get_ex(msg, "event", &v)) {
		if (jsonread_str(msg, "event") != NULL)
			qmp_event(q, msg, json_object_get_string(v));
		else
			log_debug("%s: %s: skipping an event named by no "
			    "string", __func__, q->path);
		return;
	}
	switch (q->state) {
	case QMP_GREETING:
		qmp_greeted(q, msg);
		break;
	case QMP_CAPABILITIES:
	case QMP_COMMAND:
		qmp_reply(q, msg);
		break;
	case QMP_READY:
		qmp_fail(q, EVG_BACKEND_ERROR, "QMP %s: unexpected message "
		    "while held open to run %s: %.80s", q->path, q->command,
		    json_object_to_json_string_ext(msg,
		    JSON_C_TO_STRING_PLAIN));
		break;
	case QMP_EVENT:
		qmp_fail(q, EVG_BACKEND_ERROR, "QMP %s: unexpected message "
		    "while waiting for %s of %s: %.80s", q->path, q->wait_event,
		    q->wait_device, json_object_to_json_string_ext(msg,
		    JSON_C_TO_STRING_PLAIN));
		break;
	case QMP_CONNECTING:
	case QMP_DONE:
		break;
	}
}

/*
 * Feed received bytes to the tokener and dispatch every message they
 * complete; a message may span reads and a read may hold several.
 */
static void
qmp_feed(struct qmp *q, const char *buf, size_t len)
{
	const char	*nul;

	/*
	 * JSON text holds no NUL byte, and json-c takes one for the end of
	 * its input: what it reports then depends on where reads split the
	 * stream.  A NUL is a protocol error where it stands.
	 */
	if ((nul = memchr(buf, '\0', len)) == NULL) {
		qmp_feed_json(q, buf, len);
		return;
	}
	qmp_feed_json(q, buf, (size_t)(nul - buf));
	if (q->state != QMP_DONE)
		qmp_fail(q, EVG_BACKEND_ERROR, "QMP %s: protocol error: a NUL "
		    "byte in the stream", q->path);
}

/* Feed bytes without a NUL to the tokener; see qmp_feed(). */
static void
qmp_feed_json(struct qmp *q, const char *buf, size_t len)
{
	json_object		*msg;
	enum json_tokener_error	 jerr;
	size_t			 off = 0, used;
	char			 esc[64];

	while (off < len && q->state != QMP_DONE) {
		/*
		 * A message is an object: anything else is refused at its
		 * first byte, not whenever json-c notices (which depends on
		 * where reads split the stream).
		 */
		if (q->pending == 0) {
			while (off < len && (buf[off] == ' ' ||
			    buf[off] == '\t' || buf[off] == '\r' ||
			    buf[off] == '\n'))
				off++;
			if (off == len)
				return;
			if (buf[off] != '{') {
				qmp_fail(q, EVG_BACKEND_ERROR, "QMP %s: "
				    "protocol error: a message is not a JSON "
				    "object", q->path);
				return;
			}
		}
		msg = json_tokener_parse_ex(q->tok, buf + off, (int)(len - off));
		jerr = json_tokener_get_error(q->tok);
		if (msg == NULL && jerr == json_tokener_continue) {
			q->pending += len - off;
			if (q->pending > QMP_MAX_REPLY)
				qmp_fail(q, EVG_BACKEND_ERROR, "QMP %s: %s "
				    "larger than %u bytes", q->path,
				    qmp_waiting_for(q), QMP_MAX_REPLY);
			return;
		}
		if (msg == NULL) {
			log_escape(esc, sizeof esc, buf + off, len - off);
			log_warnx("%s: %s: bad JSON (%s) near \"%s\"", __func__,
			    q->path, json_tokener_error_desc(jerr), esc);
			qmp_fail(q, EVG_BACKEND_ERROR, "QMP %s: protocol error: "
			    "%s", q->path, json_tokener_error_desc(jerr));
			return;
		}
		used = json_tokener_get_parse_end(q->tok);
		off += used;
		q->pending += used;
		json_tokener_reset(q->tok);
		if (q->pending > QMP_MAX_REPLY)
			qmp_fail(q, EVG_BACKEND_ERROR, "QMP %s: %s larger than "
			    "%u bytes", q->path, qmp_waiting_for(q),
			    QMP_MAX_REPLY);
		else
			qmp_message(q, msg);
		q->pending = 0;
		json_object_put(msg);
	}
}

/* Input from QEMU, or the connection closing. */
static void
qmp_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct qmp	*q = arg;
	char		 buf[QMP_READ_CHUNK];
	ssize_t		 n;

	(void)events;
	n = read(fd, buf, sizeof buf);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	/* A reset is QEMU closing with our request unread: a close too. */
	if (n == -1 && errno != ECONNRESET) {
		qmp_fail(q, EVG_UNAVAILABLE, "QMP %s: read: %s (waiting for "
		    "the %s to %s)", q->path, strerror(errno),
		    qmp_waiting_for(q), q->command);
		return;
	}
	if (n <= 0) {
		qmp_fail(q, EVG_UNAVAILABLE, "QMP %s: connection closed by "
		    "QEMU while waiting for the %s to %s", q->path,
		    qmp_waiting_for(q), q->command);
		return;
	}
	qmp_feed(q, buf, (size_t)n);
}

/* Connect completion, then queued output; EV_WRITE is armed only for these. */
static void
qmp_write_cb(evutil_socket_t fd, short events, void *arg)
{
	struct qmp	*q = arg;
	socklen_t	 len = sizeof(int);
	ssize_t		 n;
	int		 error;

	(void)events;
	if (q->state == QMP_CONNECTING) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
			error = errno;
		if (error != 0) {
			qmp_fail(q, EVG_UNAVAILABLE, "QMP %s: cannot connect: "
			    "%s", q->path, strerror(error));
			return;
		}
		qmp_connected(q);
		return;
	}
	while (q->out_off < q->out_len - q->out_hold) {
		n = send(fd, q->out + q->out_off,
		    q->out_len - q->out_hold - q->out_off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			event_add(q->ev_write, NULL);
			return;
		}
		if (n == -1) {
			qmp_fail(q, EVG_UNAVAILABLE, "QMP %s: write: %s "
			    "(sending %s%s)", q->path, strerror(errno),
			    q->state == QMP_CAPABILITIES ? "qmp_capabilities" :
			    q->command, q->state == QMP_CAPABILITIES &&
			    q->staged ? " and the command staged behind it" :
			    "");
			return;
		}
		q->out_off += (size_t)n;
	}
	if (q->out_hold == 0)
		q->out_off = q->out_len = 0;
}

/*
 * Try to connect.  A Unix socket whose listen queue is full (QEMU serves
 * one monitor client at a time) fails with EAGAIN without starting
 * anything, so that is retried on a timer until the deadline.
 */
static void
qmp_try_connect(struct qmp *q)
{
	struct sockaddr_un	sun;
	struct timeval		tv = { 0, QMP_CONNECT_RETRY_MS * 1000 };

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, q->path, strlen(q->path));
	if (connect(q->fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
		qmp_connected(q);
		return;
	}
	switch (errno) {
	case EAGAIN:
		log_debug("%s: %s: listen queue full; retrying", __func__,
		    q->path);
		evtimer_add(q->ev_retry, &tv);
		return;
	case EINPROGRESS:
	case EINTR:
		event_add(q->ev_write, NULL);
		return;
	}
	qmp_fail(q, EVG_UNAVAILABLE, "QMP %s: cannot connect: %s", q->path,
	    strerror(errno));
}

/* The retry timer of a connect that found the listen queue full. */
static void
qmp_retry_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	qmp_try_connect(arg);
}

/* Start the non-blocking connect: the first transition, into CONNECTING. */
static void
qmp_connect(struct qmp *q)
{
	/* QEMU serves one client at a time: no lingering in its way. */
	qmp_linger_end(q->path);
	q->state = QMP_CONNECTING;
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->fd == -1) {
		qmp_fail(q, EVG_UNAVAILABLE, "QMP %s: socket: %s", q->path,
		    strerror(errno));
		return;
	}
	q->ev_read = event_new(q->base, q->fd, EV_READ | EV_PERSIST,
	    qmp_read_cb, q);
	q->ev_write = event_new(q->base, q->fd, EV_WRITE, qmp_write_cb, q);
	if (q->ev_read == NULL || q->ev_write == NULL)
		fatalx("%s: event_new failed", __func__);
	qmp_try_connect(q);
}

/* Start one command; see qmp.h. */
struct qmp *
qmp_execute(struct event_base *base, const char *path, const char *command,
    json_object *args, unsigned int timeout_ms, qmp_done_cb cb, void *arg,
    char **cause)
{
	struct qmp	*q;

	if (path == NULL || *path == '\0') {
		xasprintf(cause, "QMP: no socket path");
		goto fail;
	}
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		xasprintf(cause, "QMP %s: socket path too long", path);
		goto fail;
	}
	if (command == NULL || *command == '\0') {
		xasprintf(cause, "QMP %s: no command", path);
		goto fail;
	}
	if (args != NULL && !json_object_is_type(args, json_type_object)) {
		xasprintf(cause, "QMP %s: arguments to %s are not an object",
		    path, command);
		goto fail;
	}

	q = qmp_new(base, path, command, args, timeout_ms, cb, arg);
	log_debug("%s: %s: %s", __func__, path, command);
	qmp_connect(q);
	return (q);

fail:
	json_object_put(args);
	return (NULL);
}

/* Wait for an event after the command; see qmp.h. */
void
qmp_await_event(struct qmp *q, const char *event, const char *device)
{
	free(q->wait_event);
	free(q->wait_device);
	q->wait_event = xstrdup(event);
	q->wait_device = xstrdup(device);
}

/* Run a command, then wait for its event; see qmp.h. */
struct qmp *
qmp_execute_event(struct event_base *base, const char *path,
    const char *command, json_object *args, unsigned int timeout_ms,
    const char *event, const char *device, qmp_done_cb cb, void *arg,
    char **cause)
{
	struct qmp	*q;

	if ((q = qmp_execute(base, path, command, args, timeout_ms, cb, arg,
	    cause)) != NULL)
		qmp_await_event(q, event, device);
	return (q);
}

/* Connect and negotiate now, run the command at qmp_go(); see qmp.h. */
struct qmp *
qmp_prepare(struct event_base *base, const char *path, const char *command,
    json_object *args, unsigned int timeout_ms, qmp_ready_cb ready,
    qmp_done_cb cb, void *arg, char **cause)
{
	struct qmp	*q;

	if ((q = qmp_execute(base, path, command, args, timeout_ms, cb, arg,
	    cause)) == NULL)
		return (NULL);
	q->held = 1;
	q->ready = ready;
	if ((q->ev_ready = event_new(base, -1, 0, qmp_ready_event, q)) == NULL)
		fatalx("%s: event_new failed", __func__);
	return (q);
}

/* Run the prepared command now (or once negotiated); see qmp.h. */
void
qmp_go(struct qmp *q)
{
	struct timeval	tv;

	if (!q->held)
		return;
	q->held = 0;
	if (q->state != QMP_READY)
		return;
	event_del(q->ev_ready);
	if (q->timeout_ms != 0) {
		tv.tv_sec = q->timeout_ms / 1000;
		tv.tv_usec = (q->timeout_ms % 1000) * 1000;
		evtimer_add(q->ev_timeout, &tv);
	}
	qmp_negotiated(q);
}

/* A client with its timer armed, not yet connecting: no state yet. */
static struct qmp *
qmp_new(struct event_base *base, const char *path, const char *command,
    json_object *args, unsigned int timeout_ms, qmp_done_cb cb, void *arg)
{
	struct qmp	*q;
	struct timeval	 tv;

	q = xcalloc(1, sizeof *q);
	q->base = base;
	q->fd = -1;
	q->path = xstrdup(path);
	q->command = xstrdup(command);
	q->args = args;
	q->timeout_ms = timeout_ms;
	q->cb = cb;
	q->arg = arg;
	if ((q->tok = json_tokener_new_ex(QMP_JSON_DEPTH)) == NULL)
		fatalx("%s: json_tokener_new_ex failed", __func__);
	/*
	 * QEMU writes plain JSON.  Without STRICT, json-c reads comments
	 * after a message and drops the message when one is malformed, or
	 * not, depending on where reads split the stream.
	 */
	json_tokener_set_flags(q->tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_ALLOW_TRAILING_CHARS);
	q->ev_timeout = evtimer_new(base, qmp_timeout_cb, q);
	q->ev_retry = evtimer_new(base, qmp_retry_cb, q);
	q->ev_done = event_new(base, -1, 0, qmp_done_event, q);
	if (q->ev_timeout == NULL || q->ev_retry == NULL || q->ev_done == NULL)
		fatalx("%s: event_new failed", __func__);
	if (timeout_ms != 0) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		evtimer_add(q->ev_timeout, &tv);
	}
	return (q);
}

/* A client on no socket, waiting for the greeting; see qmp.h. */
struct qmp *
qmp_detached(struct event_base *base, const char *command, qmp_done_cb cb,
    void *arg)
{
	struct qmp	*q;

	q = qmp_new(base, "(detached)", command, NULL, 0, cb, arg);
	q->state = QMP_GREETING;
	return (q);
}

/* Input as if QEMU sent it; see qmp.h. */
int
qmp_input(struct qmp *q, const char *buf, size_t len)
{
	qmp_feed(q, buf, len);
	return (q->state == QMP_DONE);
}

/* Close what lingers; see qmp.h. */
void
qmp_shutdown(void)
{
	qmp_linger_end(NULL);
}

/* Close without a callback; see qmp.h. */
void
qmp_cancel(struct qmp *q)
{
	if (q == NULL || q->calling)
		return;
	qmp_free(q);
}
