/*
 * Unit tests for host/qmp.c against a fake QMP server (a forked child on a
 * listening Unix socket in a temporary directory, scripted per test), and
 * one test against a real QEMU when it is installed.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "backend_impl.h"
#include "jsonread.h"
#include "qmp.h"
#include "status.h"
#include "suites.h"
#include "transport.h"
#include "xmalloc.h"

#define GUARD_MS	10000
#define QEMU_SYSTEM	"/usr/bin/qemu-system-x86_64"
#define QEMU_IMG	"/usr/bin/qemu-img"

#define GREETING	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, " \
			"\"minor\": 2, \"major\": 7}, \"package\": \"\"}, " \
			"\"capabilities\": [\"oob\"]}}\r\n"
#define EVENT		"{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}," \
			" \"event\": \"RESUME\"}\r\n"

/* How the fake server behaves after accepting one connection. */
enum fake {
	FAKE_NORMAL,		/* greeting, replies echo the request */
	FAKE_EVENTS,		/* events around and inside every reply */
	FAKE_BYTEWISE,		/* every message written one byte a time */
	FAKE_ERROR,		/* the command gets an error reply */
	FAKE_STALE_ID,		/* a reply with another id comes first */
	FAKE_CLOSE_EARLY,	/* closes after reading the command */
	FAKE_CLOSE_AT_ONCE,	/* closes before the greeting */
	FAKE_SILENT,		/* never answers the command */
	FAKE_NO_GREETING,	/* accepts, says nothing */
	FAKE_HUGE,		/* a reply larger than QMP_MAX_REPLY */
	FAKE_GARBAGE,		/* not JSON */
	FAKE_CAPS_ERROR,	/* qmp_capabilities refused */
	FAKE_STAGED,		/* answers with what came before a pause */
};

/* One test's world: loop, temporary directory, fake server. */
struct world {
	struct event_base	*base;
	struct event		*guard;
	int			 guard_fired;
	char			 dir[64];
	char			 sock[96];
	pid_t			 server;
};

/* What the callback saw. */
struct outcome {
	int	 calls;
	int	 status;
	char	*message;
	char	*ret;
};

static struct world	w;

/* The guard timer: the loop ran too long. */
static void
guard_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	w.guard_fired = 1;
	event_base_loopbreak(w.base);
}

/* A base with a guard and an empty temporary directory. */
static void
world_setup(void)
{
	struct timeval	tv = { GUARD_MS / 1000, 0 };

	memset(&w, 0, sizeof w);
	w.base = event_base_new();
	ck_assert_ptr_nonnull(w.base);
	w.guard = evtimer_new(w.base, guard_cb, NULL);
	evtimer_add(w.guard, &tv);
	snprintf(w.dir, sizeof w.dir, "/tmp/evg-qmp-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(w.dir));
	snprintf(w.sock, sizeof w.sock, "%s/qmp.sock", w.dir);
}

/* Stop the fake server and remove everything. */
static void
world_teardown(void)
{
	if (w.server > 0) {
		kill(w.server, SIGKILL);
		waitpid(w.server, NULL, 0);
	}
	unlink(w.sock);
	rmdir(w.dir);
	qmp_shutdown();
	event_free(w.guard);
	event_base_free(w.base);
}

/* Write all of s; the fake server gives up quietly if the client left. */
static int
fake_write(int fd, const char *s, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, s, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		s += n;
		len -= (size_t)n;
	}
	return (0);
}

/* Write a string, or (bytewise) one byte per write with a pause. */
static int
fake_send(int fd, const char *s, int bytewise)
{
	size_t	i;

	if (!bytewise)
		return (fake_write(fd, s, strlen(s)));
	for (i = 0; s[i] != '\0'; i++) {
		if (fake_write(fd, s + i, 1) == -1)
			return (-1);
		usleep(300);
	}
	return (0);
}

/*
 * Read one request a byte at a time and check its shape.  Returns it (the
 * caller puts it) with *id set, or NULL on EOF or a malformed request.
 */
