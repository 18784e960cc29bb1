/*
 * Unit tests for the guest side of guest-triggered snapshots: guest/serve.c
 * (host requests on a connection), guest/call.c (a CLI request that serves
 * the host while it waits) and guest/snapcmd.c (the snapshot commands).
 *
 * "proto" drives serve.c through a socketpair of two peers, the test
 * playing the host, and freezes nothing.  "call" runs call.c against a
 * fake host: a child process speaking the protocol with blocking I/O over
 * a Unix socket in a temp dir (never AF_VSOCK); the child exits 0 only
 * when everything it got was as expected.
 *
 * "real" (root only) makes its own filesystems: in a temp dir, ext4 image
 * A on a loop device mounted there, and image B on another loop device,
 * not mounted.  The only disk any request here names is one of those two
 * loop devices, and before anything could be frozen the test plans the
 * freeze itself and checks that every mount involved is inside the temp
 * dir and on A's device (fx_assert_safe()).  Freezing "/" by mistake
 * hangs the machine.  The fixture thaws, unmounts and detaches everything
 * in teardown, which runs in the runner's own process, so that it happens
 * even when a test fails or is killed.
 */
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "call.h"
#include "client.h"
#include "codec.h"
#include "disk.h"
#include "diskref.h"
#include "frame.h"
#include "freeze.h"
#include "output.h"
#include "peer.h"
#include "serve.h"
#include "snapcmd.h"
#include "status.h"
#include "suites.h"
#include "testutil.h"
#include "transport.h"
#include "xmalloc.h"

#define IMAGE_MB	24
/* No wait for the other side lasts longer than this. */
#define WAIT_MS		10000
/* How long a write to a frozen filesystem must stay blocked. */
#define BLOCKED_MS	500
/* How long a write to a writable filesystem may take. */
#define WRITE_MS	3000
#define NO_SERIAL	"evg-test-serial-that-no-disk-has"

/* A deep copy of an envelope a peer is about to free. */
static Evg__Envelope *
env_copy(const Evg__Envelope *env)
{
	Evg__Envelope	*copy;
	uint8_t		*buf;
	size_t		 len;

	len = evg__envelope__get_packed_size(env);
	buf = xmalloc(len + 1);
	evg__envelope__pack(env, buf);
	copy = evg__envelope__unpack(NULL, len, buf);
	free(buf);
	ck_assert_ptr_nonnull(copy);
	return (copy);
}

/* ---------------------------------------------------------------- pair */

/*
 * The socketpair harness: the guest side is a peer served by serve.c, the
 * host side a peer of the test that keeps the last reply it got.
 */
static struct {
	struct event_base	*base;
	struct serve		*serve;
	struct peer		*guest;
	struct peer		*host;
	struct event		*ev_timeout;
	Evg__Envelope		*reply;
	uint64_t		 next_id;
	int			 lost;		/* the guest side saw NULL */
	int			 timed_out;
} P;

/* Guest side: serve every message; on loss, thaw and free. */
static void
pair_guest_dispatch(struct peer *p, Evg__Envelope *env, void *arg)
{
	(void)arg;
	if (env == NULL) {
		serve_lost(P.serve, p);
		peer_free(p);
		P.guest = NULL;
		P.lost = 1;
		event_base_loopbreak(P.base);
		return;
	}
	serve_dispatch(P.serve, p, env);
}

/* Host side: keep the last reply and stop the loop. */
static void
pair_host_dispatch(struct peer *p, Evg__Envelope *env, void *arg)
{
	(void)arg;
	if (env == NULL) {
		peer_free(p);
		P.host = NULL;
		return;
	}
	if (env->body_case != EVG__ENVELOPE__BODY_REPLY)
		return;
	codec_free(P.reply);
	P.reply = env_copy(env);
	event_base_loopbreak(P.base);
}

/* The guard of every loop run: a test must not hang. */
static void
pair_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	P.timed_out = 1;
	event_base_loopbreak(P.base);
}

/* Run the loop until something stops it, or for at most ms. */
static void
pair_run(unsigned int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	P.timed_out = 0;
	evtimer_add(P.ev_timeout, &tv);
	event_base_dispatch(P.base);
	evtimer_del(P.ev_timeout);
}

/* Checked fixture: a connected pair and a serve reading mountinfo. */
static void
pair_open(const char *mountinfo)
{
	int	sv[2];

	memset(&P, 0, sizeof P);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	P.base = event_base_new();
	ck_assert_ptr_nonnull(P.base);
	P.ev_timeout = evtimer_new(P.base, pair_timeout_cb, NULL);
	P.serve = serve_create(P.base, mountinfo);
	P.guest = peer_create(P.base, sv[0], "guest", FRAME_MAX_GUEST,
	    1 << 20, pair_guest_dispatch, NULL);
	P.host = peer_create(P.base, sv[1], "host", FRAME_MAX_GUEST,
	    1 << 20, pair_host_dispatch, NULL);
	peer_set_version(P.guest, 1);
	peer_set_version(P.host, 1);
	P.next_id = 100;
}

/* Checked fixture of the proto tests. */
static void
pair_setup(void)
{
	output_init("check_serve", 0);
	pair_open(NULL);
}

/* Free the pair; the serve thaws whatever a failed test left frozen. */
static void
pair_teardown(void)
{
	if (P.guest != NULL)
		peer_free(P.guest);
	if (P.host != NULL)
		peer_free(P.host);
	serve_free(P.serve);
	codec_free(P.reply);
	event_free(P.ev_timeout);
	event_base_free(P.base);
	memset(&P, 0, sizeof P);
}

/* Send req from the host side and wait for its reply. */
static const Evg__Reply *
pair_ask(Evg__Envelope *req)
{
	codec_free(P.reply);
	P.reply = NULL;
	req->id = P.next_id++;
	ck_assert_int_eq(peer_send(P.host, req), 0);
	pair_run(WAIT_MS);
	ck_assert_msg(P.reply != NULL, "no reply to %s", codec_body_name(req));
	ck_assert_uint_eq(P.reply->id, req->id);
	ck_assert_ptr_nonnull(P.reply->reply->status);
	return (P.reply->reply);
}

/* Assert a reply's status code and that its message holds want. */
static void
assert_status(const Evg__Reply *r, unsigned int code, const char *want)
{
	ck_assert_msg(r->status->code == code, "status %s (%s), expected %s",
	    status_name(r->status->code), r->status->message,
	    status_name(code));
	if (want != NULL)
		ck_assert_msg(strstr(r->status->message, want) != NULL,
		    "message '%s' lacks '%s'", r->status->message, want);
}

/* The FreezeReport a reply must carry. */
static const Evg__FreezeReport *
report_of(const Evg__Reply *r)
{
	ck_assert_int_eq(r->result_case, EVG__REPLY__RESULT_FREEZE_REPORT);
	ck_assert_ptr_nonnull(r->freeze_report);
	return (r->freeze_report);
}

/* Ask a body-only request (ping, thaw, freeze_status) of the guest. */
static const Evg__Reply *
ask_simple(Evg__Envelope__BodyCase body)
{
	Evg__Envelope		 req = EVG__ENVELOPE__INIT;
	Evg__Ping		 ping = EVG__PING__INIT;
	Evg__ThawRequest	 thaw = EVG__THAW_REQUEST__INIT;
	Evg__FreezeStatusRequest st = EVG__FREEZE_STATUS_REQUEST__INIT;
	Evg__GuestSnapshotListRequest ls =
	    EVG__GUEST_SNAPSHOT_LIST_REQUEST__INIT;

	req.body_case = body;
	switch (body) {
	case EVG__ENVELOPE__BODY_PING:
		req.ping = &ping;
		break;
	case EVG__ENVELOPE__BODY_THAW:
		req.thaw = &thaw;
		break;
	case EVG__ENVELOPE__BODY_FREEZE_STATUS:
		req.freeze_status = &st;
		break;
	case EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_LIST:
		req.guest_snapshot_list = &ls;
		break;
	default:
		ck_abort_msg("no such simple request");
	}
	return (pair_ask(&req));
}

/* Ask for a lease renewal. */
static const Evg__Reply *
ask_renew(unsigned int lease_ms)
{
	Evg__Envelope		req = EVG__ENVELOPE__INIT;
	Evg__FreezeRenewRequest	renew = EVG__FREEZE_RENEW_REQUEST__INIT;

	renew.lease_ms = lease_ms;
	req.body_case = EVG__ENVELOPE__BODY_FREEZE_RENEW;
	req.freeze_renew = &renew;
	return (pair_ask(&req));
}

/* Ask for a freeze of one disk named by device and one identifier. */
static const Evg__Reply *
ask_freeze(const char *device, const char *kind, const char *value,
    unsigned int lease_ms)
{
	Evg__Envelope		 req = EVG__ENVELOPE__INIT;
	Evg__FreezeRequest	 fr = EVG__FREEZE_REQUEST__INIT;
	Evg__DiskRef		 ref = EVG__DISK_REF__INIT, *refs[1];
	Evg__DiskId		 id = EVG__DISK_ID__INIT, *ids[1];

	id.kind = (char *)kind;
	id.value = (char *)value;
	ids[0] = &id;
	ref.device = (char *)device;
	ref.ids = ids;
	ref.n_ids = kind != NULL ? 1 : 0;
	refs[0] = &ref;
	fr.disks = refs;
	fr.n_disks = device != NULL ? 1 : 0;
	fr.lease_ms = lease_ms;
	req.body_case = EVG__ENVELOPE__BODY_FREEZE;
	req.freeze = &fr;
	return (pair_ask(&req));
}

