/*
 * qga-snap: one filesystem-consistent internal qcow2 snapshot the way
 * libvirt's `virsh snapshot-create --quiesce` takes it, as one client
 * process, for the side-by-side benchmark (test/bench/sidebyside.sh):
 *
 *	1. qemu-guest-agent: guest-sync-delimited, then
 *	   guest-fsfreeze-freeze-list of exactly MOUNTPOINT;
 *	2. QEMU's monitor: blockdev-snapshot-internal-sync of NODE as NAME;
 *	3. qemu-guest-agent: guest-fsfreeze-thaw.
 *
 *	qga-snap [-Lv] QGA-SOCKET QMP-SOCKET MOUNTPOINT NODE NAME
 *
 * libvirt holds the monitor from the VM's start, so by default the QMP
 * connection is made, greeted and negotiated before the freeze; -L makes
 * it only once frozen (a one-shot monitor client, as eve-guest-hostd is).
 * -v prints on stderr when each step ended, in ms since the start.  A
 * snapshot taken prints "snapshot command: MS ms" on stdout at the end:
 * the QMP command's round trip, while frozen.
 *
 *	qga-snap -d QMP-SOCKET NODE NAME
 *
 * deletes that internal snapshot (blockdev-snapshot-delete-internal-sync),
 * with no freeze: the benchmark removes each snapshot after its run.
 *
 * Safety: guest-fsfreeze-freeze (no -list) freezes every filesystem of the
 * machine qemu-ga runs on, / included; this is a host, not a guest, so
 * that command is never sent.  The only freeze sent is
 * guest-fsfreeze-freeze-list naming MOUNTPOINT alone, and MOUNTPOINT must
 * be a canonical path under /tmp/evg-side- (the benchmark's own temp
 * dir), else the tool refuses to run.  Both sockets are AF_UNIX paths.
 * Once the freeze was asked for, guest-fsfreeze-thaw is sent whatever
 * failed (on a new connection if the first one broke).
 *
 * Exit status: 0 when the snapshot was taken and the thaw answered; 1 on
 * any failure (one line on stderr per problem); 2 on a usage error.
 * No wait for an answer lasts more than SNAP_TIMEOUT_MS.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"
#include "status.h"
#include "xmalloc.h"

#define SNAP_TIMEOUT_MS		30000
#define SNAP_LINE_MAX		(256 * 1024)
/* The only directory a mountpoint to freeze may be in. */
#define SNAP_SAFE_PREFIX	"/tmp/evg-side-"
/* Marks the start of qemu-ga's answer to guest-sync-delimited. */
#define SNAP_DELIMITER		0xff

static int	snap_verbose;
static int64_t	snap_t0;

struct chan {
	const char	*what;		/* "qemu-ga" or "QMP", for messages */
	const char	*path;
	int		 fd;
	char		*buf;
	size_t		 len;
	size_t		 size;
};

/* Print usage and exit with EXIT_USAGE. */
static __attribute__((noreturn)) void
snap_usage(void)
{
	fprintf(stderr, "usage: qga-snap [-Lv] QGA-SOCKET QMP-SOCKET "
	    "MOUNTPOINT NODE NAME\n"
	    "       qga-snap -d QMP-SOCKET NODE NAME\n");
	exit(EXIT_USAGE);
}

/* Nanoseconds on the monotonic clock. */
static int64_t
snap_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

/* Milliseconds on the monotonic clock. */
static int64_t
snap_now_ms(void)
{
	return (snap_now_ns() / 1000000);
}

/* With -v: "qga-snap: MS step" on stderr, MS since the start. */
static void
snap_step(const char *step)
{
	if (snap_verbose)
		fprintf(stderr, "qga-snap: %8.3f ms %s\n",
		    (double)(snap_now_ns() - snap_t0) / 1e6, step);
}

/*
 * Refuse a mountpoint that is not a canonical path under SNAP_SAFE_PREFIX:
 * the one thing that stands between a typo and a frozen machine.
 */
static void
snap_check_mountpoint(const char *mp)
{
	char	real[PATH_MAX];

	if (strncmp(mp, SNAP_SAFE_PREFIX, strlen(SNAP_SAFE_PREFIX)) != 0 ||
	    strstr(mp, "/..") != NULL || strstr(mp, "//") != NULL) {
		log_warnx("refusing to freeze %s: only a mountpoint under "
		    SNAP_SAFE_PREFIX "* is allowed", mp);
		exit(EXIT_USAGE);
	}
	if (realpath(mp, real) == NULL) {
		log_warn("%s", mp);
		exit(EXIT_USAGE);
	}
	if (strcmp(real, mp) != 0) {
		log_warnx("refusing to freeze %s: it resolves to %s", mp, real);
		exit(EXIT_USAGE);
	}
}

