/*
 * fuzz_serve: the guest's handling of what the host sends (guest/serve.c,
 * as the daemon and `snapshot create` run it): freeze, renew, thaw, status,
 * hook and guest info requests, pings, replies and events, as a byte
 * stream on the connection, through the real peer and serve code.
 *
 * The freeze layer is a fake by construction: the serve reads a mountinfo
 * file of this target's that lists one mount, on a device no disk has
 * (4095:4095), at a path that does not exist, so no disk a request names
 * can match it and nothing on this machine is ever frozen.  Hooks run from
 * an empty directory (every hook "skipped").  Disk release requests (an
 * online rollback's) are answered UNSUPPORTED, as in a command's
 * connection: this serve is not the daemon's, so no disk of this machine
 * is ever checked or flushed.
 *
 * Input: byte 0 bit 0 gives the serve a hooks directory (else hook
 * requests are UNSUPPORTED); the rest is the stream, delivered in one
 * write and then end-of-file.
 *
 * Oracle: every frame the guest writes decodes, within the guest frame
 * cap, with a body and valid UTF-8 strings; every reply carries a status;
 * there are no more replies than frames the host sent, plus the one
 * refusal before a protocol close; nothing is frozen at the end.  EVG_FUZZ_SEEDS=DIR writes the seed streams to DIR and exits.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "codec.h"
#include "frame.h"
#include "fuzzutil.h"
#include "log.h"
#include "peer.h"
#include "serve.h"
#include "xmalloc.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Loop passes an input may take before it counts as stuck. */
#define SERVE_PASSES	2000
#define SERVE_OUT_MAX	(8 * 1024 * 1024)

static char	serve_dir[64];
static char	serve_mountinfo[128];
static char	serve_hooks[128];

/* One input's connection. */
struct serve_conn {
	struct serve	*serve;
	struct peer	*peer;
	int		 lost;
	size_t		 frames_in;
};

/* Peer callback: hand requests to the serve; NULL: the host is gone. */
static void
serve_conn_dispatch(struct peer *p, Evg__Envelope *env, void *arg)
{
	struct serve_conn	*c = arg;

	if (env == NULL) {
		serve_lost(c->serve, p);
		c->lost = 1;
		return;
	}
	c->frames_in++;
	serve_dispatch(c->serve, p, env);
}

/* Append one framed envelope to a seed buffer. */
static void
serve_seed_add(uint8_t **buf, size_t *len, Evg__Envelope *env)
{
	uint8_t	*f;
	size_t	 flen;
	char	*cause;

	env->version = 1;
	if ((f = codec_frame(env, FRAME_MAX_GUEST, &flen, &cause)) == NULL)
		fuzz_fail("seed: %s", cause);
	*buf = xreallocarray(*buf, *len + flen, 1);
	memcpy(*buf + *len, f, flen);
	*len += flen;
	free(f);
}

/* Write one seed file: the mode byte, then the stream. */
static void
serve_seed_write(const char *dir, const char *name, uint8_t mode,
    const uint8_t *buf, size_t len)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		fuzz_fail("seed: %s: %s", path, strerror(errno));
	fputc(mode, f);
	fwrite(buf, 1, len, f);
	fclose(f);
}