/* Proves a ping is answered OK. */
START_TEST(test_ping)
{
	assert_status(ask_simple(EVG__ENVELOPE__BODY_PING), EVG_OK, NULL);
}
END_TEST

/*
 * Proves a request the guest does not serve gets exactly one reply,
 * UNSUPPORTED, naming it; and that replies and events are left to the
 * caller (0, nothing sent).
 */
START_TEST(test_unsupported)
{
	Evg__Envelope	env = EVG__ENVELOPE__INIT;
	Evg__Event	ev = EVG__EVENT__INIT;
	Evg__Reply	rep = EVG__REPLY__INIT;

	assert_status(ask_simple(EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_LIST),
	    EVG_UNSUPPORTED, "'guest_snapshot_list'");

	env.body_case = EVG__ENVELOPE__BODY_EVENT;
	env.event = &ev;
	ck_assert_int_eq(serve_dispatch(P.serve, P.guest, &env), 0);
	env.body_case = EVG__ENVELOPE__BODY_REPLY;
	env.reply = &rep;
	ck_assert_int_eq(serve_dispatch(P.serve, P.guest, &env), 0);
	codec_free(P.reply);
	P.reply = NULL;
	pair_run(100);
	ck_assert_ptr_null(P.reply);
}
END_TEST

/*
 * Proves status, thaw and renew with nothing frozen are OK and report
 * nothing frozen: thaw is idempotent, and a renew has nothing to extend.
 */
START_TEST(test_idle_requests)
{
	const Evg__FreezeReport	*fr;
	const Evg__Reply	*r;

	r = ask_simple(EVG__ENVELOPE__BODY_FREEZE_STATUS);
	assert_status(r, EVG_OK, NULL);
	fr = report_of(r);
	ck_assert_int_eq(fr->frozen, 0);
	ck_assert_uint_eq(fr->frozen_count, 0);
	ck_assert_uint_eq(fr->lease_left_ms, 0);
	ck_assert_uint_eq(fr->duration_ms, 0);
	ck_assert_uint_eq(fr->n_mounts, 0);

	r = ask_simple(EVG__ENVELOPE__BODY_THAW);
	assert_status(r, EVG_OK, NULL);
	ck_assert_int_eq(report_of(r)->frozen, 0);
	r = ask_simple(EVG__ENVELOPE__BODY_THAW);
	assert_status(r, EVG_OK, NULL);

	r = ask_renew(1000);
	assert_status(r, EVG_OK, NULL);
	ck_assert_uint_eq(report_of(r)->lease_left_ms, 0);
	ck_assert_uint_eq(serve_frozen(P.serve), 0);
}
END_TEST

/*
 * Proves a freeze of a disk this VM does not have is NOT_FOUND, naming
 * the identifier, whether or not a device path comes with it; and that
 * a request naming no disk, or a disk without identifiers, is
 * INVALID_ARGUMENT.  Nothing is frozen by any of them.
 */
START_TEST(test_freeze_not_found)
{
	const Evg__Reply	*r;

	r = ask_freeze("/dev/evg-no-such-disk", "serial", NO_SERIAL, 1000);
	assert_status(r, EVG_NOT_FOUND, "disk with serial:" NO_SERIAL
	    " is not attached to this VM");
	r = ask_freeze("", "wwn", "naa.0000000000000000ee", 1000);
	assert_status(r, EVG_NOT_FOUND, "wwn:naa.0000000000000000ee");
	r = ask_freeze(NULL, NULL, NULL, 1000);
	assert_status(r, EVG_INVALID_ARGUMENT, "names no disk");
	r = ask_freeze("/dev/evg-no-such-disk", NULL, NULL, 1000);
	assert_status(r, EVG_INVALID_ARGUMENT, "no usable identifier");
	ck_assert_uint_eq(serve_frozen(P.serve), 0);
	r = ask_simple(EVG__ENVELOPE__BODY_FREEZE_STATUS);
	ck_assert_int_eq(report_of(r)->frozen, 0);
}
END_TEST

/* Proves a lost connection with nothing frozen is harmless. */
START_TEST(test_lost_idle)
{
	peer_free(P.host);
	P.host = NULL;
	pair_run(WAIT_MS);
	ck_assert_int_eq(P.lost, 1);
	ck_assert_uint_eq(serve_frozen(P.serve), 0);
}
END_TEST

/* --------------------------------------------------------- fake host */

/* A fake host script: runs in a child on the accepted socket. */
typedef int	(*fh_script)(int, void *);

static char	fh_dir[64];
static char	fh_path[96];

/*
 * Unchecked fixture of the tests with a fake host: a temp dir for its
 * socket, made and removed in the runner's process so that a failed test
 * leaves nothing behind.  A failure to make it shows in fh_start().
 */
static void
fh_setup(void)
{
	/* Either side may write to a socket the other has just closed. */
	signal(SIGPIPE, SIG_IGN);
	output_init("check_serve", 0);
	snprintf(fh_dir, sizeof fh_dir, "/tmp/evg-serve-call-XXXXXX");
	if (mkdtemp(fh_dir) == NULL)
		fh_dir[0] = '\0';
	snprintf(fh_path, sizeof fh_path, "%s/host.sock", fh_dir);
}

/* Remove the socket, any captured output and the dir. */
static void
fh_teardown(void)
{
	char	path[128];

	if (fh_dir[0] == '\0')
		return;
	unlink(fh_path);
	snprintf(path, sizeof path, "%s/out", fh_dir);
	unlink(path);
	rmdir(fh_dir);
	fh_dir[0] = '\0';
}

/* Child side: say why the script failed, then the code to exit with. */
static int
fh_bad(int code, const char *why)
{
	fprintf(stderr, "fake host: %s\n", why);
	return (code);
}

/* Child side: send one envelope (version 1). */
static int
fh_send(int fd, Evg__Envelope *env)
{
	uint8_t	*buf;
	size_t	 len, off = 0;
	ssize_t	 n;
	char	*cause;

	env->version = 1;
	if ((buf = codec_frame(env, FRAME_MAX_GUEST, &len, &cause)) == NULL)
		return (-1);
	while (off < len) {
		n = write(fd, buf + off, len - off);
		if (n <= 0) {
			free(buf);
			return (-1);
		}
		off += (size_t)n;
	}
	free(buf);
	return (0);
}

/* Child side: read exactly len bytes within WAIT_MS; 0 or -1. */
static int
fh_read(int fd, uint8_t *buf, size_t len)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	size_t		off = 0;
	ssize_t		n;

	while (off < len) {
		if (poll(&pfd, 1, WAIT_MS) != 1)
			return (-1);
		if ((n = read(fd, buf + off, len - off)) <= 0)
			return (-1);
		off += (size_t)n;
	}
	return (0);
}

/* Child side: the next envelope, or NULL. */
static Evg__Envelope *
fh_recv(int fd)
{
	uint8_t		 hdr[FRAME_HEADER_SIZE], *payload;
	uint32_t	 len;
	Evg__Envelope	*env;
	char		 err[128];

	if (fh_read(fd, hdr, sizeof hdr) == -1)
		return (NULL);
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (len == 0 || len > FRAME_MAX_GUEST)
		return (NULL);
	payload = xmalloc(len);
	if (fh_read(fd, payload, len) == -1) {
		free(payload);
		return (NULL);
	}
	env = codec_unpack(payload, len, err, sizeof err);
	free(payload);
	return (env);
}

/* Child side: reply to id with a status (and no result). */
static int
fh_reply(int fd, uint64_t id, unsigned int code, const char *msg)
{
	struct codec_reply	r;

	codec_reply_init(&r, id, 1, code, msg);
	return (fh_send(fd, &r.env));
}

/* Child side: the Hello, answered with a HelloAck for version 1. */
static int
fh_handshake(int fd)
{
	struct codec_reply	 r;
	Evg__HelloAck		 ack = EVG__HELLO_ACK__INIT;
	Evg__Envelope		*env;
	int			 ok;

	if ((env = fh_recv(fd)) == NULL)
		return (-1);
	ok = env->body_case == EVG__ENVELOPE__BODY_HELLO &&
	    env->hello->role == EVG__ROLE__ROLE_GUEST_CLI;
	codec_reply_init(&r, env->id, 1, EVG_OK, "");
	codec_free(env);
	if (!ok)
		return (-1);
	ack.version = 1;
	ack.software = (char *)"fake host";
	r.reply.result_case = EVG__REPLY__RESULT_HELLO_ACK;
	r.reply.hello_ack = &ack;
	return (fh_send(fd, &r.env));
}

/*
 * Child side: send a request and return the reply to it (NULL if none
 * came, or another message did).
 */
static Evg__Envelope *
fh_ask(int fd, Evg__Envelope *req, uint64_t id)
{
	Evg__Envelope	*env;

	req->id = id;
	if (fh_send(fd, req) == -1 || (env = fh_recv(fd)) == NULL)
		return (NULL);
	if (env->body_case != EVG__ENVELOPE__BODY_REPLY || env->id != id ||
	    env->reply->status == NULL) {
		codec_free(env);
		return (NULL);
	}
	return (env);
}