static json_object *
fake_request(int fd, long *id)
{
	json_tokener	*tok = json_tokener_new();
	json_object	*req = NULL, *v;
	char		 c;

	while (req == NULL) {
		if (read(fd, &c, 1) != 1)
			break;
		req = json_tokener_parse_ex(tok, &c, 1);
		if (req == NULL &&
		    json_tokener_get_error(tok) != json_tokener_continue)
			break;
	}
	json_tokener_free(tok);
	if (req == NULL)
		return (NULL);
	if (!json_object_object_get_ex(req, "execute", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    !json_object_object_get_ex(req, "id", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		json_object_put(req);
		return (NULL);
	}
	*id = (long)json_object_get_int64(v);
	return (req);
}

/* The name a request executes. */
static const char *
fake_execute(json_object *req)
{
	json_object	*v;

	json_object_object_get_ex(req, "execute", &v);
	return (json_object_get_string(v));
}

/* The reply echoing a request: {"return": {"execute", "arguments"}}. */
static char *
fake_echo(json_object *req, long id)
{
	json_object	*ret, *reply, *v;
	char		*s;

	ret = json_object_new_object();
	json_object_object_add(ret, "execute",
	    json_object_new_string(fake_execute(req)));
	if (json_object_object_get_ex(req, "arguments", &v))
		json_object_object_add(ret, "arguments", json_object_get(v));
	reply = json_object_new_object();
	json_object_object_add(reply, "return", ret);
	json_object_object_add(reply, "id", json_object_new_int64(id));
	xasprintf(&s, "%s\r\n", json_object_to_json_string_ext(reply,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(reply);
	return (s);
}

/*
 * FAKE_STAGED: what the client sends up to a pause of 300 ms is what it
 * staged; the request goes on after the pause.  The reply's return is
 * {"staged": what came before the pause}.
 */
static void
fake_staged(int fd)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	json_tokener	*tok = json_tokener_new();
	json_object	*req, *ret, *reply, *v;
	char		 staged[512], c;
	size_t		 n = 0;

	/* The CRLF that ended qmp_capabilities comes first. */
	while (n < sizeof staged - 1 && poll(&pfd, 1, 300) == 1 &&
	    read(fd, &c, 1) == 1)
		if (n > 0 || (c != '\r' && c != '\n'))
			staged[n++] = c;
	staged[n] = '\0';
	req = json_tokener_parse_ex(tok, staged, (int)n);
	while (req == NULL &&
	    json_tokener_get_error(tok) == json_tokener_continue &&
	    read(fd, &c, 1) == 1)
		req = json_tokener_parse_ex(tok, &c, 1);
	json_tokener_free(tok);
	if (req == NULL || !json_object_object_get_ex(req, "id", &v))
		_exit(2);
	ret = json_object_new_object();
	json_object_object_add(ret, "staged", json_object_new_string(staged));
	reply = json_object_new_object();
	json_object_object_add(reply, "return", ret);
	json_object_object_add(reply, "id", json_object_get(v));
	fake_send(fd, json_object_to_json_string_ext(reply,
	    JSON_C_TO_STRING_PLAIN), 0);
	fake_send(fd, "\r\n", 0);
	json_object_put(reply);
	json_object_put(req);
}

/* Read and drop input until the client closes. */
static void
fake_drain(int fd)
{
	char	buf[256];

	while (read(fd, buf, sizeof buf) > 0)
		;
}

/* The fake server's script for one connection; returns at the end. */
static void
fake_serve(int fd, enum fake how)
{
	json_object	*req;
	char		*s, buf[256];
	long		 id;
	int		 bw = how == FAKE_BYTEWISE;
	size_t		 i;

	switch (how) {
	case FAKE_CLOSE_AT_ONCE:
		return;
	case FAKE_NO_GREETING:
		fake_drain(fd);
		return;
	case FAKE_GARBAGE:
		fake_send(fd, "hello, this is not JSON\r\n", 0);
		fake_drain(fd);
		return;
	case FAKE_EVENTS:
		fake_send(fd, GREETING EVENT, 0);
		break;
	default:
		fake_send(fd, GREETING, bw);
		break;
	}

	if ((req = fake_request(fd, &id)) == NULL ||
	    strcmp(fake_execute(req), "qmp_capabilities") != 0)
		_exit(2);
	json_object_put(req);
	if (how == FAKE_CAPS_ERROR) {
		snprintf(buf, sizeof buf, "{\"id\": %ld, \"error\": {\"class\": "
		    "\"CommandNotFound\", \"desc\": \"Capabilities negotiation "
		    "is already complete, command ignored\"}}\r\n", id);
		fake_send(fd, buf, 0);
		fake_drain(fd);
		return;
	}
	snprintf(buf, sizeof buf, "%s{\"return\": {}, \"id\": %ld}\r\n%s",
	    how == FAKE_EVENTS ? EVENT : "", id,
	    how == FAKE_EVENTS ? EVENT : "");
	fake_send(fd, buf, bw);

	if (how == FAKE_STAGED) {
		fake_staged(fd);
		fake_drain(fd);
		return;
	}
	if ((req = fake_request(fd, &id)) == NULL)
		_exit(2);
	switch (how) {
	case FAKE_CLOSE_EARLY:
		json_object_put(req);
		return;
	case FAKE_SILENT:
		json_object_put(req);
		fake_drain(fd);
		return;
	case FAKE_ERROR:
		snprintf(buf, sizeof buf, "{\"id\": %ld, \"error\": {\"class\": "
		    "\"GenericError\", \"desc\": \"Device 'x' not found\"}}\r\n",
		    id);
		fake_send(fd, buf, 0);
		break;
	case FAKE_HUGE:
		fake_send(fd, "{\"return\": \"", 0);
		memset(buf, 'x', sizeof buf);
		for (i = 0; i <= QMP_MAX_REPLY / sizeof buf; i++)
			if (fake_write(fd, buf, sizeof buf) == -1)
				break;
		fake_send(fd, "\"}\r\n", 0);
		break;
	case FAKE_STALE_ID:
		snprintf(buf, sizeof buf, "{\"return\": {\"stale\": true}, "
		    "\"id\": %ld}\r\n", id + 1000);
		fake_send(fd, buf, 0);
		/* FALLTHROUGH */
	default:
		s = fake_echo(req, id);
		if (how == FAKE_EVENTS) {
			/* An event, then the reply cut in two writes. */
			fake_send(fd, EVENT, 0);
			fake_write(fd, s, 10);
			usleep(50000);
			fake_write(fd, s + 10, strlen(s) - 10);
			fake_send(fd, EVENT, 0);
		} else
			fake_send(fd, s, bw);
		free(s);
		break;
	}
	json_object_put(req);
	/* Stay connected: the client, not the server, ends the exchange. */
	fake_drain(fd);
}

/*
 * Fork a server on listening socket lfd: it accepts and closes skip
 * connections, then serves one connection how.
 */
static void
fake_fork(int lfd, enum fake how, int skip)
{
	int	fd = -1;

	w.server = fork();
	ck_assert_int_ne(w.server, -1);
	if (w.server == 0) {
		/* A failed check ends the test without its teardown. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_IGN);
		transport_set_nonblock(lfd, 0);
		for (; skip >= 0; skip--) {
			if ((fd = accept(lfd, NULL, NULL)) == -1)
				_exit(1);
			if (skip > 0)
				close(fd);
		}
		fake_serve(fd, how);
		close(fd);
		_exit(0);
	}
	close(lfd);
}

/* Listen on w.sock and fork a server that serves one connection how. */
static void
fake_start(enum fake how)
{
	char	*cause = NULL;
	int	 lfd;

	lfd = transport_listen_unix(w.sock, 0600, 4, &cause);
	ck_assert_msg(lfd != -1, "listen: %s", cause);
	fake_fork(lfd, how, 0);
}

/* Callback: copy the outcome and stop the loop. */
static void
done_cb(int status, const char *message, json_object *ret, void *arg)
{
	struct outcome	*o = arg;

	o->calls++;
	o->status = status;
	o->message = message != NULL ? xstrdup(message) : NULL;
	o->ret = ret != NULL ? xstrdup(json_object_to_json_string_ext(ret,
	    JSON_C_TO_STRING_PLAIN)) : NULL;
	event_base_loopbreak(w.base);
}

/* Run one command to its callback. */
static void
run(const char *command, json_object *args, unsigned int timeout_ms,
    struct outcome *o)
{
	char		*cause = NULL;
	struct qmp	*q;

	memset(o, 0, sizeof *o);
	q = qmp_execute(w.base, w.sock, command, args, timeout_ms, done_cb, o,
	    &cause);
	ck_assert_msg(q != NULL, "qmp_execute: %s", cause);
	while (o->calls == 0 && !w.guard_fired)
		event_base_loop(w.base, EVLOOP_ONCE);
	ck_assert_msg(!w.guard_fired, "loop guard fired");
	ck_assert_int_eq(o->calls, 1);
}

/* Free what done_cb() copied. */
static void
outcome_free(struct outcome *o)
{
	free(o->message);
	free(o->ret);
}

/* The arguments used by most tests. */
static json_object *
snap_args(const char *device, const char *name)
{
	json_object	*a = json_object_new_object();

	json_object_object_add(a, "device", json_object_new_string(device));
	json_object_object_add(a, "name", json_object_new_string(name));
	return (a);
}

/* Assert message starts with prefix. */
static void
assert_prefix(const char *message, const char *prefix)
{
	ck_assert_ptr_nonnull(message);
	ck_assert_msg(strncmp(message, prefix, strlen(prefix)) == 0,
	    "message '%s' does not start with '%s'", message, prefix);
}

/* Run a command against a fake server behaving as how. */
static void
run_fake(enum fake how, unsigned int timeout_ms, struct outcome *o)
{
	fake_start(how);
	run("blockdev-snapshot-internal-sync", snap_args("x", "snap1"),
	    timeout_ms, o);
}

#define ECHO	"{\"execute\":\"blockdev-snapshot-internal-sync\"," \
		"\"arguments\":{\"device\":\"x\",\"name\":\"snap1\"}}"

/* Proves the normal flow: greeting, capabilities, command, its return. */
START_TEST(test_normal)
{
	struct outcome	o;

	world_setup();
	run_fake(FAKE_NORMAL, 5000, &o);
	ck_assert_int_eq(o.status, EVG_OK);
	ck_assert_ptr_null(o.message);
	ck_assert_str_eq(o.ret, ECHO);
	outcome_free(&o);
	world_teardown();
}
END_TEST

/* Proves a command without arguments is sent without "arguments". */
START_TEST(test_no_arguments)
{
	struct outcome	o;

	world_setup();
	fake_start(FAKE_NORMAL);
	run("query-named-block-nodes", NULL, 5000, &o);
	ck_assert_int_eq(o.status, EVG_OK);
	ck_assert_str_eq(o.ret, "{\"execute\":\"query-named-block-nodes\"}");
	outcome_free(&o);
	world_teardown();
}
END_TEST

/*
 * Proves events are skipped wherever they come: with the greeting in one
 * read, around replies, and between the halves of a split reply.
 */
START_TEST(test_events_interleaved)
{
	struct outcome	o;

	world_setup();
	run_fake(FAKE_EVENTS, 5000, &o);
	ck_assert_int_eq(o.status, EVG_OK);
	ck_assert_str_eq(o.ret, ECHO);
	outcome_free(&o);
	world_teardown();
}
END_TEST

/* Proves messages written one byte at a time are reassembled. */
START_TEST(test_bytewise)
{
	struct outcome	o;

	world_setup();
	run_fake(FAKE_BYTEWISE, 8000, &o);
	ck_assert_int_eq(o.status, EVG_OK);
	ck_assert_str_eq(o.ret, ECHO);
	outcome_free(&o);
	world_teardown();
}
END_TEST

/* Proves an error reply is BACKEND_ERROR "<command>: <desc>". */
START_TEST(test_error_reply)
{
	struct outcome	o;

	world_setup();
	run_fake(FAKE_ERROR, 5000, &o);
	ck_assert_int_eq(o.status, EVG_BACKEND_ERROR);
	ck_assert_str_eq(o.message, "blockdev-snapshot-internal-sync: "
	    "Device 'x' not found");
	ck_assert_ptr_null(o.ret);
	outcome_free(&o);

	world_teardown();
	world_setup();
	run_fake(FAKE_CAPS_ERROR, 5000, &o);
	ck_assert_int_eq(o.status, EVG_BACKEND_ERROR);
	ck_assert_str_eq(o.message, "qmp_capabilities: Capabilities "
	    "negotiation is already complete, command ignored");
	outcome_free(&o);
	world_teardown();
}
END_TEST

/* Proves a reply to another id is skipped, not taken for ours. */
START_TEST(test_stale_id)
{
	struct outcome	o;

	world_setup();
	run_fake(FAKE_STALE_ID, 5000, &o);
	ck_assert_int_eq(o.status, EVG_OK);
	ck_assert_str_eq(o.ret, ECHO);
	outcome_free(&o);
	world_teardown();
}
END_TEST

/* Proves a server closing early is UNAVAILABLE naming the socket. */
START_TEST(test_server_closes)
{
	struct outcome	 o;
	char		 expect[256];

	world_setup();
	run_fake(FAKE_CLOSE_EARLY, 5000, &o);
	ck_assert_int_eq(o.status, EVG_UNAVAILABLE);
	snprintf(expect, sizeof expect, "QMP %s: connection closed by QEMU "
	    "while waiting for the reply to blockdev-snapshot-internal-sync",
	    w.sock);
	ck_assert_str_eq(o.message, expect);
	outcome_free(&o);
	world_teardown();

	world_setup();
	run_fake(FAKE_CLOSE_AT_ONCE, 5000, &o);
	ck_assert_int_eq(o.status, EVG_UNAVAILABLE);
	snprintf(expect, sizeof expect, "QMP %s: connection closed by QEMU "
	    "while waiting for the greeting", w.sock);
	assert_prefix(o.message, expect);
	outcome_free(&o);
	world_teardown();
}
END_TEST

/* Proves a server that never answers gives TIMEOUT after the deadline. */
START_TEST(test_timeout)
{
	struct outcome	 o;
	char		 expect[256];

	world_setup();
	run_fake(FAKE_SILENT, 300, &o);
	ck_assert_int_eq(o.status, EVG_TIMEOUT);
	snprintf(expect, sizeof expect, "QMP %s: no answer to "
	    "blockdev-snapshot-internal-sync within 300 ms", w.sock);
	ck_assert_str_eq(o.message, expect);
	outcome_free(&o);
	world_teardown();

	/* A monitor busy with another client accepts but never greets. */
	world_setup();
	snprintf(expect, sizeof expect, "QMP monitor %s sent no greeting "
	    "within 300 ms (to run blockdev-snapshot-internal-sync): another "
	    "client (pillar?) holds it", w.sock);
	run_fake(FAKE_NO_GREETING, 300, &o);
	ck_assert_int_eq(o.status, EVG_TIMEOUT);
	ck_assert_str_eq(o.message, expect);
	outcome_free(&o);
	world_teardown();
}
END_TEST

/* Proves a missing or dead socket is UNAVAILABLE naming the path. */
START_TEST(test_missing_socket)
{
	struct sockaddr_un	 sun;
	struct outcome		 o;
	char			 expect[256];
	int			 fd;

	world_setup();
	run("query-status", NULL, 5000, &o);
	ck_assert_int_eq(o.status, EVG_UNAVAILABLE);
	snprintf(expect, sizeof expect, "QMP %s: cannot connect: No such file "
	    "or directory", w.sock);
	ck_assert_str_eq(o.message, expect);
	outcome_free(&o);

	/* A socket file nobody listens on (QEMU gone): refused. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", w.sock);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	close(fd);
	run("query-status", NULL, 5000, &o);
	ck_assert_int_eq(o.status, EVG_UNAVAILABLE);
	snprintf(expect, sizeof expect, "QMP %s: cannot connect: Connection "
	    "refused", w.sock);
	ck_assert_str_eq(o.message, expect);
	outcome_free(&o);
	world_teardown();
}
END_TEST

/* Proves replies over QMP_MAX_REPLY and non-JSON input are refused. */
START_TEST(test_bad_input)
{
	struct outcome	 o;
	char		 expect[256];

	world_setup();
	run_fake(FAKE_HUGE, 8000, &o);
	ck_assert_int_eq(o.status, EVG_BACKEND_ERROR);
	snprintf(expect, sizeof expect, "QMP %s: reply larger than %u bytes",
	    w.sock, QMP_MAX_REPLY);
	ck_assert_str_eq(o.message, expect);
	outcome_free(&o);
	world_teardown();

	world_setup();
	run_fake(FAKE_GARBAGE, 5000, &o);
	ck_assert_int_eq(o.status, EVG_BACKEND_ERROR);
	snprintf(expect, sizeof expect, "QMP %s: protocol error", w.sock);
	assert_prefix(o.message, expect);
	outcome_free(&o);
	world_teardown();
}
END_TEST

/*
 * Proves a monitor whose listen queue is full (EAGAIN on connect, as when
 * another client holds QEMU's monitor) is retried until it accepts, and
 * that a deadline passing meanwhile says the monitor is held.
 */
START_TEST(test_listen_queue_full)
{
	struct sockaddr_un	 sun;
	struct outcome		 o;
	struct qmp		*q;
	struct timeval		 tv = { 0, 200000 };
	char			*cause = NULL, expect[256];
	int			 lfd, fds[16], n;

	world_setup();
	lfd = transport_listen_unix(w.sock, 0600, 0, &cause);
	ck_assert_msg(lfd != -1, "listen: %s", cause);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", w.sock);
	for (n = 0; n < 16; n++) {
		fds[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(fds[n], (struct sockaddr *)&sun, sizeof sun) == -1) {
			ck_assert_int_eq(errno, EAGAIN);
			close(fds[n]);
			break;
		}
	}
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, 16);

	run("query-block", NULL, 300, &o);
	ck_assert_int_eq(o.status, EVG_TIMEOUT);
	snprintf(expect, sizeof expect, "QMP monitor %s took no connection "
	    "within 300 ms (to run query-block): another client (pillar?) "
	    "holds it and its queue is full", w.sock);
	ck_assert_str_eq(o.message, expect);
	outcome_free(&o);

	memset(&o, 0, sizeof o);
	q = qmp_execute(w.base, w.sock, "blockdev-snapshot-internal-sync",
	    snap_args("x", "snap1"), 5000, done_cb, &o, &cause);
	ck_assert_ptr_nonnull(q);
	event_base_loopexit(w.base, &tv);
	event_base_dispatch(w.base);
	ck_assert_int_eq(o.calls, 0);

	fake_fork(lfd, FAKE_NORMAL, n);
	while (o.calls == 0 && !w.guard_fired)
		event_base_loop(w.base, EVLOOP_ONCE);
	ck_assert_int_eq(o.calls, 1);
	ck_assert_msg(o.status == EVG_OK, "%s", o.message);
	ck_assert_str_eq(o.ret, ECHO);
	outcome_free(&o);
	while (n-- > 0)
		close(fds[n]);
	world_teardown();
}
END_TEST

static int	cancelled_calls;

/* A callback that must never run. */
static void
never_cb(int status, const char *message, json_object *ret, void *arg)
{
	(void)status;
	(void)message;
	(void)ret;
	(void)arg;
	cancelled_calls++;
}

/* A prepared client's outcome (first, for done_cb) and ready calls. */
struct prepared {
	struct outcome	 o;
	int		 ready;
};

/* Ready callback: count. */
static void
ready_cb(void *arg)
{
	((struct prepared *)arg)->ready++;
}

/*
 * A new world with a fake server behaving as how, and a prepared client
 * of it that calls cb with p (cleared).
 */
static struct qmp *
prepared_start(enum fake how, struct prepared *p, qmp_done_cb cb)
{
	struct qmp	*q;
	char		*cause = NULL;

	world_setup();
	fake_start(how);
	memset(p, 0, sizeof *p);
	q = qmp_prepare(w.base, w.sock, "blockdev-snapshot-internal-sync",
	    snap_args("x", "snap1"), 5000, ready_cb, cb, p, &cause);
	ck_assert_msg(q != NULL, "qmp_prepare: %s", cause);
	return (q);
}

/* Run the loop until p is called back (or, with ready, ready). */
static void
prepared_wait(struct prepared *p, int ready)
{
	while (p->o.calls == 0 && (!ready || p->ready == 0) &&
	    !w.guard_fired)
		event_base_loop(w.base, EVLOOP_ONCE);
	ck_assert_msg(!w.guard_fired, "loop guard fired");
}

/*
 * Proves a prepared client stages its command: behind qmp_capabilities
 * it sends all of it but the closing brace (and CRLF), never more until
 * qmp_go(), and the rest at qmp_go(); let go before it is negotiated it
 * sends the whole command at once; a refused qmp_capabilities fails it
 * without ready; and cancelling a staged client calls nothing back.
 */
START_TEST(test_staged)
{
	struct prepared	 p;
	struct qmp	*q;
	struct timeval	 tv = { 0, 900000 };

	q = prepared_start(FAKE_STAGED, &p, done_cb);
	prepared_wait(&p, 1);
	ck_assert_msg(p.ready == 1, "not ready: %s", p.o.message);
	/* Held past the server's pause: it sees only the staged part. */
	event_base_loopexit(w.base, &tv);
	event_base_dispatch(w.base);
	ck_assert_int_eq(p.o.calls, 0);
	qmp_go(q);
	prepared_wait(&p, 0);
	ck_assert_msg(p.o.status == EVG_OK, "%s", p.o.message);
	ck_assert_str_eq(p.o.ret, "{\"staged\":\"{\\\"execute\\\":"
	    "\\\"blockdev-snapshot-internal-sync\\\",\\\"arguments\\\":"
	    "{\\\"device\\\":\\\"x\\\",\\\"name\\\":\\\"snap1\\\"},"
	    "\\\"id\\\":2\"}");
	outcome_free(&p.o);
	world_teardown();

	/* Let go before negotiated: the whole command at once. */
	q = prepared_start(FAKE_STAGED, &p, done_cb);
	qmp_go(q);
	prepared_wait(&p, 0);
	ck_assert_msg(p.o.status == EVG_OK, "%s", p.o.message);
	ck_assert_int_eq(p.ready, 0);
	ck_assert_msg(strstr(p.o.ret, "\\\"id\\\":2}") != NULL,
	    "not sent whole before the pause: %s", p.o.ret);
	outcome_free(&p.o);
	world_teardown();

	/* qmp_capabilities refused, the command staged: never ready. */
	(void)prepared_start(FAKE_CAPS_ERROR, &p, done_cb);
	prepared_wait(&p, 0);
	ck_assert_int_eq(p.o.status, EVG_BACKEND_ERROR);
	ck_assert_int_eq(p.ready, 0);
	assert_prefix(p.o.message, "qmp_capabilities: ");
	outcome_free(&p.o);
	world_teardown();

	/* Cancelled while staged: no callback. */
	cancelled_calls = 0;
	q = prepared_start(FAKE_STAGED, &p, never_cb);
	prepared_wait(&p, 1);
	ck_assert_int_eq(p.ready, 1);
	qmp_cancel(q);
	tv.tv_usec = 100000;
	event_base_loopexit(w.base, &tv);
	event_base_dispatch(w.base);
	ck_assert_int_eq(cancelled_calls, 0);
	world_teardown();
}
END_TEST

/* Callback: count, and keep the loop going (done_cb stops it). */
static void
quiet_cb(int status, const char *message, json_object *ret, void *arg)
{
	struct outcome	*o = arg;

	(void)message;
	(void)ret;
	o->calls++;
	o->status = status;
}

/* How many descriptors this process has open. */
static int
open_fds(void)
{
	char	 path[32];
	int	 fd, n = 0;

	for (fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			n++;
	}
	return (n);
}

/* A prepared client run to its callback (which leaves the loop going). */
static void
prepared_run(struct prepared *p)
{
	struct qmp	*q;

	q = prepared_start(FAKE_STAGED, p, quiet_cb);
	prepared_wait(p, 1);
	ck_assert_int_eq(p->ready, 1);
	qmp_go(q);
	prepared_wait(p, 0);
	ck_assert_int_eq(p->o.status, EVG_OK);
}

/*
 * Proves a prepared client keeps its monitor socket a moment after its
 * callback (closing wakes QEMU, which would compete with the thaw the
 * answer sets going), then closes it by itself; qmp_shutdown() and the
 * next client of the same monitor (QEMU serves one at a time) close it
 * at once.
 */
START_TEST(test_linger)
{
	struct prepared	 p;
	struct outcome	 o;
	struct timeval	 tv = { 0, 50000 };
	char		*cause = NULL;
	pid_t		 first;
	int		 n;

	prepared_run(&p);
	n = open_fds();
	event_base_loopexit(w.base, &tv);
	event_base_dispatch(w.base);
	ck_assert_int_eq(open_fds(), n - 1);
	world_teardown();

	prepared_run(&p);
	n = open_fds();
	qmp_shutdown();
	ck_assert_int_eq(open_fds(), n - 1);
	world_teardown();

	prepared_run(&p);
	/* The first server drains until the client closes: a second one. */
	first = w.server;
	unlink(w.sock);
	fake_start(FAKE_NORMAL);
	n = open_fds();
	memset(&o, 0, sizeof o);
	ck_assert_ptr_nonnull(qmp_execute(w.base, w.sock, "query-status",
	    NULL, 5000, quiet_cb, &o, &cause));
	/* Its socket in, the lingering one out. */
	ck_assert_int_eq(open_fds(), n);
	while (o.calls == 0 && !w.guard_fired)
		event_base_loop(w.base, EVLOOP_ONCE);
	ck_assert_int_eq(o.status, EVG_OK);
	ck_assert_int_eq(waitpid(first, NULL, 0), first);
	world_teardown();
}
END_TEST

/*
 * Proves qmp_cancel() at once or mid-exchange never calls back (and, under
 * ASan, frees everything), and bad paths fail at once taking the args.
 */
START_TEST(test_cancel_and_bad_path)
{
	struct qmp	*q;
	struct timeval	 tv = { 0, 200000 };
	char		*cause = NULL, longpath[200];

	world_setup();
	cancelled_calls = 0;
	q = qmp_execute(w.base, w.sock, "query-status", NULL, 5000, never_cb,
	    NULL, &cause);
	ck_assert_ptr_nonnull(q);
	qmp_cancel(q);

	fake_start(FAKE_SILENT);
	q = qmp_execute(w.base, w.sock, "blockdev-snapshot-internal-sync",
	    snap_args("x", "y"), 5000, never_cb, NULL, &cause);
	ck_assert_ptr_nonnull(q);
	event_base_loopexit(w.base, &tv);
	event_base_dispatch(w.base);
	qmp_cancel(q);
	event_base_loopexit(w.base, &tv);
	event_base_dispatch(w.base);
	ck_assert_int_eq(cancelled_calls, 0);

	memset(longpath, 'a', sizeof longpath);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';
	ck_assert_ptr_null(qmp_execute(w.base, longpath, "query-status",
	    snap_args("x", "y"), 5000, never_cb, NULL, &cause));
	assert_prefix(cause, "QMP /aaa");
	free(cause);
	ck_assert_ptr_null(qmp_execute(w.base, w.sock, "query-status",
	    json_object_new_string("x"), 5000, never_cb, NULL, &cause));
	free(cause);
	world_teardown();
}
END_TEST

/* A QEMU started by the fixture below, in the runner's process. */
static struct {
	int	skip;
	char	why[512];
	char	dir[64];
	char	img[128];
	char	sock[128];
	char	log[128];
	pid_t	pid;
} qemu;

/* Run argv, output to the log file; returns its exit status or -1. */
static int
qemu_run(char *const argv[], int wait)
{
	pid_t	pid;
	int	fd, status;

	if ((pid = fork()) == -1)
		return (-1);
	if (pid == 0) {
		fd = open(qemu.log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (!wait)
		return (pid);
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status))
		return (-1);
	return (WEXITSTATUS(status));
}

/*
 * Unchecked fixture: start QEMU on a fresh 64 MiB qcow2 with a QMP socket
 * before the test case, so that the teardown (run by the runner whatever
 * the test did) always kills it.  Problems are recorded, not asserted.
 */
static void
qemu_setup(void)
{
	char		 blk1[256], blk2[64], qmp[192];
	char		*create[] = { QEMU_IMG, "create", "-q", "-f", "qcow2",
			    qemu.img, "64M", NULL };
	char		*start[] = { QEMU_SYSTEM, "-machine", "none",
			    "-nodefaults", "-display", "none", "-accel", "tcg",
			    "-blockdev", blk1, "-blockdev", blk2, "-qmp", qmp,
			    NULL };
	struct stat	 sb;
	int		 i, status;

	memset(&qemu, 0, sizeof qemu);
	if (access(QEMU_SYSTEM, X_OK) != 0 || access(QEMU_IMG, X_OK) != 0) {
		qemu.skip = 1;
		return;
	}
	snprintf(qemu.dir, sizeof qemu.dir, "/tmp/evg-qemu-XXXXXX");
	if (mkdtemp(qemu.dir) == NULL) {
		snprintf(qemu.why, sizeof qemu.why, "mkdtemp: %s",
		    strerror(errno));
		return;
	}
	snprintf(qemu.img, sizeof qemu.img, "%s/disk.qcow2", qemu.dir);
	snprintf(qemu.sock, sizeof qemu.sock, "%s/qmp.sock", qemu.dir);
	snprintf(qemu.log, sizeof qemu.log, "%s/qemu.log", qemu.dir);
	if ((status = qemu_run(create, 1)) != 0) {
		snprintf(qemu.why, sizeof qemu.why, "qemu-img create: exit %d "
		    "(see %s)", status, qemu.log);
		return;
	}
	snprintf(blk1, sizeof blk1, "driver=file,filename=%s,node-name=file0",
	    qemu.img);
	snprintf(blk2, sizeof blk2, "driver=qcow2,file=file0,node-name=disk0");
	snprintf(qmp, sizeof qmp, "unix:%s,server=on,wait=off", qemu.sock);
	if ((qemu.pid = qemu_run(start, 0)) == -1) {
		snprintf(qemu.why, sizeof qemu.why, "fork: %s",
		    strerror(errno));
		qemu.pid = 0;
		return;
	}
	for (i = 0; i < 200; i++) {
		if (stat(qemu.sock, &sb) == 0 && S_ISSOCK(sb.st_mode))
			return;
		if (waitpid(qemu.pid, &status, WNOHANG) == qemu.pid) {
			qemu.pid = 0;
			snprintf(qemu.why, sizeof qemu.why, "QEMU exited at "
			    "start (status 0x%x; see %s)", status, qemu.log);
			return;
		}
		usleep(50000);
	}
	snprintf(qemu.why, sizeof qemu.why, "no QMP socket after 10 s");
}

/* Unchecked fixture: kill QEMU by pid, remove its files. */
static void
qemu_teardown(void)
{
	if (qemu.pid > 0) {
		kill(qemu.pid, SIGKILL);
		waitpid(qemu.pid, NULL, 0);
		qemu.pid = 0;
	}
	if (qemu.dir[0] == '\0')
		return;
	unlink(qemu.img);
	unlink(qemu.sock);
	unlink(qemu.log);
	rmdir(qemu.dir);
}

/* The snapshots array of node disk0 in a query-named-block-nodes return. */
static json_object *
disk0_snapshots(const char *ret)
{
	json_object	*nodes, *node, *v, *image, *snaps = NULL;
	size_t		 i;

	nodes = json_tokener_parse(ret);
	ck_assert_ptr_nonnull(nodes);
	ck_assert(json_object_is_type(nodes, json_type_array));
	for (i = 0; i < json_object_array_length(nodes); i++) {
		node = json_object_array_get_idx(nodes, i);
		if (!json_object_object_get_ex(node, "node-name", &v) ||
		    strcmp(json_object_get_string(v), "disk0") != 0)
			continue;
		ck_assert(json_object_object_get_ex(node, "image", &image));
		if (json_object_object_get_ex(image, "snapshots", &v))
			snaps = json_object_get(v);
		else
			snaps = json_object_new_array();
		break;
	}
	json_object_put(nodes);
	ck_assert_msg(snaps != NULL, "no node disk0 in %s", ret);
	return (snaps);
}

/* Run one command on the real QEMU. */
static void
qemu_cmd(const char *command, json_object *args, struct outcome *o)
{
	char		*cause = NULL;
	struct qmp	*q;

	memset(o, 0, sizeof *o);
	q = qmp_execute(w.base, qemu.sock, command, args, 10000, done_cb, o,
	    &cause);
	ck_assert_msg(q != NULL, "qmp_execute: %s", cause);
	while (o->calls == 0 && !w.guard_fired)
		event_base_loop(w.base, EVLOOP_ONCE);
	ck_assert_msg(!w.guard_fired, "loop guard fired");
}

/*
 * Proves the client against QEMU itself: internal snapshot create, list
 * (and the fields query-named-block-nodes gives), duplicate and missing
 * names (QEMU's exact errors), delete.
 */
START_TEST(test_real_qemu)
{
	struct outcome	 o;
	json_object	*snaps, *s, *v;
	static const char *fields[] = { "id", "name", "vm-state-size",
			    "date-sec", "date-nsec", "vm-clock-sec",
			    "vm-clock-nsec" };
	size_t		 i;

	if (qemu.skip) {
		printf("qmp: %s or %s not installed; skipping the real-QEMU "
		    "test\n", QEMU_SYSTEM, QEMU_IMG);
		return;
	}
	ck_assert_msg(qemu.why[0] == '\0', "QEMU: %s", qemu.why);
	world_setup();

	qemu_cmd("blockdev-snapshot-internal-sync", snap_args("disk0",
	    "snap1"), &o);
	ck_assert_msg(o.status == EVG_OK, "create: %s", o.message);
	ck_assert_str_eq(o.ret, "{}");
	outcome_free(&o);

	qemu_cmd("query-named-block-nodes", NULL, &o);
	ck_assert_msg(o.status == EVG_OK, "query: %s", o.message);
	snaps = disk0_snapshots(o.ret);
	outcome_free(&o);
	ck_assert_uint_eq(json_object_array_length(snaps), 1);
	s = json_object_array_get_idx(snaps, 0);
	for (i = 0; i < sizeof fields / sizeof fields[0]; i++)
		ck_assert_msg(json_object_object_get_ex(s, fields[i], &v),
		    "no %s in %s", fields[i], json_object_to_json_string(s));
	json_object_object_get_ex(s, "name", &v);
	ck_assert_str_eq(json_object_get_string(v), "snap1");
	json_object_object_get_ex(s, "id", &v);
	ck_assert(json_object_is_type(v, json_type_string));
	json_object_object_get_ex(s, "date-sec", &v);
	ck_assert(json_object_is_type(v, json_type_int));
	json_object_put(snaps);

	qemu_cmd("blockdev-snapshot-internal-sync", snap_args("disk0",
	    "snap1"), &o);
	ck_assert_int_eq(o.status, EVG_BACKEND_ERROR);
	ck_assert_str_eq(o.message, "blockdev-snapshot-internal-sync: "
	    "Snapshot with name 'snap1' already exists on device 'disk0'");
	outcome_free(&o);

	qemu_cmd("blockdev-snapshot-delete-internal-sync", snap_args("disk0",
	    "nosuch"), &o);
	ck_assert_int_eq(o.status, EVG_BACKEND_ERROR);
	ck_assert_str_eq(o.message, "blockdev-snapshot-delete-internal-sync: "
	    "Snapshot with id 'null' and name 'nosuch' does not exist on "
	    "device 'disk0'");
	outcome_free(&o);

	qemu_cmd("blockdev-snapshot-delete-internal-sync", snap_args("disk0",
	    "snap1"), &o);
	ck_assert_msg(o.status == EVG_OK, "delete: %s", o.message);
	ck_assert_ptr_nonnull(strstr(o.ret, "\"name\":\"snap1\""));
	outcome_free(&o);

	qemu_cmd("query-named-block-nodes", NULL, &o);
	ck_assert_msg(o.status == EVG_OK, "query: %s", o.message);
	snaps = disk0_snapshots(o.ret);
	outcome_free(&o);
	ck_assert_uint_eq(json_object_array_length(snaps), 0);
	json_object_put(snaps);
	world_teardown();
}
END_TEST

/*
 * What QEMU 7.2 answers with two drives as EVE starts them, `-drive
 * id=drive-virtio-disk0,file=IMG,format=qcow2,if=none` without a node
 * name: data.qcow2 with two snapshots, over.qcow2 on the backing file
 * base.qcow2 (one snapshot).  Taken from a real QEMU, with the I/O limit,
 * cache and size members cut.
 */
#define LOC		"/persist/vault/volumes/data.qcow2"
#define QUERY_BLOCK	"[{\"device\": \"drive-virtio-disk0\", \"inserted\": " \
	"{\"image\": {\"snapshots\": [{\"name\": \"snapA\", \"date-sec\": " \
	"1796441009, \"id\": \"1\"}, {\"name\": \"t2\", \"date-sec\": " \
	"1796441018, \"id\": \"3\"}], \"filename\": " \
	"\"/persist/vault/volumes/data.qcow2\", \"format\": \"qcow2\"}, " \
	"\"ro\": false, \"node-name\": \"#block165\", \"backing_file_depth\": " \
	"0, \"drv\": \"qcow2\", \"file\": " \
	"\"/persist/vault/volumes/data.qcow2\"}}, {\"device\": " \
	"\"drive-virtio-disk1\", \"inserted\": {\"image\": {\"backing-image\":" \
	" {\"snapshots\": [{\"name\": \"s1\", \"date-sec\": 1796441009, " \
	"\"id\": \"1\"}], \"filename\": \"/persist/vault/volumes/base.qcow2\"," \
	" \"format\": \"qcow2\"}, \"filename\": " \
	"\"/persist/vault/volumes/over.qcow2\", \"format\": \"qcow2\", " \
	"\"full-backing-filename\": \"/persist/vault/volumes/base.qcow2\", " \
	"\"backing-filename\": \"base.qcow2\"}, \"ro\": false, \"node-name\": " \
	"\"#block366\", \"backing_file_depth\": 1, \"drv\": \"qcow2\", " \
	"\"backing_file\": \"/persist/vault/volumes/base.qcow2\", \"file\": " \
	"\"/persist/vault/volumes/over.qcow2\"}}]"
#define QUERY_NODES	"[{\"image\": {\"snapshots\": [{\"name\": \"s1\", " \
	"\"date-sec\": 1796441009, \"id\": \"1\"}], \"filename\": " \
	"\"/persist/vault/volumes/base.qcow2\", \"format\": \"qcow2\"}, " \
	"\"ro\": true, \"node-name\": \"#block529\", \"backing_file_depth\": " \
	"0, \"drv\": \"qcow2\", \"file\": \"/persist/vault/volumes/base.qcow2\"}," \
	" {\"image\": {\"filename\": \"/persist/vault/volumes/base.qcow2\", " \
	"\"format\": \"file\"}, \"ro\": true, \"node-name\": \"#block405\", " \
	"\"backing_file_depth\": 0, \"drv\": \"file\", \"file\": " \
	"\"/persist/vault/volumes/base.qcow2\"}, {\"image\": " \
	"{\"backing-image\": {\"snapshots\": [{\"name\": \"s1\", \"date-sec\":" \
	" 1796441009, \"id\": \"1\"}], \"filename\": " \
	"\"/persist/vault/volumes/base.qcow2\", \"format\": \"qcow2\"}, " \
	"\"filename\": \"/persist/vault/volumes/over.qcow2\", \"format\": " \
	"\"qcow2\", \"full-backing-filename\": " \
	"\"/persist/vault/volumes/base.qcow2\", \"backing-filename\": " \
	"\"base.qcow2\"}, \"ro\": false, \"node-name\": \"#block366\", " \
	"\"backing_file_depth\": 1, \"drv\": \"qcow2\", \"backing_file\": " \
	"\"/persist/vault/volumes/base.qcow2\", \"file\": " \
	"\"/persist/vault/volumes/over.qcow2\"}, {\"image\": {\"filename\": " \
	"\"/persist/vault/volumes/over.qcow2\", \"format\": \"file\"}, \"ro\":" \
	" false, \"node-name\": \"#block263\", \"backing_file_depth\": 0, " \
	"\"drv\": \"file\", \"file\": \"/persist/vault/volumes/over.qcow2\"}, " \
	"{\"image\": {\"snapshots\": [{\"name\": \"snapA\", \"date-sec\": " \
	"1796441009, \"id\": \"1\"}, {\"name\": \"t2\", \"date-sec\": " \
	"1796441018, \"id\": \"3\"}], \"filename\": " \
	"\"/persist/vault/volumes/data.qcow2\", \"format\": \"qcow2\"}, " \
	"\"ro\": false, \"node-name\": \"#block165\", \"backing_file_depth\": " \
	"0, \"drv\": \"qcow2\", \"file\": \"/persist/vault/volumes/data.qcow2\"}," \
	" {\"image\": {\"filename\": \"/persist/vault/volumes/data.qcow2\", " \
	"\"format\": \"file\"}, \"ro\": false, \"node-name\": \"#block030\", " \
	"\"backing_file_depth\": 0, \"drv\": \"file\", \"file\": " \
	"\"/persist/vault/volumes/data.qcow2\"}]"
/* The same QEMU with data.qcow2 opened by two read-only drives, a and b. */
#define QUERY_BLOCK_TWICE "[{\"device\": \"a\", \"inserted\": {\"image\": " \
	"{\"snapshots\": [{\"name\": \"snapA\", \"date-sec\": 1796441009, " \
	"\"id\": \"1\"}], \"filename\": \"/persist/vault/volumes/data.qcow2\"," \
	" \"format\": \"qcow2\"}, \"ro\": true, \"node-name\": \"#block172\", " \
	"\"backing_file_depth\": 0, \"drv\": \"qcow2\", \"file\": " \
	"\"/persist/vault/volumes/data.qcow2\"}}, {\"device\": \"b\", " \
	"\"inserted\": {\"image\": {\"snapshots\": [{\"name\": \"snapA\", " \
	"\"date-sec\": 1796441009, \"id\": \"1\"}], \"filename\": " \
	"\"/persist/vault/volumes/data.qcow2\", \"format\": \"qcow2\"}, " \
	"\"ro\": true, \"node-name\": \"#block350\", \"backing_file_depth\": " \
	"0, \"drv\": \"qcow2\", \"file\": \"/persist/vault/volumes/data.qcow2\"" \
	"}}]"

/*
 * Find a volume's node in the JSON text ret: the qcow2_find_node() code,
 * and in *name the node-name found (caller frees) or NULL, in *nsnaps how
 * many snapshots it has, in *cause why several (caller frees) or NULL.
 */
static int
find(const char *text, const char *node, const char *locator,
    const char *real, char **name, size_t *nsnaps, char **cause)
{
	struct backend_result	 res;
	json_object		*ret, *found = NULL;
	const char		*s;
	int			 rc;

	ret = json_tokener_parse(text);
	ck_assert_msg(ret != NULL || strcmp(text, "null") == 0, "bad JSON %s",
	    text);
	*cause = NULL;
	*name = NULL;
	*nsnaps = 0;
	rc = qcow2_find_node(ret, node, locator, real, &found, cause);
	ck_assert_int_eq(rc == 1, found != NULL);
	ck_assert_int_eq(rc == -1, *cause != NULL);
	if (rc == 1) {
		ck_assert_ptr_nonnull(s = jsonread_str(found, "node-name"));
		*name = xstrdup(s);
		memset(&res, 0, sizeof res);
		qcow2_node_snapshots(found, &res);
		*nsnaps = res.nsnaps;
		backend_result_clear(&res);
	}
	json_object_put(ret);
	return (rc);
}

/* Assert find() finds the node expect with nsnaps snapshots. */
static void
assert_found(const char *text, const char *node, const char *locator,
    const char *real, const char *expect, size_t nsnaps)
{
	char	*name, *cause;
	size_t	 n;

	ck_assert_msg(find(text, node, locator, real, &name, &n, &cause) == 1,
	    "node %s, file %s: not found (%s)", node != NULL ? node : "-",
	    locator, cause != NULL ? cause : "none");
	ck_assert_str_eq(name, expect);
	ck_assert_uint_eq(n, nsnaps);
	free(name);
}

/* Assert find() finds nothing. */
static void
assert_none(const char *text, const char *node, const char *locator,
    const char *real)
{
	char	*name, *cause;
	size_t	 n;

	ck_assert_msg(find(text, node, locator, real, &name, &n, &cause) == 0,
	    "node %s, file %s: found %s (%s)", node != NULL ? node : "-",
	    locator, name != NULL ? name : "-", cause != NULL ? cause : "");
}

/*
 * Proves the lookup on what QEMU itself answers for nodes made with
 * -blockdev and held by no drive: query-block has none of them, and
 * query-named-block-nodes has the qcow2 node by its file (not the file
 * node under it, of the same file) and by its name.
 */
START_TEST(test_real_qemu_find)
{
	struct outcome	 o;
	char		*name, *cause;
	size_t		 n;

	if (qemu.skip)
		return;
	ck_assert_msg(qemu.why[0] == '\0', "QEMU: %s", qemu.why);
	world_setup();
	qemu_cmd("query-block", NULL, &o);
	ck_assert_msg(o.status == EVG_OK, "query-block: %s", o.message);
	ck_assert_int_eq(find(o.ret, NULL, qemu.img, NULL, &name, &n, &cause),
	    0);
	outcome_free(&o);
	qemu_cmd("query-named-block-nodes", NULL, &o);
	ck_assert_msg(o.status == EVG_OK, "query: %s", o.message);
	ck_assert_ptr_nonnull(strstr(o.ret, "\"node-name\":\"file0\""));
	assert_found(o.ret, NULL, qemu.img, NULL, "disk0", 0);
	assert_found(o.ret, "disk0", "/elsewhere", NULL, "disk0", 0);
	outcome_free(&o);
	world_teardown();
}
END_TEST

/*
 * Proves the issue-10 finding 2: a query-named-block-nodes answer whose
 * "node-name" is null, a number, or whose entries are not objects is
 * skipped, not dereferenced; the real node is still found, and a node
 * missing altogether is not found.
 */
START_TEST(test_qcow2_nodes_hostile)
{
	struct backend_result	 res;
	json_object		*ret, *node;
	char			*cause = NULL;

	memset(&res, 0, sizeof res);
	ret = json_tokener_parse("[{\"node-name\": null, \"image\": "
	    "{\"snapshots\": [{\"name\": \"wrong\"}]}}, {\"node-name\": 7}, "
	    "null, \"x\", [], {\"image\": null}, {\"node-name\": \"drive-data\","
	    " \"image\": {\"snapshots\": [{\"name\": \"a\", \"date-sec\": 5}, "
	    "{\"name\": null}, {\"name\": \"\"}, 3]}}]");
	ck_assert_ptr_nonnull(ret);
	ck_assert_int_eq(qcow2_find_node(ret, "drive-data", LOC, NULL, &node,
	    &cause), 1);
	qcow2_node_snapshots(node, &res);
	ck_assert_uint_eq(res.nsnaps, 1);
	ck_assert_str_eq(res.snaps[0].tag, "a");
	ck_assert_uint_eq(res.snaps[0].created, 5);
	ck_assert_int_eq(qcow2_find_node(ret, "drive-other", LOC, NULL, &node,
	    &cause), 0);
	ck_assert_ptr_null(node);
	json_object_put(ret);
	ret = json_tokener_parse("{\"node-name\": \"drive-data\"}");
	ck_assert_int_eq(qcow2_find_node(ret, "drive-data", LOC, NULL, &node,
	    &cause), 0);
	json_object_put(ret);
	ck_assert_ptr_null(cause);
	backend_result_clear(&res);
}
END_TEST

/*
 * Proves the volume's node is found in QEMU's query-block answer for
 * drives without node names: by drive id, by node name, by file (as given
 * or through the locator's realpath), never the backing file of another
 * image; a node= that names nothing finds nothing.
 */
START_TEST(test_qcow2_find_drive)
{
	assert_found(QUERY_BLOCK, "drive-virtio-disk0", LOC, NULL,
	    "#block165", 2);
	assert_found(QUERY_BLOCK, "#block165", LOC, NULL, "#block165", 2);
	assert_found(QUERY_BLOCK, NULL, LOC, NULL, "#block165", 2);
	assert_found(QUERY_BLOCK, NULL, "/run/link.qcow2", LOC, "#block165",
	    2);
	/* The backing file's snapshots are not the overlay's. */
	assert_found(QUERY_BLOCK, "drive-virtio-disk1", LOC, NULL,
	    "#block366", 0);
	assert_found(QUERY_BLOCK, NULL, "/persist/vault/volumes/over.qcow2",
	    NULL, "#block366", 0);
	assert_none(QUERY_BLOCK, NULL, "/persist/vault/volumes/base.qcow2",
	    NULL);
	assert_none(QUERY_BLOCK, NULL, "/persist/vault/volumes/other.qcow2",
	    "/persist/vault/volumes/other.qcow2");
	assert_none(QUERY_BLOCK, "drive-virtio-disk9", LOC, NULL);
	/* node= wins: it is not checked against the file. */
	assert_found(QUERY_BLOCK, "drive-virtio-disk1", "/elsewhere.qcow2",
	    NULL, "#block366", 0);
	assert_none("[]", NULL, LOC, NULL);
}
END_TEST

/*
 * Proves the same on query-named-block-nodes (every node, drive ids
 * unknown): by file the qcow2 format node is found, not the protocol
 * ("file") node of the same image; a backing node (base.qcow2, listed
 * with its own snapshots) is never taken for a volume.
 */
START_TEST(test_qcow2_find_nodes)
{
	assert_found(QUERY_NODES, NULL, LOC, NULL, "#block165", 2);
	assert_found(QUERY_NODES, NULL, "/l", LOC, "#block165", 2);
	assert_found(QUERY_NODES, "#block165", LOC, NULL, "#block165", 2);
	assert_found(QUERY_NODES, NULL, "/persist/vault/volumes/over.qcow2",
	    NULL, "#block366", 0);
	assert_none(QUERY_NODES, NULL, "/persist/vault/volumes/base.qcow2",
	    NULL);
	assert_none(QUERY_NODES, NULL, "/l", "/persist/vault/volumes/base.qcow2");
	assert_none(QUERY_NODES, "drive-virtio-disk0", LOC, NULL);
	/* The node= of a backing node is taken as said. */
	assert_found(QUERY_NODES, "#block529", LOC, NULL, "#block529", 1);
}
END_TEST

/*
 * Proves several matching nodes are an error naming them (with their
 * drives), at most QCOW2_NAMES_MAX and how many more, escaped; and that
 * a drive id still picks one of them.
 */
START_TEST(test_qcow2_find_several)
{
	char	*name, *cause;
	size_t	 n;

	ck_assert_int_eq(find(QUERY_BLOCK_TWICE, NULL, LOC, NULL, &name, &n,
	    &cause), -1);
	ck_assert_str_eq(cause, "2 nodes match: '#block172' (drive 'a'), "
	    "'#block350' (drive 'b')");
	free(cause);
	assert_found(QUERY_BLOCK_TWICE, "b", LOC, NULL, "#block350", 1);

	ck_assert_int_eq(find("[{\"node-name\": \"n1\", \"drv\": \"qcow2\", "
	    "\"file\": \"/v\"}, {\"node-name\": \"n\\u0001\", \"drv\": "
	    "\"qcow2\", \"file\": \"/real\"}, {\"node-name\": \"n3\", \"drv\": "
	    "\"qcow2\", \"file\": \"/v\"}, {\"node-name\": \"n4\", \"drv\": "
	    "\"qcow2\", \"file\": \"/v\"}, {\"node-name\": \"n5\", \"drv\": "
	    "\"qcow2\", \"file\": \"/v\"}, {\"node-name\": \"n6\", \"drv\": "
	    "\"qcow2\", \"file\": \"/v\"}]", NULL, "/v", "/real", &name, &n,
	    &cause), -1);
	ck_assert_str_eq(cause, "6 nodes match: 'n1', 'n\\x01', 'n3', 'n4' "
	    "and 2 more");
	free(cause);

	/* A node name that is also another drive's id (QEMU forbids it). */
	ck_assert_int_eq(find("[{\"device\": \"x\", \"inserted\": "
	    "{\"node-name\": \"y\"}}, {\"device\": \"y\", \"inserted\": "
	    "{\"node-name\": \"z\"}}]", "y", LOC, NULL, &name, &n, &cause), -1);
	ck_assert_str_eq(cause, "2 nodes match: 'y' (drive 'x'), 'z' (drive "
	    "'y')");
	free(cause);
}
END_TEST

/*
 * Proves hostile shapes are skipped, never dereferenced: answers that are
 * not arrays, entries and members of the wrong types or null, nodes
 * without a name (which no command could address), backing chains of the
 * wrong types.
 */
START_TEST(test_qcow2_find_hostile)
{
	static const char *const not_found[] = { "null", "{}", "\"x\"", "7",
	    "[null, 7, \"x\", [], {}]",
	    "[{\"device\": \"drive-virtio-disk0\"}]",
	    "[{\"device\": \"drive-virtio-disk0\", \"inserted\": null}]",
	    "[{\"device\": \"drive-virtio-disk0\", \"inserted\": []}]",
	    "[{\"device\": \"drive-virtio-disk0\", \"inserted\": "
	    "{\"node-name\": null, \"drv\": \"qcow2\", \"file\": \"" LOC "\"}}]",
	    "[{\"node-name\": 5, \"drv\": \"qcow2\", \"file\": \"" LOC "\"}]",
	    "[{\"node-name\": \"n\", \"drv\": null, \"file\": \"" LOC "\"}]",
	    "[{\"node-name\": \"n\", \"drv\": \"file\", \"file\": \"" LOC "\"}]",
	    "[{\"node-name\": \"n\", \"drv\": \"qcow2\", \"file\": 7}]",
	    "[{\"node-name\": \"n\", \"drv\": \"qcow2\", \"file\": [\"" LOC
	    "\"]}]",
	    "[{\"node-name\": \"n\", \"drv\": \"qcow2\", \"file\": \"" LOC "\"},"
	    " {\"node-name\": \"m\", \"image\": {\"backing-image\": "
	    "{\"backing-image\": {\"filename\": \"" LOC "\"}}}}]",
	};
	size_t	i;

	for (i = 0; i < sizeof not_found / sizeof not_found[0]; i++) {
		assert_none(not_found[i], NULL, LOC, NULL);
		assert_none(not_found[i], "drive-virtio-disk0", LOC, NULL);
	}
	assert_found("[{\"device\": 7, \"inserted\": {\"node-name\": \"n\", "
	    "\"drv\": \"qcow2\", \"file\": \"" LOC "\", \"image\": "
	    "{\"backing-image\": [], \"snapshots\": {}}}}, {\"image\": "
	    "{\"backing-image\": {\"filename\": null, \"backing-image\": 3}}}]",
	    NULL, LOC, NULL, "n", 0);
	assert_found("[{\"device\": null, \"inserted\": {\"node-name\": \"n\","
	    " \"image\": null}}]", "n", LOC, NULL, "n", 0);
	assert_found("[{\"device\": \"d\", \"inserted\": {\"node-name\": \"n\","
	    " \"image\": {\"snapshots\": [null, {\"name\": 1}, {\"name\": "
	    "\"ok\", \"date-sec\": -1}]}}}]", "d", LOC, NULL, "n", 1);
}
END_TEST

/*
 * Proves the issue-10 finding 5 at its source: a snapshot time of -1,
 * 2^64-1, past year 9999 or not a number, and a size past INT64_MAX, are
 * stored as unknown (0), never as values that wrap negative in the catalog.
 */
START_TEST(test_qcow2_info_out_of_range)
{
	struct backend_result	res;

	memset(&res, 0, sizeof res);
	ck_assert_int_eq(qcow2_parse_info("{\"snapshots\": ["
	    "{\"name\": \"neg\", \"date-sec\": -1}, "
	    "{\"name\": \"huge\", \"date-sec\": 18446744073709551615}, "
	    "{\"name\": \"far\", \"date-sec\": 253402300800}, "
	    "{\"name\": \"str\", \"date-sec\": \"1\"}, "
	    "{\"name\": \"ok\", \"date-sec\": 253402300799}]}", &res), 0);
	ck_assert_uint_eq(res.nsnaps, 5);
	ck_assert_uint_eq(res.snaps[0].created, 0);
	ck_assert_uint_eq(res.snaps[1].created, 0);
	ck_assert_uint_eq(res.snaps[2].created, 0);
	ck_assert_uint_eq(res.snaps[3].created, 0);
	ck_assert_uint_eq(res.snaps[4].created, 253402300799ULL);
	backend_result_add(&res, "big", NULL, NULL, UINT64_MAX,
	    (uint64_t)INT64_MAX + 1);
	ck_assert_uint_eq(res.snaps[5].created, 0);
	ck_assert_uint_eq(res.snaps[5].size, 0);
	ck_assert_int_eq(qcow2_parse_info("[1]", &res), -1);
	ck_assert_int_eq(qcow2_parse_info("not json", &res), -1);
	ck_assert_int_eq(qcow2_parse_info("{\"snapshots\": null}", &res), 0);
	ck_assert_uint_eq(res.nsnaps, 6);
	backend_result_clear(&res);
}
END_TEST

/* Feed a detached client the pieces, then run its callback if due. */
static void
detached_run(const char *const *pieces, struct outcome *o)
{
	struct qmp	*q;
	int		 finished = 0;

	memset(o, 0, sizeof *o);
	q = qmp_detached(w.base, "query-status", done_cb, o);
	for (; *pieces != NULL && !finished; pieces++)
		finished = qmp_input(q, *pieces, strlen(*pieces));
	if (!finished) {
		qmp_cancel(q);
		return;
	}
	ck_assert_int_eq(o->calls, 0);
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(o->calls, 1);
}

/*
 * Proves a detached client (no socket) runs the exchange from the
 * greeting on what it is handed, its requests numbered 1 and 2; and that
 * a NUL byte, a message that is not an object or a comment after one are
 * protocol errors however the stream is split.
 */
START_TEST(test_detached)
{
	static const char *const	 ok[] = { GREETING, "{\"return\": {}, ",
					    "\"id\": 1}\r\n" EVENT "{\"ret",
					    "urn\": {\"running\": true}, "
					    "\"id\": 2}", NULL };
	static const char *const	 partial[] = { GREETING, "{\"ret",
					    NULL };
	static const char *const	 bad[][3] = {
		{ GREETING "{\"return\": {}, \"id\": 1}\r\n-", "-", NULL },
		{ GREETING "{\"return\": {}, \"id\": 1}/", "x", NULL },
		{ GREETING "{\"return\": {}, \"id\": 1}/x", NULL },
	};
	struct outcome			 o;
	struct qmp			*q;
	size_t				 i;

	world_setup();
	detached_run(ok, &o);
	ck_assert_int_eq(o.status, EVG_OK);
	ck_assert_str_eq(o.ret, "{\"running\":true}");
	outcome_free(&o);
	detached_run(partial, &o);
	ck_assert_int_eq(o.calls, 0);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		detached_run(bad[i], &o);
		ck_assert_msg(o.calls == 1 && o.status == EVG_BACKEND_ERROR,
		    "case %zu: %d calls, status %d", i, o.calls, o.status);
		assert_prefix(o.message, "QMP (detached): protocol error: ");
		outcome_free(&o);
	}

	memset(&o, 0, sizeof o);
	q = qmp_detached(w.base, "query-status", done_cb, &o);
	ck_assert_int_eq(qmp_input(q, GREETING, strlen(GREETING)), 0);
	ck_assert_int_eq(qmp_input(q, "{\"return\"\0: {}}", 15), 1);
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(o.status, EVG_BACKEND_ERROR);
	ck_assert_str_eq(o.message, "QMP (detached): protocol error: a NUL "
	    "byte in the stream");
	outcome_free(&o);
	world_teardown();
}
END_TEST

/*
 * Proves an awaited event ends the wait whether it comes before or after
 * the command's answer, that events of other devices or names do not,
 * and that the callback's value is the event's data.
 */
START_TEST(test_await_event)
{
#define DELETED(dev)	"{\"event\": \"DEVICE_DELETED\", \"data\": " \
			"{\"device\": \"" dev "\", \"path\": \"/m/" dev "\"}, " \
			"\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n"
#define CAPS_OK		"{\"return\": {}, \"id\": 1}\r\n"
#define DEL_OK		"{\"return\": {}, \"id\": 2}\r\n"
	static const char *const	 after[] = { GREETING CAPS_OK DEL_OK,
					    DELETED("other"),
					    "{\"event\": \"STOP\"}\r\n",
					    DELETED("disk0"), NULL };
	static const char *const	 before[] = { GREETING CAPS_OK,
					    DELETED("disk0") DEL_OK, NULL };
	static const char *const	 never[] = { GREETING CAPS_OK DEL_OK,
					    DELETED("disk1"), NULL };
	const char *const		*cases[] = { after, before, never };
	struct outcome			 o;
	struct qmp			*q;
	size_t				 i, j;
	int				 finished = 0;

	world_setup();
	for (i = 0; i < 3; i++) {
		memset(&o, 0, sizeof o);
		q = qmp_detached(w.base, "device_del", done_cb, &o);
		qmp_await_event(q, "DEVICE_DELETED", "disk0");
		for (j = 0; cases[i][j] != NULL; j++)
			finished = qmp_input(q, cases[i][j],
			    strlen(cases[i][j]));
		if (i == 2) {
			ck_assert_int_eq(finished, 0);
			qmp_cancel(q);
			continue;
		}
		ck_assert_int_eq(finished, 1);
		event_base_loop(w.base, EVLOOP_NONBLOCK);
		ck_assert_int_eq(o.calls, 1);
		ck_assert_int_eq(o.status, EVG_OK);
		ck_assert_str_eq(o.ret, "{\"device\":\"disk0\",\"path\":"
		    "\"\\/m\\/disk0\"}");
		outcome_free(&o);
	}
	world_teardown();
#undef DELETED
#undef CAPS_OK
#undef DEL_OK
}
END_TEST

Suite *
suite_qmp(void)
{
	Suite	*s = suite_create("qmp");
	TCase	*tc = tcase_create("fake"), *tq = tcase_create("qemu");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_normal);
	tcase_add_test(tc, test_await_event);
	tcase_add_test(tc, test_no_arguments);
	tcase_add_test(tc, test_events_interleaved);
	tcase_add_test(tc, test_bytewise);
	tcase_add_test(tc, test_error_reply);
	tcase_add_test(tc, test_stale_id);
	tcase_add_test(tc, test_server_closes);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_missing_socket);
	tcase_add_test(tc, test_listen_queue_full);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_cancel_and_bad_path);
	tcase_add_test(tc, test_staged);
	tcase_add_test(tc, test_linger);
	tcase_add_test(tc, test_qcow2_nodes_hostile);
	tcase_add_test(tc, test_qcow2_find_drive);
	tcase_add_test(tc, test_qcow2_find_nodes);
	tcase_add_test(tc, test_qcow2_find_several);
	tcase_add_test(tc, test_qcow2_find_hostile);
	tcase_add_test(tc, test_qcow2_info_out_of_range);
	tcase_add_test(tc, test_detached);
	suite_add_tcase(s, tc);

	tcase_set_timeout(tq, 60);
	tcase_add_unchecked_fixture(tq, qemu_setup, qemu_teardown);
	tcase_add_test(tq, test_real_qemu);
	tcase_add_test(tq, test_real_qemu_find);
	suite_add_tcase(s, tq);
	return (s);
}