/* Connect to a Unix socket path; -1 with a message on failure. */
static int
chan_open(struct chan *c, const char *what, const char *path)
{
	struct sockaddr_un	sun;

	memset(c, 0, sizeof *c);
	c->what = what;
	c->path = path;
	c->fd = -1;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		log_warnx("%s socket %s: path too long", what, path);
		return (-1);
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket");
		return (-1);
	}
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		log_warn("%s socket %s", what, path);
		close(c->fd);
		c->fd = -1;
		return (-1);
	}
	c->size = 4096;
	c->buf = xmalloc(c->size);
	return (0);
}

/* Close and free; a closed channel may be closed again. */
static void
chan_close(struct chan *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = 0;
}

/* Write all of s; -1 with a message when the peer is gone. */
static int
chan_write(struct chan *c, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;

	while (len > 0) {
		n = write(c->fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("writing to %s", c->what);
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* Send obj as one line, in one write, and put it; -1 with a message. */
static int
chan_send(struct chan *c, json_object *obj)
{
	char	*line;
	int	 rc;

	xasprintf(&line, "%s\n", json_object_to_json_string_ext(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
	rc = chan_write(c, line, strlen(line));
	free(line);
	return (rc);
}

/* Read more bytes into the buffer before deadline; -1 with a message. */
static int
chan_fill(struct chan *c, int64_t deadline)
{
	struct pollfd	pfd = { .fd = c->fd, .events = POLLIN };
	int64_t		left;
	ssize_t		n;

	for (;;) {
		if ((left = deadline - snap_now_ms()) <= 0) {
			log_warnx("%s sent no answer within %d ms", c->what,
			    SNAP_TIMEOUT_MS);
			return (-1);
		}
		if ((n = poll(&pfd, 1, (int)left)) == -1 && errno != EINTR) {
			log_warn("poll");
			return (-1);
		}
		if (n <= 0)
			continue;
		if (c->len == c->size) {
			if (c->size >= SNAP_LINE_MAX) {
				log_warnx("%s sent a line over %d bytes",
				    c->what, SNAP_LINE_MAX);
				return (-1);
			}
			c->size *= 2;
			c->buf = xreallocarray(c->buf, c->size, 1);
		}
		n = read(c->fd, c->buf + c->len, c->size - c->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0) {
			log_warnx("%s closed the connection", c->what);
			return (-1);
		}
		if (n == -1) {
			log_warn("reading from %s", c->what);
			return (-1);
		}
		c->len += (size_t)n;
		return (0);
	}
}

/* Drop the first n buffered bytes. */
static void
chan_consume(struct chan *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* Next JSON line as an object (caller puts it); NULL with a message. */
static json_object *
chan_read_obj(struct chan *c, int64_t deadline)
{
	json_object	*obj;
	char		*nl;

	for (;;) {
		while ((nl = memchr(c->buf, '\n', c->len)) == NULL)
			if (chan_fill(c, deadline) == -1)
				return (NULL);
		*nl = '\0';
		obj = json_tokener_parse(c->buf);
		chan_consume(c, (size_t)(nl - c->buf) + 1);
		if (obj != NULL && json_object_is_type(obj, json_type_object))
			return (obj);
		json_object_put(obj);	/* a blank or partial line */
	}
}

/*
 * Send {"execute": cmd, "arguments": args} (args taken; may be NULL) and
 * wait for its answer, skipping QMP events.  Returns the "return" value
 * as a new reference (caller puts it), or NULL with a message naming cmd
 * when the peer answered an error or nothing.
 */
static json_object *
chan_execute(struct chan *c, const char *cmd, json_object *args)
{
	json_object	*req, *rep, *ret, *err, *desc;
	int64_t		 deadline;

	req = json_object_new_object();
	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args != NULL)
		json_object_object_add(req, "arguments", args);
	if (chan_send(c, req) == -1) {
		log_warnx("%s: %s not sent", c->what, cmd);
		return (NULL);
	}
	deadline = snap_now_ms() + SNAP_TIMEOUT_MS;
	for (;;) {
		if ((rep = chan_read_obj(c, deadline)) == NULL) {
			log_warnx("%s: no answer to %s", c->what, cmd);
			return (NULL);
		}
		if (json_object_object_get_ex(rep, "return", &ret)) {
			json_object_get(ret);
			json_object_put(rep);
			return (ret);
		}
		if (json_object_object_get_ex(rep, "error", &err)) {
			if (!json_object_object_get_ex(err, "desc", &desc))
				desc = err;
			log_warnx("%s: %s failed: %s", c->what, cmd,
			    json_object_get_string(desc));
			json_object_put(rep);
			return (NULL);
		}
		json_object_put(rep);	/* an event */
	}
}

/*
 * guest-sync-delimited with a fresh id: everything qemu-ga still had
 * queued for an earlier client is skipped (up to the 0xff it puts before
 * this answer, then up to the answer carrying our id).
 */
static int
qga_sync(struct chan *c)
{
	json_object	*req, *rep, *ret;
	char		*mark;
	int64_t		 id, deadline;

	id = (int64_t)getpid() * 1000 + (snap_now_ms() % 1000);
	req = json_object_new_object();
	json_object_object_add(req, "execute",
	    json_object_new_string("guest-sync-delimited"));
	json_object_object_add(req, "arguments", json_object_new_object());
	json_object_object_add(json_object_object_get(req, "arguments"), "id",
	    json_object_new_int64(id));
	if (chan_send(c, req) == -1)
		return (-1);
	deadline = snap_now_ms() + SNAP_TIMEOUT_MS;
	for (;;) {
		while ((mark = memchr(c->buf, SNAP_DELIMITER, c->len)) == NULL) {
			c->len = 0;
			if (chan_fill(c, deadline) == -1)
				return (-1);
		}
		chan_consume(c, (size_t)(mark - c->buf) + 1);
		if ((rep = chan_read_obj(c, deadline)) == NULL)
			return (-1);
		if (json_object_object_get_ex(rep, "return", &ret) &&
		    json_object_get_int64(ret) == id) {
			json_object_put(rep);
			return (0);
		}
		json_object_put(rep);
	}
}

/* Connect to qemu-ga and sync; -1 with a message. */
static int
qga_open(struct chan *c, const char *path)
{
	if (chan_open(c, "qemu-ga", path) == -1)
		return (-1);
	if (qga_sync(c) == -1) {
		log_warnx("qemu-ga: guest-sync-delimited failed");
		chan_close(c);
		return (-1);
	}
	return (0);
}

/* Connect to QEMU's monitor: greeting, then qmp_capabilities. */
static int
qmp_open(struct chan *c, const char *path)
{
	json_object	*greet, *ret;
	int		 ok;

	if (chan_open(c, "QMP", path) == -1)
		return (-1);
	if ((greet = chan_read_obj(c, snap_now_ms() + SNAP_TIMEOUT_MS)) ==
	    NULL) {
		log_warnx("QMP: no greeting (another client holds %s?)", path);
		chan_close(c);
		return (-1);
	}
	ok = json_object_object_get_ex(greet, "QMP", NULL);
	json_object_put(greet);
	if (!ok) {
		log_warnx("QMP: %s did not greet as a QEMU monitor", path);
		chan_close(c);
		return (-1);
	}
	if ((ret = chan_execute(c, "qmp_capabilities", NULL)) == NULL) {
		chan_close(c);
		return (-1);
	}
	json_object_put(ret);
	return (0);
}

/* The freeze, of exactly mp and nothing else; the count frozen or -1. */
static int64_t
qga_freeze_list(struct chan *c, const char *mp)
{
	json_object	*args, *list, *ret;
	int64_t		 n;

	list = json_object_new_array();
	json_object_array_add(list, json_object_new_string(mp));
	args = json_object_new_object();
	json_object_object_add(args, "mountpoints", list);
	if ((ret = chan_execute(c, "guest-fsfreeze-freeze-list", args)) ==
	    NULL)
		return (-1);
	n = json_object_get_int64(ret);
	json_object_put(ret);
	return (n);
}

/*
 * guest-fsfreeze-thaw on c, or on a new connection if c is broken.  The
 * count thawed, or -1 (with the way out named) when qemu-ga cannot.
 */
static int64_t
qga_thaw(struct chan *c, const char *path, const char *mp)
{
	json_object	*ret;
	int64_t		 n = -1;
	int		 try;

	for (try = 0; try < 2; try++) {
		if (try == 1) {
			chan_close(c);
			if (qga_open(c, path) == -1)
				break;
		}
		if ((ret = chan_execute(c, "guest-fsfreeze-thaw", NULL)) !=
		    NULL) {
			n = json_object_get_int64(ret);
			json_object_put(ret);
			return (n);
		}
	}
	log_warnx("THAW FAILED: %s may still be frozen (fsfreeze -u %s)", mp,
	    mp);
	return (-1);
}

/* blockdev-snapshot-internal-sync of node as name; 0 or -1. */
static int
qmp_snapshot(struct chan *c, const char *node, const char *name)
{
	json_object	*args, *ret;

	args = json_object_new_object();
	json_object_object_add(args, "device", json_object_new_string(node));
	json_object_object_add(args, "name", json_object_new_string(name));
	if ((ret = chan_execute(c, "blockdev-snapshot-internal-sync", args)) ==
	    NULL)
		return (-1);
	json_object_put(ret);
	return (0);
}

/* -d: blockdev-snapshot-delete-internal-sync of node's name; 0 or 1. */
static int
snap_delete(const char *qmp_path, const char *node, const char *name)
{
	struct chan	 qmp;
	json_object	*args, *ret;

	if (qmp_open(&qmp, qmp_path) == -1)
		return (1);
	args = json_object_new_object();
	json_object_object_add(args, "device", json_object_new_string(node));
	json_object_object_add(args, "name", json_object_new_string(name));
	ret = chan_execute(&qmp, "blockdev-snapshot-delete-internal-sync",
	    args);
	chan_close(&qmp);
	if (ret == NULL)
		return (1);
	json_object_put(ret);
	return (0);
}

int
main(int argc, char **argv)
{
	struct chan	 qga, qmp;
	const char	*qga_path, *qmp_path, *mp, *node, *name;
	int64_t		 frozen, thawed, call0 = 0, call1 = 0;
	int		 ch, late = 0, delete = 0, rc = 0;

	snap_t0 = snap_now_ns();
	log_init("qga-snap", LOG_TO_STDERR, 0);
	while ((ch = getopt(argc, argv, "dLv")) != -1) {
		switch (ch) {
		case 'd':
			delete = 1;
			break;
		case 'L':
			late = 1;
			break;
		case 'v':
			snap_verbose = 1;
			break;
		default:
			snap_usage();
		}
	}
	argc -= optind;
	argv += optind;
	signal(SIGPIPE, SIG_IGN);
	if (delete) {
		if (argc != 3 || late)
			snap_usage();
		return (snap_delete(argv[0], argv[1], argv[2]));
	}
	if (argc != 5)
		snap_usage();
	qga_path = argv[0];
	qmp_path = argv[1];
	mp = argv[2];
	node = argv[3];
	name = argv[4];
	snap_check_mountpoint(mp);

	memset(&qmp, 0, sizeof qmp);
	qmp.fd = -1;
	if (qga_open(&qga, qga_path) == -1)
		return (1);
	snap_step("qemu-ga synced");
	if (!late) {
		if (qmp_open(&qmp, qmp_path) == -1) {
			chan_close(&qga);
			return (1);
		}
		snap_step("QMP negotiated");
	}
	/* From here on, whatever happens, the thaw is sent. */
	frozen = qga_freeze_list(&qga, mp);
	snap_step("frozen");
	if (frozen == 0) {
		log_warnx("qemu-ga froze nothing (is %s a mountpoint?)", mp);
		rc = 1;
	} else if (frozen < 0)
		rc = 1;
	else if (late && qmp_open(&qmp, qmp_path) == -1)
		rc = 1;
	else {
		if (late)
			snap_step("QMP negotiated");
		call0 = snap_now_ns();
		if (qmp_snapshot(&qmp, node, name) == -1)
			rc = 1;
		call1 = snap_now_ns();
		snap_step(rc == 0 ? "snapshot taken" : "snapshot failed");
	}
	thawed = qga_thaw(&qga, qga_path, mp);
	snap_step("thawed");
	if (thawed < 0)
		rc = 1;
	else if (frozen > 0 && thawed == 0) {
		log_warnx("qemu-ga thawed nothing after freezing %lld",
		    (long long)frozen);
		rc = 1;
	}
	chan_close(&qmp);
	chan_close(&qga);
	/* Printed once thawed, so as to cost the frozen window nothing. */
	if (rc == 0)
		printf("snapshot command: %.3f ms\n", (double)(call1 - call0) /
		    1e6);
	return (rc);
}