/*
 * Run script as the host in a child on a fresh socket at fh_path.
 * Returns the child's pid; the listening socket is the child's only.
 */
static pid_t
fh_start(fh_script script, void *arg)
{
	char	*cause = NULL;
	pid_t	 pid;
	int	 lfd, fd, rc;

	ck_assert_msg(fh_dir[0] != '\0', "no temp dir for the fake host");
	lfd = transport_listen_unix(fh_path, 0600, 4, &cause);
	ck_assert_msg(lfd != -1, "listen: %s", cause);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid != 0) {
		close(lfd);
		return (pid);
	}
	transport_set_nonblock(lfd, 0);
	alarm(30);
	if ((fd = accept(lfd, NULL, NULL)) == -1)
		_exit(fh_bad(90, "accept failed"));
	close(lfd);
	rc = script(fd, arg);
	close(fd);
	_exit(rc);
}

/* Wait for the fake host; assert it found everything as expected. */
static void
fh_wait(pid_t pid)
{
	int	status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "fake host died (status %d)",
	    status);
	ck_assert_msg(WEXITSTATUS(status) == 0, "fake host failed with %d "
	    "(its stderr says why)", WEXITSTATUS(status));
}

/* The fake host's address. */
static void
fh_addr(struct evg_addr *addr)
{
	memset(addr, 0, sizeof *addr);
	addr->type = ADDR_UNIX;
	memcpy(addr->path, fh_path, sizeof fh_path);
}

/* A snapshot command configuration for the fake host. */
static void
fh_snapcmd(struct snapcmd_config *conf)
{
	memset(conf, 0, sizeof *conf);
	fh_addr(&conf->addr);
	conf->software = "check_serve";
}

/* A call configuration for the fake host. */
static void
fh_config(struct call_config *cc, struct evg_addr *addr, int idle_ms)
{
	fh_addr(addr);
	memset(cc, 0, sizeof *cc);
	cc->addr = addr;
	cc->software = "check_serve";
	cc->connect_ms = 3000;
	cc->idle_ms = idle_ms;
}

/* A create request for a made-up disk. */
static void
fh_create_request(Evg__Envelope *req, Evg__GuestSnapshotCreateRequest *cr,
    Evg__DiskRef **refs, Evg__DiskRef *ref, Evg__DiskId **ids,
    Evg__DiskId *id)
{
	evg__disk_id__init(id);
	id->kind = (char *)"serial";
	id->value = (char *)NO_SERIAL;
	ids[0] = id;
	evg__disk_ref__init(ref);
	ref->device = (char *)"/dev/evg-no-such-disk";
	ref->ids = ids;
	ref->n_ids = 1;
	refs[0] = ref;
	evg__guest_snapshot_create_request__init(cr);
	cr->disks = refs;
	cr->n_disks = 1;
	cr->name = (char *)"t";
	evg__envelope__init(req);
	req->body_case = EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CREATE;
	req->guest_snapshot_create = cr;
}

/* Child side: the final reply, OK with one snapshot named name. */
static int
fh_final(int fd, uint64_t id, const char *name, Evg__DiskId **ids,
    size_t nids, Evg__MountReport **mounts, size_t nmounts,
    unsigned int freeze_ms)
{
	struct codec_reply	r;
	Evg__SnapshotList	list = EVG__SNAPSHOT_LIST__INIT;
	Evg__Snapshot		s = EVG__SNAPSHOT__INIT, *sp = &s;

	s.uuid = (char *)"3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
	s.name = (char *)name;
	s.volume_uuid = (char *)"1f7dab63-2a1c-4b54-8d9f-3c8e6f5a4b32";
	s.volume_name = (char *)"data";
	s.created = 1795694400;
	s.size_bytes = 1288490189;
	s.consistency = (char *)(freeze_ms != 0 ? "fs" : "crash");
	s.origin = (char *)"guest";
	s.state = (char *)"ready";
	s.backend = (char *)"zfs";
	s.freeze_ms = freeze_ms;
	s.mounts = mounts;
	s.n_mounts = nmounts;
	s.disk_ids = ids;
	s.n_disk_ids = nids;
	list.snapshots = &sp;
	list.n_snapshots = 1;
	codec_reply_init(&r, id, 1, EVG_OK, "");
	r.reply.result_case = EVG__REPLY__RESULT_SNAPSHOT_LIST;
	r.reply.snapshot_list = &list;
	return (fh_send(fd, &r.env));
}

/*
 * The host of test_call_serves: while the create is pending it pings,
 * asks a freeze of a disk the guest does not have, thaws, sends an event,
 * then gives the final answer.
 */
static int
fh_script_serves(int fd, void *arg)
{
	Evg__Envelope		 req = EVG__ENVELOPE__INIT, *env, *rep;
	Evg__Ping		 ping = EVG__PING__INIT;
	Evg__ThawRequest	 thaw = EVG__THAW_REQUEST__INIT;
	Evg__FreezeRequest	 fr = EVG__FREEZE_REQUEST__INIT;
	Evg__Event		 ev = EVG__EVENT__INIT;
	Evg__GuestSnapshotCreateRequest *cr;
	uint64_t		 id;
	int			 rc = 0;

	(void)arg;
	if (fh_handshake(fd) == -1)
		return (fh_bad(1, "handshake"));
	if ((env = fh_recv(fd)) == NULL ||
	    env->body_case != EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CREATE)
		return (fh_bad(2, "no create request"));
	id = env->id;
	cr = env->guest_snapshot_create;
	if (cr->n_disks != 1 || strcmp(cr->name, "t") != 0 ||
	    cr->disks[0]->n_ids != 1)
		return (fh_bad(3, "create request not as sent"));

	req.body_case = EVG__ENVELOPE__BODY_PING;
	req.ping = &ping;
	if ((rep = fh_ask(fd, &req, 1000)) == NULL ||
	    rep->reply->status->code != EVG_OK)
		rc = fh_bad(4, "ping");
	codec_free(rep);

	fr.disks = cr->disks;
	fr.n_disks = cr->n_disks;
	fr.lease_ms = 5000;
	req.body_case = EVG__ENVELOPE__BODY_FREEZE;
	req.freeze = &fr;
	if (rc == 0 && ((rep = fh_ask(fd, &req, 1001)) == NULL ||
	    rep->reply->status->code != EVG_NOT_FOUND))
		rc = fh_bad(5, "freeze of a missing disk not NOT_FOUND");
	codec_free(rep);

	req.body_case = EVG__ENVELOPE__BODY_THAW;
	req.thaw = &thaw;
	if (rc == 0 && ((rep = fh_ask(fd, &req, 1002)) == NULL ||
	    rep->reply->status->code != EVG_OK ||
	    rep->reply->result_case != EVG__REPLY__RESULT_FREEZE_REPORT ||
	    rep->reply->freeze_report->frozen))
		rc = fh_bad(6, "thaw");
	codec_free(rep);

	req.id = 0;
	req.body_case = EVG__ENVELOPE__BODY_EVENT;
	req.event = &ev;
	ev.kind = (char *)"note";
	ev.message = (char *)"the guest ignores this";
	if (rc == 0 && (fh_send(fd, &req) == -1 ||
	    fh_final(fd, id, "t", NULL, 0, NULL, 0, 0) == -1))
		rc = fh_bad(7, "final reply");
	codec_free(env);
	return (rc);
}

/*
 * Proves call_run() answers what the host asks while the request is
 * pending (ping, freeze, thaw; events ignored) and returns the final
 * reply with its result.
 */
START_TEST(test_call_serves)
{
	struct call_config		 cc;
	struct evg_addr			 addr;
	Evg__Envelope			 req, *rep;
	Evg__GuestSnapshotCreateRequest	 cr;
	Evg__DiskRef			 ref, *refs[1];
	Evg__DiskId			 id, *ids[1];
	char				*cause = NULL;
	pid_t				 pid;
	int				 code;

	fh_create_request(&req, &cr, refs, &ref, ids, &id);
	pid = fh_start(fh_script_serves, NULL);
	fh_config(&cc, &addr, WAIT_MS);
	rep = call_run(&cc, &req, &code, &cause);
	fh_wait(pid);
	ck_assert_msg(rep != NULL && code == EVG_OK, "call: %d %s", code,
	    cause);
	ck_assert_int_eq(rep->reply->result_case,
	    EVG__REPLY__RESULT_SNAPSHOT_LIST);
	ck_assert_uint_eq(rep->reply->snapshot_list->n_snapshots, 1);
	ck_assert_str_eq(rep->reply->snapshot_list->snapshots[0]->name, "t");
	ck_assert_ptr_null(cause);
	codec_free(rep);
}
END_TEST

/* The host of test_call_refused: refuses the session before Hello. */
static int
fh_script_refuse(int fd, void *arg)
{
	(void)arg;
	if (fh_reply(fd, 0, EVG_NOT_FOUND, "no VM is registered for this "
	    "connection") == -1)
		return (fh_bad(1, "send"));
	return (0);
}