/* The seeds: a freeze cycle, hooks, guest info, pings, odd messages. */
static void
serve_seeds(const char *dir)
{
	Evg__Envelope			 env;
	Evg__FreezeRequest		 fr = EVG__FREEZE_REQUEST__INIT;
	Evg__FreezeRenewRequest		 rr = EVG__FREEZE_RENEW_REQUEST__INIT;
	Evg__ThawRequest		 th = EVG__THAW_REQUEST__INIT;
	Evg__FreezeStatusRequest	 st = EVG__FREEZE_STATUS_REQUEST__INIT;
	Evg__HookRequest		 hk = EVG__HOOK_REQUEST__INIT;
	Evg__GuestInfoRequest		 gi = EVG__GUEST_INFO_REQUEST__INIT;
	Evg__Ping			 ping = EVG__PING__INIT;
	Evg__DiskReleaseRequest		 dr = EVG__DISK_RELEASE_REQUEST__INIT;
	Evg__DiskRef			 d = EVG__DISK_REF__INIT, *dp = &d;
	Evg__DiskId			 id = EVG__DISK_ID__INIT, *idp = &id;
	struct codec_reply		 r;
	uint8_t				*buf = NULL;
	size_t				 len = 0;

	id.kind = (char *)"serial";
	id.value = (char *)"FUZZ0001";
	d.device = (char *)"/dev/vdb";
	d.ids = &idp;
	d.n_ids = 1;
	fr.disks = &dp;
	fr.n_disks = 1;
	fr.lease_ms = 1000;
	rr.lease_ms = 1000;

	evg__envelope__init(&env);
	env.id = 1;
	env.body_case = EVG__ENVELOPE__BODY_FREEZE;
	env.freeze = &fr;
	serve_seed_add(&buf, &len, &env);
	evg__envelope__init(&env);
	env.id = 2;
	env.body_case = EVG__ENVELOPE__BODY_FREEZE_STATUS;
	env.freeze_status = &st;
	serve_seed_add(&buf, &len, &env);
	evg__envelope__init(&env);
	env.id = 3;
	env.body_case = EVG__ENVELOPE__BODY_FREEZE_RENEW;
	env.freeze_renew = &rr;
	serve_seed_add(&buf, &len, &env);
	evg__envelope__init(&env);
	env.id = 4;
	env.body_case = EVG__ENVELOPE__BODY_THAW;
	env.thaw = &th;
	serve_seed_add(&buf, &len, &env);
	serve_seed_write(dir, "freeze-cycle", 0, buf, len);

	free(buf);
	buf = NULL;
	len = 0;
	hk.phase = (char *)"pre";
	hk.operation = (char *)"create";
	hk.snapshot_name = (char *)"nightly";
	hk.snapshot_uuid = (char *)"6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";
	hk.timeout_ms = 1000;
	evg__envelope__init(&env);
	env.id = 1;
	env.body_case = EVG__ENVELOPE__BODY_HOOK;
	env.hook = &hk;
	serve_seed_add(&buf, &len, &env);
	evg__envelope__init(&env);
	env.id = 2;
	env.body_case = EVG__ENVELOPE__BODY_GUEST_INFO;
	env.guest_info = &gi;
	serve_seed_add(&buf, &len, &env);
	evg__envelope__init(&env);
	env.id = 3;
	env.body_case = EVG__ENVELOPE__BODY_PING;
	env.ping = &ping;
	serve_seed_add(&buf, &len, &env);
	dr.disks = &dp;
	dr.n_disks = 1;
	evg__envelope__init(&env);
	env.id = 4;
	env.body_case = EVG__ENVELOPE__BODY_DISK_RELEASE;
	env.disk_release = &dr;
	serve_seed_add(&buf, &len, &env);
	codec_reply_init(&r, 7, 1, 0, "a stray reply");
	serve_seed_add(&buf, &len, &r.env);
	serve_seed_write(dir, "hooks-info-ping", 1, buf, len);
	free(buf);
}

/* At exit: remove what LLVMFuzzerInitialize() made. */
static void
serve_cleanup(void)
{
	unlink(serve_mountinfo);
	rmdir(serve_hooks);
	rmdir(serve_dir);
}