/* The host of test_call_dropped: takes the request, then hangs up. */
static int
fh_script_drop(int fd, void *arg)
{
	Evg__Envelope	*env;

	(void)arg;
	if (fh_handshake(fd) == -1 || (env = fh_recv(fd)) == NULL)
		return (fh_bad(1, "handshake or request"));
	codec_free(env);
	return (0);
}

/* The host of test_call_idle: takes the request, then says nothing. */
static int
fh_script_silent(int fd, void *arg)
{
	Evg__Envelope	*env;

	(void)arg;
	if (fh_handshake(fd) == -1 || (env = fh_recv(fd)) == NULL)
		return (fh_bad(1, "handshake or request"));
	codec_free(env);
	/* Until the guest gives up and closes. */
	if (fh_recv(fd) != NULL)
		return (fh_bad(2, "the guest sent more"));
	return (0);
}

/* The host of test_call_no_handshake: never answers Hello. */
static int
fh_script_mute(int fd, void *arg)
{
	(void)arg;
	if (fh_recv(fd) == NULL)
		return (fh_bad(1, "no hello"));
	fh_recv(fd);
	return (0);
}

/*
 * Proves each way a call fails gives the documented code: a refusal's own
 * status, UNAVAILABLE when the host hangs up after the request, TIMEOUT
 * after idle_ms of silence, CLIENT_UNREACHABLE with no handshake or no
 * host at all.
 */
START_TEST(test_call_failures)
{
	struct call_config		 cc;
	struct evg_addr			 addr;
	struct timespec			 start;
	Evg__Envelope			 req, *rep;
	Evg__GuestSnapshotCreateRequest	 cr;
	Evg__DiskRef			 ref, *refs[1];
	Evg__DiskId			 id, *ids[1];
	char				*cause = NULL;
	pid_t				 pid;
	int				 code;
	long				 ms;

	fh_create_request(&req, &cr, refs, &ref, ids, &id);
	fh_config(&cc, &addr, WAIT_MS);

	pid = fh_start(fh_script_refuse, NULL);
	rep = call_run(&cc, &req, &code, &cause);
	fh_wait(pid);
	ck_assert_ptr_null(rep);
	ck_assert_int_eq(code, EVG_NOT_FOUND);
	ck_assert_str_eq(cause, "no VM is registered for this connection");
	free(cause);

	pid = fh_start(fh_script_drop, NULL);
	rep = call_run(&cc, &req, &code, &cause);
	fh_wait(pid);
	ck_assert_ptr_null(rep);
	ck_assert_int_eq(code, EVG_UNAVAILABLE);
	ck_assert_msg(strstr(cause, "closed the connection") != NULL, "%s",
	    cause);
	free(cause);

	fh_config(&cc, &addr, 300);
	pid = fh_start(fh_script_silent, NULL);
	clock_gettime(CLOCK_MONOTONIC, &start);
	rep = call_run(&cc, &req, &code, &cause);
	ms = testutil_ms_since(&start);
	fh_wait(pid);
	ck_assert_ptr_null(rep);
	ck_assert_int_eq(code, EVG_TIMEOUT);
	ck_assert_msg(ms >= 290 && ms < 5000, "gave up after %ld ms", ms);
	free(cause);

	cc.connect_ms = 300;
	pid = fh_start(fh_script_mute, NULL);
	rep = call_run(&cc, &req, &code, &cause);
	fh_wait(pid);
	ck_assert_ptr_null(rep);
	ck_assert_int_eq(code, CLIENT_UNREACHABLE);
	ck_assert_msg(strstr(cause, "handshake") != NULL, "%s", cause);
	free(cause);

	unlink(fh_path);
	rep = call_run(&cc, &req, &code, &cause);
	ck_assert_ptr_null(rep);
	ck_assert_int_eq(code, CLIENT_UNREACHABLE);
	ck_assert_msg(strstr(cause, "cannot reach the host") != NULL, "%s",
	    cause);
	free(cause);
}
END_TEST

/* Point stdout at path; returns the saved descriptor. */
static int
capture_start(const char *path)
{
	int	saved, fd;

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ne(fd, -1);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	return (saved);
}

/* Put stdout back and return what was written (caller frees). */
static char *
capture_end(int saved, const char *path)
{
	char	*text;
	FILE	*f;
	long	 len;

	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = xcalloc(1, (size_t)len + 1);
	ck_assert_int_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	unlink(path);
	return (text);
}

/* The host of test_list_json: two snapshots, one on a disk nobody has. */
static int
fh_script_list(int fd, void *arg)
{
	struct codec_reply	 r;
	Evg__Envelope		*env;
	Evg__SnapshotList	 list = EVG__SNAPSHOT_LIST__INIT;
	Evg__Snapshot		 s = EVG__SNAPSHOT__INIT, *sp[1] = { &s };
	Evg__DiskId		 id = EVG__DISK_ID__INIT, *ids[1] = { &id };
	Evg__MountReport	 m = EVG__MOUNT_REPORT__INIT, *ms[1] = { &m };

	(void)arg;
	if (fh_handshake(fd) == -1 || (env = fh_recv(fd)) == NULL)
		return (fh_bad(1, "handshake or request"));
	if (env->body_case != EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_LIST)
		return (fh_bad(2, "not a list request"));
	id.kind = (char *)"serial";
	id.value = (char *)NO_SERIAL;
	m.mountpoint = (char *)"/mnt/data";
	m.fstype = (char *)"ext4";
	m.device = (char *)"/dev/sdc1";
	m.action = (char *)"frozen";
	s.uuid = (char *)"3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
	s.name = (char *)"Weekly backup";
	s.created = 1795694400;
	s.size_bytes = 1288490189;
	s.consistency = (char *)"fs";
	s.origin = (char *)"guest";
	s.state = (char *)"ready";
	s.volume_name = (char *)"data";
	s.freeze_ms = 14;
	s.mounts = ms;
	s.n_mounts = 1;
	s.disk_ids = ids;
	s.n_disk_ids = 1;
	list.snapshots = sp;
	list.n_snapshots = 1;
	codec_reply_init(&r, env->id, 1, EVG_OK, "");
	r.reply.result_case = EVG__REPLY__RESULT_SNAPSHOT_LIST;
	r.reply.snapshot_list = &list;
	codec_free(env);
	return (fh_send(fd, &r.env) == -1 ? fh_bad(3, "send") : 0);
}

/*
 * Proves `snapshot list --json` gives the contract's keys: a snapshot from
 * a host without groups is a group of one with its own UUID, not partial,
 * and its member has "created" in RFC 3339 UTC, "disk" null for a disk
 * this VM does not have, and the consistency record.
 */
START_TEST(test_list_json)
{
	struct snapcmd_config	 conf;
	struct json_object	*doc, *arr, *g, *s, *v, *rec;
	char			*text, out[160];
	pid_t			 pid;
	int			 saved, rc;

	fh_snapcmd(&conf);
	snprintf(out, sizeof out, "%s/out", fh_dir);
	output_init("check_serve", 1);
	pid = fh_start(fh_script_list, NULL);
	saved = capture_start(out);
	rc = snapcmd_list(&conf, NULL);
	text = capture_end(saved, out);
	output_init("check_serve", 0);
	fh_wait(pid);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, text);

	doc = json_tokener_parse(text);
	ck_assert_msg(doc != NULL, "not JSON: %s", text);
	ck_assert(json_object_object_get_ex(doc, "groups", &arr));
	ck_assert_int_eq(json_object_array_length(arr), 1);
	g = json_object_array_get_idx(arr, 0);
	ck_assert(json_object_object_get_ex(g, "uuid", &v));
	ck_assert_str_eq(json_object_get_string(v),
	    "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f");
	ck_assert(json_object_object_get_ex(g, "name", &v));
	ck_assert_str_eq(json_object_get_string(v), "Weekly backup");
	ck_assert(json_object_object_get_ex(g, "size_bytes", &v));
	ck_assert_int_eq(json_object_get_int64(v), 1288490189);
	ck_assert(json_object_object_get_ex(g, "group_size", &v));
	ck_assert_int_eq(json_object_get_int(v), 1);
	ck_assert(json_object_object_get_ex(g, "partial", &v));
	ck_assert(!json_object_get_boolean(v));
	ck_assert(json_object_object_get_ex(g, "members", &arr));
	ck_assert_int_eq(json_object_array_length(arr), 1);
	s = json_object_array_get_idx(arr, 0);
	ck_assert(json_object_object_get_ex(s, "uuid", &v));
	ck_assert_str_eq(json_object_get_string(v),
	    "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f");
	ck_assert(json_object_object_get_ex(s, "name", &v));
	ck_assert_str_eq(json_object_get_string(v), "Weekly backup");
	ck_assert(json_object_object_get_ex(s, "created", &v));
	ck_assert_str_eq(json_object_get_string(v), "2026-11-26T12:00:00Z");
	ck_assert(json_object_object_get_ex(s, "size_bytes", &v));
	ck_assert_int_eq(json_object_get_int64(v), 1288490189);
	ck_assert(json_object_object_get_ex(s, "disk", &v));
	ck_assert_ptr_null(v);
	ck_assert(json_object_object_get_ex(s, "consistency", &v));
	ck_assert_str_eq(json_object_get_string(v), "fs");
	ck_assert(json_object_object_get_ex(s, "origin", &v));
	ck_assert_str_eq(json_object_get_string(v), "guest");
	ck_assert(json_object_object_get_ex(s, "consistency_record", &rec));
	ck_assert(json_object_object_get_ex(rec, "freeze_ms", &v));
	ck_assert_int_eq(json_object_get_int(v), 14);
	ck_assert(json_object_object_get_ex(rec, "mounts", &v));
	ck_assert_int_eq(json_object_array_length(v), 1);
	json_object_put(doc);
	free(text);
}
END_TEST