/* Make the fake mountinfo and the empty hooks directory, once. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*seeds;
	FILE		*f;

	(void)argc;
	(void)argv;
	log_init("fuzz_serve", LOG_TO_STDERR, 0);
	if ((seeds = getenv("EVG_FUZZ_SEEDS")) != NULL) {
		serve_seeds(seeds);
		exit(0);
	}
	snprintf(serve_dir, sizeof serve_dir, "/tmp/evg-fuzz-serve-XXXXXX");
	if (mkdtemp(serve_dir) == NULL)
		fuzz_fail("mkdtemp: %s", strerror(errno));
	snprintf(serve_mountinfo, sizeof serve_mountinfo, "%s/mountinfo",
	    serve_dir);
	snprintf(serve_hooks, sizeof serve_hooks, "%s/hooks", serve_dir);
	if ((f = fopen(serve_mountinfo, "w")) == NULL)
		fuzz_fail("%s: %s", serve_mountinfo, strerror(errno));
	fprintf(f, "50 1 4095:4095 / /nonexistent/evg-fuzz-serve rw - ext4 "
	    "/dev/evg-fuzz-none rw\n");
	fclose(f);
	if (mkdir(serve_hooks, 0755) == -1)
		fuzz_fail("%s: %s", serve_hooks, strerror(errno));
	atexit(serve_cleanup);
	return (0);
}

/* Check every frame the guest wrote; returns the number of replies. */
static size_t
serve_check_output(const uint8_t *out, size_t len)
{
	struct frame_decoder	 dec;
	Evg__Envelope		*env;
	enum frame_result	 fr;
	uint8_t			*payload;
	uint32_t		 plen;
	size_t			 off = 0, used, replies = 0, unknown;
	char			 err[160];

	frame_decoder_init(&dec, FRAME_MAX_GUEST);
	while (off < len) {
		fr = frame_decoder_feed(&dec, out + off, len - off, &used,
		    &payload, &plen);
		if (fr == FRAME_ERROR)
			fuzz_fail("the guest wrote a bad frame: %s", dec.error);
		off += used;
		if (fr == FRAME_NEED_MORE)
			break;
		env = codec_unpack(payload, plen, err, sizeof err);
		free(payload);
		if (env == NULL)
			fuzz_fail("the guest wrote an undecodable frame: %s",
			    err);
		FUZZ_CHECK(env->body_case != EVG__ENVELOPE__BODY__NOT_SET);
		unknown = 0;
		FUZZ_CHECK(fuzz_bad_string(&env->base, &unknown) == NULL);
		if (env->body_case == EVG__ENVELOPE__BODY_REPLY) {
			FUZZ_CHECK(env->reply->status != NULL);
			replies++;
		}
		codec_free(env);
	}
	FUZZ_CHECK(!frame_decoder_partial(&dec));
	frame_decoder_reset(&dec);
	return (replies);
}

/* One connection from the host. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_base	*base;
	struct serve_conn	 c;
	uint8_t			*out, chunk[4096];
	size_t			 outlen = 0, wrote = 0, replies;
	ssize_t			 n;
	int			 fds[2], pass;

	if (size < 1)
		return (0);
	memset(&c, 0, sizeof c);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    fds) == -1)
		fuzz_fail("socketpair: %s", strerror(errno));
	base = event_base_new();
	c.serve = serve_create(base, serve_mountinfo);
	if (data[0] & 1)
		serve_set_hooks_dir(c.serve, serve_hooks);
	c.peer = peer_create(base, fds[0], "fuzz-host", FRAME_MAX_GUEST,
	    SERVE_OUT_MAX, serve_conn_dispatch, &c);
	peer_set_version(c.peer, 1);
	data++;
	size--;
	out = xmalloc(SERVE_OUT_MAX);
	for (pass = 0; pass < SERVE_PASSES && !c.lost; pass++) {
		if (wrote < size) {
			n = write(fds[1], data + wrote, size - wrote);
			if (n > 0)
				wrote += (size_t)n;
			if (wrote == size)
				shutdown(fds[1], SHUT_WR);
		} else if (size == 0 && pass == 0)
			shutdown(fds[1], SHUT_WR);
		event_base_loop(base, EVLOOP_NONBLOCK);
		while ((n = read(fds[1], chunk, sizeof chunk)) > 0) {
			FUZZ_CHECK(outlen + (size_t)n <= SERVE_OUT_MAX);
			memcpy(out + outlen, chunk, (size_t)n);
			outlen += (size_t)n;
		}
	}
	FUZZ_CHECK(c.lost);
	FUZZ_CHECK(serve_frozen(c.serve) == 0);
	peer_free(c.peer);
	while ((n = read(fds[1], chunk, sizeof chunk)) > 0) {
		FUZZ_CHECK(outlen + (size_t)n <= SERVE_OUT_MAX);
		memcpy(out + outlen, chunk, (size_t)n);
		outlen += (size_t)n;
	}
	replies = serve_check_output(out, outlen);
	/* One reply a frame, and one refusal before a protocol close. */
	FUZZ_CHECK(replies <= c.frames_in + 1);
	free(out);
	serve_free(c.serve);
	event_base_free(base);
	close(fds[1]);
	return (0);
}