/*
 * Child side: a host with snapshot groups.  Mode "list" answers a list
 * request with a group of three made, two listed (partial), whose members
 * are on no disk here, and a snapshot from before groups; mode "delete"
 * wants a delete of one member (member set) and answers with it.
 */
static int
fh_script_groups(int fd, void *arg)
{
	struct codec_reply	 r;
	Evg__Envelope		*env;
	Evg__SnapshotList	 list = EVG__SNAPSHOT_LIST__INIT;
	Evg__Snapshot		 s[3], *sp[3] = { &s[0], &s[1], &s[2] };
	Evg__DiskId		 id = EVG__DISK_ID__INIT, *ids[1] = { &id };
	const char		*mode = arg;
	size_t			 i;

	if (fh_handshake(fd) == -1 || (env = fh_recv(fd)) == NULL)
		return (fh_bad(1, "handshake or request"));
	if (strcmp(mode, "list") == 0 &&
	    env->body_case != EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_LIST)
		return (fh_bad(2, "not a list request"));
	if (strcmp(mode, "delete") == 0 &&
	    (env->body_case != EVG__ENVELOPE__BODY_SNAPSHOT_DELETE ||
	    !env->snapshot_delete->member))
		return (fh_bad(2, "not a delete of a member"));
	id.kind = (char *)"serial";
	id.value = (char *)NO_SERIAL;
	for (i = 0; i < 3; i++) {
		evg__snapshot__init(&s[i]);
		s[i].name = (char *)"db";
		s[i].created = 1795694400;
		s[i].size_bytes = 1048576;
		s[i].consistency = (char *)"fs";
		s[i].origin = (char *)"guest";
		s[i].state = (char *)"ready";
		s[i].group_uuid = (char *)"9c1e0d2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f";
		s[i].group_size = 3;
		s[i].disk_ids = ids;
		s[i].n_disk_ids = 1;
	}
	s[0].uuid = (char *)"11111111-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
	s[0].volume_name = (char *)"data";
	s[1].uuid = (char *)"22222222-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
	s[1].volume_name = (char *)"wal";
	s[2].uuid = (char *)"33333333-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
	s[2].name = (char *)"old";
	s[2].created = 1795600000;
	s[2].group_uuid = (char *)"";
	s[2].group_size = 0;
	list.snapshots = sp;
	list.n_snapshots = strcmp(mode, "list") == 0 ? 3 : 1;
	codec_reply_init(&r, env->id, 1, EVG_OK, "");
	r.reply.result_case = EVG__REPLY__RESULT_SNAPSHOT_LIST;
	r.reply.snapshot_list = &list;
	codec_free(env);
	return (fh_send(fd, &r.env) == -1 ? fh_bad(3, "send") : 0);
}

/* Run a snapshot command against fh_script_groups; its output in *text. */
static int
fh_groups_run(const char *mode, int json, int (*run)(void *), void *arg,
    char **text)
{
	char	out[160];
	pid_t	pid;
	int	saved, rc;

	snprintf(out, sizeof out, "%s/out", fh_dir);
	output_init("check_serve", json);
	pid = fh_start(fh_script_groups, (void *)mode);
	saved = capture_start(out);
	rc = run(arg);
	*text = capture_end(saved, out);
	output_init("check_serve", 0);
	fh_wait(pid);
	return (rc);
}

/* snapcmd_list() of every group, for fh_groups_run(). */
static int
fh_groups_list(void *arg)
{
	return (snapcmd_list(arg, NULL));
}

/*
 * Proves `snapshot list` shows a group as one row, oldest first: the
 * group's UUID, its members' total size, a disk per member ("-" where
 * none is here) and the partial marker; a snapshot from before groups is
 * a row of its own.  With --json, each group holds its members.
 */
START_TEST(test_list_groups)
{
	struct snapcmd_config	 conf;
	struct json_object	*doc, *arr, *g, *v;
	char			*text, *old, *group;
	int			 rc;

	fh_snapcmd(&conf);
	rc = fh_groups_run("list", 0, fh_groups_list, &conf, &text);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, text);
	old = strstr(text, "  old   33333333-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
	    "     1.0 MiB  -\n");
	group = strstr(text, "  db    9c1e0d2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f"
	    "     2.0 MiB  -,-  (partial: 2 of 3 disks)\n");
	ck_assert_msg(old != NULL && group != NULL && old < group, "%s", text);
	ck_assert_msg(strchr(group, '\n')[1] == '\0', "%s", text);
	free(text);

	rc = fh_groups_run("list", 1, fh_groups_list, &conf, &text);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, text);
	doc = json_tokener_parse(text);
	ck_assert_msg(doc != NULL, "not JSON: %s", text);
	ck_assert(json_object_object_get_ex(doc, "groups", &arr));
	ck_assert_int_eq(json_object_array_length(arr), 2);
	g = json_object_array_get_idx(arr, 1);
	ck_assert(json_object_object_get_ex(g, "uuid", &v));
	ck_assert_str_eq(json_object_get_string(v),
	    "9c1e0d2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f");
	ck_assert(json_object_object_get_ex(g, "partial", &v));
	ck_assert(json_object_get_boolean(v));
	ck_assert(json_object_object_get_ex(g, "members", &v));
	ck_assert_int_eq(json_object_array_length(v), 2);
	json_object_put(doc);
	free(text);
}
END_TEST

/* snapcmd_rollback() of the whole group "db", for fh_groups_run(). */
static int
fh_groups_rollback(void *arg)
{
	return (snapcmd_rollback(arg, "db", NULL, 0));
}

/*
 * Proves a whole-group rollback finds the members' disks here first and
 * is refused (FAILED_PRECONDITION, naming the volume) when one has none,
 * before any rollback is asked (the fake host answers only the list).
 * The error is read from --json output, which carries it on stdout.
 */
START_TEST(test_rollback_group_no_disk)
{
	struct snapcmd_config	 conf;
	char			*text;
	int			 rc;

	fh_snapcmd(&conf);
	rc = fh_groups_run("list", 1, fh_groups_rollback, &conf, &text);
	ck_assert_int_eq(rc, status_exit_code(EVG_FAILED_PRECONDITION));
	ck_assert_msg(strstr(text, "cannot roll back snapshot group 'db': its "
	    "volume 'data' has no disk in this VM") != NULL, "%s", text);
	free(text);
}
END_TEST

/* snapcmd_delete() of one member, for fh_groups_run(). */
static int
fh_groups_delete(void *arg)
{
	return (snapcmd_delete(arg, "11111111-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
	    1));
}

/*
 * Proves `snapshot delete --member` asks for the member alone and says
 * that its group is now partial.
 */
START_TEST(test_delete_member)
{
	struct snapcmd_config	 conf;
	char			*text;
	int			 rc;

	fh_snapcmd(&conf);
	rc = fh_groups_run("delete", 0, fh_groups_delete, &conf, &text);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, text);
	ck_assert_str_eq(text, "Deleted member "
	    "11111111-5a6b-4c7d-8e9f-0a1b2c3d4e5f (disk -, volume data) of "
	    "snapshot group \"db\" (9c1e0d2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f): the "
	    "group is now partial\n");
	free(text);
}
END_TEST

/*
 * Proves the consistency line names what was frozen and skipped, and says
 * why a snapshot is only crash-consistent.
 */
START_TEST(test_consistency_text)
{
	Evg__Snapshot		 s = EVG__SNAPSHOT__INIT;
	Evg__MountReport	 a = EVG__MOUNT_REPORT__INIT;
	Evg__MountReport	 b = EVG__MOUNT_REPORT__INIT;
	Evg__MountReport	*ms[2] = { &a, &b };
	char			*line;

	a.mountpoint = (char *)"/mnt/data";
	a.action = (char *)"frozen";
	b.mountpoint = (char *)"/boot/efi";
	b.action = (char *)"skipped";
	b.reason = (char *)"vfat cannot be frozen";
	s.consistency = (char *)"fs";
	s.freeze_ms = 14;
	s.mounts = ms;
	s.n_mounts = 2;
	line = output_consistency_text(&s);
	ck_assert_str_eq(line, "fs (froze /mnt/data in 14 ms; skipped "
	    "/boot/efi: vfat cannot be frozen)");
	free(line);

	s.consistency = (char *)"crash";
	s.mounts = ms + 1;
	s.n_mounts = 1;
	line = output_consistency_text(&s);
	ck_assert_str_eq(line, "crash (no filesystem on the disk could be "
	    "frozen; skipped /boot/efi: vfat cannot be frozen)");
	free(line);
	s.n_mounts = 0;
	line = output_consistency_text(&s);
	ck_assert_str_eq(line, "crash (no filesystem on the disk could be "
	    "frozen)");
	free(line);
}
END_TEST

/* ---------------------------------------------------------------- real */

/*
 * The real fixture: in dir, ext4 image A on a loop device mounted at
 * dir/a, and image B on a loop device, not mounted.  Set up in the
 * runner's process, so no ck_assert here: a failure is kept in why.
 */
static struct {
	char	 dir[64];
	char	 why[512];
	char	 skip[128];
	char	 img[2][96];
	char	 loop[2][32];
	char	 backing[2][256];
	char	 mnt_a[96];
	int	 mounted;
	dev_t	 dev_a;
	char	 file_a[128];
} fx;

/* Make image i with mkfs.ext4 and attach it; 0 or -1 with fx.why. */
static int
fx_image(int i, const char *name)
{
	char	*mk[] = { (char *)"mkfs.ext4", (char *)"-q", (char *)"-F",
		    fx.img[i], NULL };
	char	*lo[] = { (char *)"losetup", (char *)"--find", (char *)"--show",
		    fx.img[i], NULL };
	char	 path[sizeof fx.img[i]], *real;
	int	 fd;

	snprintf(path, sizeof path, "%s/%s.img", fx.dir, name);
	memcpy(fx.img[i], path, sizeof path);
	if ((fd = open(fx.img[i], O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    ftruncate(fd, (off_t)IMAGE_MB << 20) == -1) {
		snprintf(fx.why, sizeof fx.why, "%s: %s", fx.img[i],
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return (-1);
	}
	close(fd);
	if (testutil_run(mk, NULL, 0) != 0) {
		snprintf(fx.why, sizeof fx.why, "mkfs.ext4 %s failed",
		    fx.img[i]);
		return (-1);
	}
	if (testutil_run(lo, fx.loop[i], sizeof fx.loop[i]) != 0 ||
	    strncmp(fx.loop[i], "/dev/loop", 9) != 0) {
		snprintf(fx.why, sizeof fx.why, "losetup %s failed: '%s'",
		    fx.img[i], fx.loop[i]);
		fx.loop[i][0] = '\0';
		return (-1);
	}
	if ((real = realpath(fx.img[i], NULL)) == NULL) {
		snprintf(fx.why, sizeof fx.why, "realpath %s", fx.img[i]);
		return (-1);
	}
	snprintf(fx.backing[i], sizeof fx.backing[i], "%s", real);
	free(real);
	return (0);
}

/* The device a path's filesystem is on, or 0. */
static dev_t
fx_dev_of(const char *path)
{
	struct stat	st;

	return (stat(path, &st) == 0 ? st.st_dev : 0);
}

/* Thaw A, ignoring errors (it is usually not frozen). */
static void
fx_thaw(void)
{
	int	fd;

	if (!fx.mounted ||
	    (fd = open(fx.mnt_a, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	ioctl(fd, FITHAW, 0);
	close(fd);
}

/* Unchecked fixture: thaw, unmount, detach, remove; whatever happened. */
static void
fx_teardown(void)
{
	char	*lo[] = { (char *)"losetup", (char *)"-d", NULL, NULL };
	int	 i;

	if (fx.dir[0] == '\0')
		return;
	if (fx.mounted) {
		fx_thaw();
		for (i = 0; i < 50; i++) {
			if (umount(fx.mnt_a) == 0 || errno != EBUSY)
				break;
			usleep(100000);
		}
		if (i == 50)
			umount2(fx.mnt_a, MNT_DETACH);
		fx.mounted = 0;
	}
	for (i = 0; i < 2; i++) {
		if (fx.loop[i][0] != '\0') {
			lo[2] = fx.loop[i];
			testutil_run(lo, NULL, 0);
			fx.loop[i][0] = '\0';
		}
		if (fx.img[i][0] != '\0')
			unlink(fx.img[i]);
	}
	rmdir(fx.mnt_a);
	rmdir(fx.dir);
	fx.dir[0] = '\0';
}

/* Unchecked fixture: build everything, or say why not in fx.why/skip. */
static void
fx_setup(void)
{
	int	fd;

	memset(&fx, 0, sizeof fx);
	if (geteuid() != 0) {
		snprintf(fx.skip, sizeof fx.skip, "not root");
		return;
	}
	if (!testutil_have("losetup") || !testutil_have("mkfs.ext4")) {
		snprintf(fx.skip, sizeof fx.skip, "losetup or mkfs.ext4 "
		    "missing");
		return;
	}
	snprintf(fx.dir, sizeof fx.dir, "/tmp/evg-serve-XXXXXX");
	if (mkdtemp(fx.dir) == NULL) {
		snprintf(fx.why, sizeof fx.why, "mkdtemp: %s",
		    strerror(errno));
		fx.dir[0] = '\0';
		return;
	}
	snprintf(fx.mnt_a, sizeof fx.mnt_a, "%s/a", fx.dir);
	mkdir(fx.mnt_a, 0755);
	if (fx_image(0, "a") == -1 || fx_image(1, "b") == -1)
		goto fail;
	if (mount(fx.loop[0], fx.mnt_a, "ext4", 0, NULL) == -1) {
		snprintf(fx.why, sizeof fx.why, "mount: %s", strerror(errno));
		goto fail;
	}
	fx.mounted = 1;
	fx.dev_a = fx_dev_of(fx.mnt_a);
	snprintf(fx.file_a, sizeof fx.file_a, "%s/file", fx.mnt_a);
	if ((fd = open(fx.file_a, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    write(fd, "x\n", 2) != 2 || fsync(fd) == -1) {
		snprintf(fx.why, sizeof fx.why, "%s: %s", fx.file_a,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		goto fail;
	}
	close(fd);
	return;
fail:
	fx_teardown();
}

/*
 * Start of every real test: false (and a message) when the fixture is
 * skipped; fails when it could not be built; thaws whatever an earlier
 * failed test may have left frozen.
 */
static int
fx_ready(const char *test)
{
	if (fx.skip[0] != '\0') {
		printf("serve: %s; skipping %s\n", fx.skip, test);
		return (0);
	}
	ck_assert_msg(fx.why[0] == '\0', "fixture: %s", fx.why);
	fx_thaw();
	return (1);
}

/* Plan predicate of the safety check. */
static int
fx_holds(unsigned int maj, unsigned int min, void *arg)
{
	const struct disk	*d = arg;

	return (disk_holds_dev(d, 1, maj, min));
}

/*
 * The safety check before a request that could freeze the disk of loop
 * device i: it resolves to that loop device alone, and every mount on it
 * is inside the temp dir and on A's device (B has none).  Returns the
 * number of mounts.
 */
static size_t
fx_assert_safe(int i)
{
	struct freeze_plan		*plan;
	const struct freeze_entry	*e;
	struct disk			*disks;
	const char			*mp;
	char				*cause = NULL;
	size_t				 n, k, len = strlen(fx.dir);

	ck_assert_msg(disk_resolve(fx.loop[i], &disks, &n, &cause) == 0,
	    "%s", cause);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(disks[0].devpath, fx.loop[i]);
	ck_assert_msg(freeze_plan("/proc/self/mountinfo", fx_holds, disks,
	    &plan, &cause) == 0, "plan: %s", cause);
	disk_free(disks, n);
	n = freeze_plan_count(plan);
	for (k = 0; k < n; k++) {
		e = freeze_plan_entry(plan, k);
		mp = freeze_entry_mountpoint(e);
		ck_assert_msg(strncmp(mp, fx.dir, len) == 0 && mp[len] == '/',
		    "refusing: %s is outside %s", mp, fx.dir);
		ck_assert_msg(fx_dev_of(mp) == fx.dev_a, "refusing: %s is not "
		    "on this test's filesystem", mp);
	}
	freeze_plan_free(plan);
	return (n);
}

/* Assert a write to A completes within WRITE_MS (A is not frozen). */
static void
assert_writable(void)
{
	pid_t	pid = testutil_writer_start(fx.file_a);
	int	rc = testutil_writer_wait(pid, WRITE_MS);

	if (rc == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	ck_assert_msg(rc == 0, "write to A: %s", rc == -1 ? "still blocked" :
	    "failed");
}

/* Checked fixture of the real tests: a pair reading the real mounts. */
static void
real_setup(void)
{
	output_init("check_serve", 0);
	pair_open(NULL);
}

/*
 * Proves a freeze of a disk with no mounted filesystem is OK with nothing
 * frozen and no lease, and that the guest is free for the next freeze.
 */
START_TEST(test_real_nothing_mounted)
{
	const Evg__FreezeReport	*fr;
	const Evg__Reply	*r;

	if (!fx_ready(__func__))
		return;
	ck_assert_uint_eq(fx_assert_safe(1), 0);
	r = ask_freeze(fx.loop[1], "backing", fx.backing[1], 5000);
	assert_status(r, EVG_OK, NULL);
	fr = report_of(r);
	ck_assert_int_eq(fr->frozen, 0);
	ck_assert_uint_eq(fr->frozen_count, 0);
	ck_assert_uint_eq(fr->n_mounts, 0);
	ck_assert_uint_eq(fr->lease_left_ms, 0);
	r = ask_simple(EVG__ENVELOPE__BODY_FREEZE_STATUS);
	ck_assert_int_eq(report_of(r)->frozen, 0);
	r = ask_freeze(fx.loop[1], "backing", fx.backing[1], 5000);
	assert_status(r, EVG_OK, NULL);
}
END_TEST

/*
 * Proves the whole cycle on a real filesystem: the freeze reports A
 * frozen with a lease; a write to A blocks; a second freeze is BUSY;
 * status and renew report the lease; the thaw releases the write and
 * reports the duration.  The device in the reference is only a hint: here
 * it names B, but the identifiers are A's, and A is what gets frozen.
 */
START_TEST(test_real_freeze_thaw)
{
	const Evg__FreezeReport	*fr;
	const Evg__Reply	*r;
	pid_t			 pid;
	int			 rc;

	if (!fx_ready(__func__))
		return;
	ck_assert_uint_eq(fx_assert_safe(0), 1);
	ck_assert_uint_eq(fx_assert_safe(1), 0);
	r = ask_freeze(fx.loop[1], "backing", fx.backing[0], 10000);
	assert_status(r, EVG_OK, NULL);
	fr = report_of(r);
	ck_assert_int_eq(fr->frozen, 1);
	ck_assert_uint_eq(fr->frozen_count, 1);
	ck_assert_uint_eq(fr->n_mounts, 1);
	ck_assert_str_eq(fr->mounts[0]->mountpoint, fx.mnt_a);
	ck_assert_str_eq(fr->mounts[0]->fstype, "ext4");
	ck_assert_str_eq(fr->mounts[0]->device, fx.loop[0]);
	ck_assert_str_eq(fr->mounts[0]->action, "frozen");
	ck_assert_msg(fr->lease_left_ms > 9000 && fr->lease_left_ms <= 10000,
	    "lease left %u", fr->lease_left_ms);
	ck_assert_uint_eq(serve_frozen(P.serve), 1);

	pid = testutil_writer_start(fx.file_a);
	rc = testutil_writer_wait(pid, BLOCKED_MS);
	ck_assert_msg(rc == -1, "write to frozen A finished (%d)", rc);

	r = ask_freeze(fx.loop[0], "backing", fx.backing[0], 10000);
	assert_status(r, EVG_BUSY, "already frozen");
	r = ask_simple(EVG__ENVELOPE__BODY_FREEZE_STATUS);
	assert_status(r, EVG_OK, NULL);
	ck_assert_int_eq(report_of(r)->frozen, 1);
	ck_assert_uint_ge(report_of(r)->duration_ms, BLOCKED_MS);
	r = ask_renew(60000);
	assert_status(r, EVG_OK, NULL);
	ck_assert_uint_gt(report_of(r)->lease_left_ms, 50000);

	r = ask_simple(EVG__ENVELOPE__BODY_THAW);
	assert_status(r, EVG_OK, NULL);
	fr = report_of(r);
	ck_assert_int_eq(fr->frozen, 0);
	ck_assert_uint_eq(fr->frozen_count, 0);
	ck_assert_uint_eq(fr->lease_left_ms, 0);
	ck_assert_uint_ge(fr->duration_ms, BLOCKED_MS);
	ck_assert_str_eq(fr->mounts[0]->action, "frozen");
	rc = testutil_writer_wait(pid, WRITE_MS);
	if (rc == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	ck_assert_msg(rc == 0, "write after thaw: %s", rc == -1 ?
	    "still blocked" : "failed");
	assert_status(ask_simple(EVG__ENVELOPE__BODY_THAW), EVG_OK, NULL);
}
END_TEST

/*
 * Proves the lease thaws by itself, and that the host hears of it once,
 * from its next renew (FAILED_PRECONDITION naming the lease); the thaw
 * after that is plain OK.
 */
START_TEST(test_real_lease_expiry)
{
	const Evg__Reply	*r;

	if (!fx_ready(__func__))
		return;
	ck_assert_uint_eq(fx_assert_safe(0), 1);
	r = ask_freeze(fx.loop[0], "backing", fx.backing[0], 200);
	assert_status(r, EVG_OK, NULL);
	ck_assert_uint_eq(report_of(r)->frozen_count, 1);
	pair_run(800);
	ck_assert_uint_eq(serve_frozen(P.serve), 0);
	assert_writable();
	r = ask_simple(EVG__ENVELOPE__BODY_FREEZE_STATUS);
	assert_status(r, EVG_OK, NULL);
	ck_assert_int_eq(report_of(r)->frozen, 0);
	r = ask_renew(5000);
	assert_status(r, EVG_FAILED_PRECONDITION, "the lease ran out after ");
	ck_assert_msg(strstr(r->status->message, "filesystems were thawed") !=
	    NULL, "%s", r->status->message);
	assert_status(ask_simple(EVG__ENVELOPE__BODY_THAW), EVG_OK, NULL);

	/* Told by the thaw instead: once too. */
	r = ask_freeze(fx.loop[0], "backing", fx.backing[0], 200);
	assert_status(r, EVG_OK, NULL);
	pair_run(800);
	assert_status(ask_simple(EVG__ENVELOPE__BODY_THAW),
	    EVG_FAILED_PRECONDITION, "the lease ran out");
	assert_status(ask_simple(EVG__ENVELOPE__BODY_THAW), EVG_OK, NULL);
}
END_TEST

/* Proves a lost host connection thaws at once. */
START_TEST(test_real_lost)
{
	const Evg__Reply	*r;

	if (!fx_ready(__func__))
		return;
	ck_assert_uint_eq(fx_assert_safe(0), 1);
	r = ask_freeze(fx.loop[0], "backing", fx.backing[0], 60000);
	assert_status(r, EVG_OK, NULL);
	ck_assert_uint_eq(serve_frozen(P.serve), 1);
	peer_free(P.host);
	P.host = NULL;
	pair_run(WAIT_MS);
	ck_assert_int_eq(P.lost, 1);
	ck_assert_uint_eq(serve_frozen(P.serve), 0);
	assert_writable();
}
END_TEST

/*
 * Proves a freeze that fails (A already frozen by someone else) is
 * FREEZE_FAILED naming the mount, and leaves nothing frozen by us.
 */
START_TEST(test_real_freeze_failed)
{
	const Evg__Reply	*r;
	int			 fd;

	if (!fx_ready(__func__))
		return;
	ck_assert_uint_eq(fx_assert_safe(0), 1);
	fd = open(fx.mnt_a, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(ioctl(fd, FIFREEZE, 0), 0);
	r = ask_freeze(fx.loop[0], "backing", fx.backing[0], 5000);
	ioctl(fd, FITHAW, 0);
	close(fd);
	assert_status(r, EVG_FREEZE_FAILED, fx.mnt_a);
	ck_assert_int_eq(report_of(r)->frozen, 0);
	ck_assert_uint_eq(serve_frozen(P.serve), 0);
	assert_writable();
}
END_TEST

/*
 * The host of test_real_create: echoes the create's disks into a freeze,
 * checks the guest froze one filesystem, verifies, renews, thaws,
 * verifies, and answers with the snapshot and its consistency record.
 */
static int
fh_script_create(int fd, void *arg)
{
	Evg__Envelope			 req = EVG__ENVELOPE__INIT;
	Evg__Envelope			*env, *rep;
	Evg__FreezeRequest		 fr = EVG__FREEZE_REQUEST__INIT;
	Evg__FreezeRenewRequest		 rn =
	    EVG__FREEZE_RENEW_REQUEST__INIT;
	Evg__FreezeStatusRequest	 st = EVG__FREEZE_STATUS_REQUEST__INIT;
	Evg__ThawRequest		 th = EVG__THAW_REQUEST__INIT;
	Evg__GuestSnapshotCreateRequest	*cr;
	Evg__FreezeReport		*report;
	const char			*drop = arg;
	int				 rc = 0;

	if (fh_handshake(fd) == -1)
		return (fh_bad(1, "handshake"));
	if ((env = fh_recv(fd)) == NULL ||
	    env->body_case != EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CREATE)
		return (fh_bad(2, "no create request"));
	cr = env->guest_snapshot_create;
	if (cr->n_disks != 1 || cr->disks[0]->n_ids == 0 ||
	    strcmp(cr->disks[0]->ids[0]->kind, "backing") != 0)
		return (fh_bad(3, "the create names no loop disk"));

	fr.disks = cr->disks;
	fr.n_disks = cr->n_disks;
	fr.lease_ms = 10000;
	req.body_case = EVG__ENVELOPE__BODY_FREEZE;
	req.freeze = &fr;
	if ((rep = fh_ask(fd, &req, 1)) == NULL ||
	    rep->reply->status->code != EVG_OK ||
	    rep->reply->result_case != EVG__REPLY__RESULT_FREEZE_REPORT ||
	    rep->reply->freeze_report->frozen_count != 1)
		return (fh_bad(4, "freeze"));
	codec_free(rep);
	if (drop != NULL)
		return (0);

	req.body_case = EVG__ENVELOPE__BODY_FREEZE_STATUS;
	req.freeze_status = &st;
	if ((rep = fh_ask(fd, &req, 2)) == NULL ||
	    !rep->reply->freeze_report->frozen)
		return (fh_bad(5, "status while frozen"));
	codec_free(rep);
	rn.lease_ms = 10000;
	req.body_case = EVG__ENVELOPE__BODY_FREEZE_RENEW;
	req.freeze_renew = &rn;
	if ((rep = fh_ask(fd, &req, 3)) == NULL ||
	    rep->reply->status->code != EVG_OK)
		return (fh_bad(6, "renew"));
	codec_free(rep);
	req.body_case = EVG__ENVELOPE__BODY_THAW;
	req.thaw = &th;
	if ((rep = fh_ask(fd, &req, 4)) == NULL ||
	    rep->reply->status->code != EVG_OK ||
	    rep->reply->freeze_report->frozen)
		return (fh_bad(7, "thaw"));
	report = rep->reply->freeze_report;
	if (fh_final(fd, env->id, "t", cr->disks[0]->ids,
	    cr->disks[0]->n_ids, report->mounts, report->n_mounts,
	    report->duration_ms != 0 ? report->duration_ms : 1) == -1)
		rc = fh_bad(8, "final reply");
	codec_free(rep);
	codec_free(env);
	return (rc);
}

/*
 * Proves `snapshot create` end to end on the guest side, with the host
 * driving freeze and thaw over the CLI's own connection: A is frozen
 * while the host works and thawed before the command prints, and the
 * output names the guest's device and what was frozen.
 */
START_TEST(test_real_create)
{
	struct snapcmd_config	 conf;
	char			*text, out[160], want[256];
	char			*args[] = { fx.loop[0] };
	pid_t			 pid;
	int			 saved, rc;

	if (!fx_ready(__func__))
		return;
	ck_assert_uint_eq(fx_assert_safe(0), 1);
	fh_snapcmd(&conf);
	snprintf(out, sizeof out, "%s/out", fh_dir);
	pid = fh_start(fh_script_create, NULL);
	saved = capture_start(out);
	rc = snapcmd_create(&conf, args, 1, "t");
	text = capture_end(saved, out);
	fh_wait(pid);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, text);
	ck_assert_msg(strstr(text, "Snapshot \"t\" created\n") != NULL, "%s",
	    text);
	snprintf(want, sizeof want, "  Disk:        %s\n", fx.loop[0]);
	ck_assert_msg(strstr(text, want) != NULL, "%s", text);
	snprintf(want, sizeof want, "  Consistency: fs (froze %s in ",
	    fx.mnt_a);
	ck_assert_msg(strstr(text, want) != NULL, "%s", text);
	ck_assert_msg(strstr(text, "  Created:     2026-11-26 12:00:00 UTC\n")
	    != NULL, "%s", text);
	free(text);
	assert_writable();
}
END_TEST

/*
 * Proves a create whose connection drops while A is frozen thaws at once
 * and fails UNAVAILABLE (exit 17).
 */
START_TEST(test_real_create_dropped)
{
	struct snapcmd_config	 conf;
	char			*args[] = { fx.loop[0] };
	pid_t			 pid;
	int			 rc;

	if (!fx_ready(__func__))
		return;
	ck_assert_uint_eq(fx_assert_safe(0), 1);
	fh_snapcmd(&conf);
	pid = fh_start(fh_script_create, (void *)"drop");
	rc = snapcmd_create(&conf, args, 1, NULL);
	fh_wait(pid);
	ck_assert_int_eq(rc, status_exit_code(EVG_UNAVAILABLE));
	assert_writable();
}
END_TEST

/*
 * Proves a freeze takes a disk the caller resolved as it is, without
 * reading sysfs for it again (what `snapshot create` hands its serve):
 * the known disk named like A and with A's identifiers is given B's
 * device number, which has nothing mounted, so nothing is frozen; sysfs
 * would have said A.  A known disk whose identifiers do not match the
 * reference is not taken: that freeze finds A in sysfs, as before.
 */
START_TEST(test_real_known_disks)
{
	const Evg__FreezeReport	*fr;
	const Evg__Reply	*r;
	struct disk		*a, *b, known;
	char			*cause = NULL;
	size_t			 na, nb;

	if (!fx_ready(__func__))
		return;
	ck_assert_uint_eq(fx_assert_safe(0), 1);
	ck_assert_uint_eq(fx_assert_safe(1), 0);
	ck_assert_msg(disk_resolve(fx.loop[0], &a, &na, &cause) == 0, "%s",
	    cause);
	ck_assert_msg(disk_resolve(fx.loop[1], &b, &nb, &cause) == 0, "%s",
	    cause);
	ck_assert_uint_eq(na, 1);
	ck_assert_uint_eq(nb, 1);
	known = a[0];
	known.maj = b[0].maj;
	known.min = b[0].min;
	serve_set_disks(P.serve, &known, 1);
	r = ask_freeze(fx.loop[0], "backing", fx.backing[0], 5000);
	assert_status(r, EVG_OK, NULL);
	fr = report_of(r);
	ck_assert_uint_eq(fr->frozen_count, 0);
	ck_assert_uint_eq(fr->n_mounts, 0);

	/* B's identifiers under A's name: not the reference's disk. */
	known = b[0];
	snprintf(known.devpath, sizeof known.devpath, "%s", fx.loop[0]);
	serve_set_disks(P.serve, &known, 1);
	r = ask_freeze(fx.loop[0], "backing", fx.backing[0], 5000);
	assert_status(r, EVG_OK, NULL);
	ck_assert_uint_eq(report_of(r)->frozen_count, 1);
	assert_status(ask_simple(EVG__ENVELOPE__BODY_THAW), EVG_OK, NULL);
	assert_writable();
	serve_set_disks(P.serve, NULL, 0);
	disk_free(a, na);
	disk_free(b, nb);
}
END_TEST

/*
 * Proves the daemon's way with guardians: one is started ahead, serves a
 * freeze, is kept for the next, which works as well, and a lost
 * connection still thaws at once.
 */
START_TEST(test_real_kept_guardian)
{
	const Evg__Reply	*r;

	if (!fx_ready(__func__))
		return;
	ck_assert_uint_eq(fx_assert_safe(0), 1);
	serve_keep_guardian(P.serve);
	r = ask_freeze(fx.loop[0], "backing", fx.backing[0], 10000);
	assert_status(r, EVG_OK, NULL);
	ck_assert_uint_eq(report_of(r)->frozen_count, 1);
	assert_status(ask_simple(EVG__ENVELOPE__BODY_THAW), EVG_OK, NULL);
	assert_writable();
	r = ask_freeze(fx.loop[0], "backing", fx.backing[0], 10000);
	assert_status(r, EVG_OK, NULL);
	ck_assert_uint_eq(report_of(r)->frozen_count, 1);
	peer_free(P.host);
	P.host = NULL;
	pair_run(WAIT_MS);
	ck_assert_int_eq(P.lost, 1);
	ck_assert_uint_eq(serve_frozen(P.serve), 0);
	assert_writable();
}
END_TEST

/*
 * Proves rollback is refused locally (FAILED_PRECONDITION, exit 16, the
 * host never asked) while a filesystem on the disk is mounted, and goes
 * to the host when none is.
 */
START_TEST(test_real_rollback_mounted)
{
	struct snapcmd_config	conf;
	char			*a[] = { fx.loop[0] }, *b[] = { fx.loop[1] };

	if (!fx_ready(__func__))
		return;
	fh_snapcmd(&conf);
	ck_assert_int_eq(snapcmd_rollback(&conf, "x", a, 1),
	    status_exit_code(EVG_FAILED_PRECONDITION));
	/* No host listens at fh_path: B's rollback gets as far as that. */
	ck_assert_int_eq(snapcmd_rollback(&conf, "x", b, 1),
	    EXIT_UNREACHABLE);
}
END_TEST

Suite *
suite_serve(void)
{
	Suite	*s = suite_create("serve");
	TCase	*tc;

	tc = tcase_create("proto");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, pair_setup, pair_teardown);
	tcase_add_test(tc, test_ping);
	tcase_add_test(tc, test_unsupported);
	tcase_add_test(tc, test_idle_requests);
	tcase_add_test(tc, test_freeze_not_found);
	tcase_add_test(tc, test_lost_idle);
	suite_add_tcase(s, tc);

	tc = tcase_create("call");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, fh_setup, fh_teardown);
	tcase_add_test(tc, test_call_serves);
	tcase_add_test(tc, test_call_failures);
	tcase_add_test(tc, test_list_json);
	tcase_add_test(tc, test_list_groups);
	tcase_add_test(tc, test_rollback_group_no_disk);
	tcase_add_test(tc, test_delete_member);
	tcase_add_test(tc, test_consistency_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("real");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, fx_setup, fx_teardown);
	tcase_add_unchecked_fixture(tc, fh_setup, fh_teardown);
	tcase_add_checked_fixture(tc, real_setup, pair_teardown);
	tcase_add_test(tc, test_real_nothing_mounted);
	tcase_add_test(tc, test_real_freeze_thaw);
	tcase_add_test(tc, test_real_lease_expiry);
	tcase_add_test(tc, test_real_lost);
	tcase_add_test(tc, test_real_freeze_failed);
	tcase_add_test(tc, test_real_create);
	tcase_add_test(tc, test_real_create_dropped);
	tcase_add_test(tc, test_real_rollback_mounted);
	tcase_add_test(tc, test_real_known_disks);
	tcase_add_test(tc, test_real_kept_guardian);
	suite_add_tcase(s, tc);
	return (s);
}
