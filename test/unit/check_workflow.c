/*
 * Unit tests for the host's snapshot create (workflow.h): the real state
 * machine driven by a fake guest link (guestlink.h) and a fake backend
 * (backend_fake_start), both scripted per test and answering from the
 * event loop, as a guest session and a backend do.  One test per
 * transition; each checks what a user would notice: the status code, the
 * guest requests and backend steps in order (a THAW after every FREEZE),
 * what the catalog lists afterwards and the events.
 *
 * The fixture is one running VM with two qcow2 volumes, so "all or
 * nothing" is visible: a create that fails on the second volume deletes
 * the first volume's snapshot.
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "backend_impl.h"
#include "catalog.h"
#include "codec.h"
#include "config.h"
#include "events.h"
#include "guestlink.h"
#include "registry.h"
#include "status.h"
#include "suites.h"
#include "testutil.h"
#include "workflow.h"
#include "xmalloc.h"

#define VM_UUID		"3f9e2b1c-7a44-4d0e-9c61-5b8a2d7e4f10"
#define VOL_DATA	"4a0f3c2d-8b55-4e1f-8d72-6c9b3e8f5a21"
#define VOL_LOGS	"5b1a4d3e-9c66-4f2a-9e83-7d0c4f9a6b32"
#define SERIAL		7	/* the guest daemon's session */
#define MIB		(1024ULL * 1024)
/* Longest a test waits for a create; a guard, never reached when all works. */
#define GUARD_MS	10000
#define TRAIL_MAX	1024

/* The guest requests a create sends. */
enum fg_kind {
	FG_FREEZE,
	FG_STATUS,
	FG_RENEW,
	FG_THAW,
	FG_HOOK,
	FG_NKINDS,
};

static const char *fg_names[FG_NKINDS] = {
	[FG_FREEZE] = "freeze",
	[FG_STATUS] = "status",
	[FG_RENEW] = "renew",
	[FG_THAW] = "thaw",
	[FG_HOOK] = "hook",
};

/* How the fake guest answers; zero is a guest that does all it is asked. */
struct fg_script {
	int		 code[FG_NKINDS];	/* refuse with this status */
	int		 first_only[FG_NKINDS];	/* ... the first request only */
	int		 never[FG_NKINDS];	/* acts, but the reply is lost */
	unsigned int	 delay_ms[FG_NKINDS];	/* the reply comes this late */
	int		 none_frozen;		/* every mount is skipped */
	int		 says_thawed;		/* replies: not frozen */
	int		 says_frozen;		/* replies: still frozen */
	const char	*hook_fails;		/* hooks of this phase fail */
	int		 hook_partly;		/* ... after one that succeeded */
};

/* A request the fake guest will answer (or time out) from the loop. */
struct fg_req {
	enum fg_kind		 kind;
	int			 code;
	int			 never;
	int			 report_frozen;	/* a reply's frozen */
	char			 phase[16];	/* HOOK */
	guest_reply_cb		 cb;
	void			*arg;
	struct event		*ev;
	TAILQ_ENTRY(fg_req)	 entry;
};

/* How the fake backend answers. */
struct fb_script {
	unsigned int		 create_fails;	/* this create fails (1: first) */
	int			 create_never;	/* creates never finish */
	/* Run from the loop once a create started (at most once). */
	event_callback_fn	 on_create;
	uint64_t		 free_bytes;	/* SPACE: free (0: 100 GiB) */
	int			 rollback_fails; /* every rollback fails */
	unsigned int		 delete_fails;	/* this delete fails (1: first) */
	unsigned int		 deletes;
};

/* One test's world: loop, state directory, registry, fakes, outcome. */
static struct {
	struct event_base	*base;
	struct event		*guard;
	int			 guard_fired;
	char			 dir[64];
	struct config		 cf;
	struct registry		*reg;
	struct guest_link	 link;

	int			 connected;	/* the guest daemon is there */
	int			 frozen;	/* the guest holds a freeze */
	struct fg_script	 fg;
	unsigned int		 sent[FG_NKINDS];
	TAILQ_HEAD(, fg_req)	 reqs;

	struct fb_script	 fb;
	unsigned int		 creates;

	char			 trail[TRAIL_MAX];	/* requests, steps */
	char			 events[TRAIL_MAX];	/* event kinds */

	char			 locator[256];	/* the last create's image */

	int			 owner;		/* the requester (its address) */
	int			 starter;	/* a `starting` caller */
	unsigned int		 start_calls;
	int			 start_code;
	char			*start_msg;
	char			 start_trail[TRAIL_MAX];	/* when answered */
	unsigned int		 start_creates;	/* create answers by then */
	int			 check_code;	/* pre-flight verdict */
	char			*check_msg;
	unsigned int		 calls;
	int			 code;
	char			*msg;
	size_t			 nsnaps;
	char			 consistency[16];
	char			 group[UUID_STR_LEN + 1]; /* the first's */
	char			 states[TRAIL_MAX];	/* each snapshot's */
} w;

/* Append a word to a trail. */
static void
trail_add(char *trail, const char *word)
{
	size_t	len = strlen(trail);

	ck_assert_uint_lt(len + strlen(word) + 2, TRAIL_MAX);
	snprintf(trail + len, TRAIL_MAX - len, "%s%s", len > 0 ? " " : "",
	    word);
}

/* True if every "freeze" in the trail is followed by a "thaw". */
static int
trail_thawed(const char *trail)
{
	const char	*p = trail;
	int		 pending = 0;
	size_t		 n;

	while (*p != '\0') {
		n = strcspn(p, " ");
		if (n == 6 && strncmp(p, "freeze", 6) == 0)
			pending = 1;
		else if (n == 4 && strncmp(p, "thaw", 4) == 0)
			pending = 0;
		p += n;
		p += strspn(p, " ");
	}
	return (!pending);
}

/* Free a guest request (its answer never comes). */
static void
fg_req_free(struct fg_req *r)
{
	TAILQ_REMOVE(&w.reqs, r, entry);
	event_free(r->ev);
	free(r);
}

/* Answer a request as the scripted guest does (or let it time out). */
static void
fg_answer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct fg_req		*r = arg;
	struct codec_reply	 rep;
	Evg__FreezeReport	 fr = EVG__FREEZE_REPORT__INIT;
	Evg__MountReport	 m = EVG__MOUNT_REPORT__INIT, *mp = &m;
	Evg__HookReport		 hr = EVG__HOOK_REPORT__INIT;
	Evg__HookResult		 ok = EVG__HOOK_RESULT__INIT;
	Evg__HookResult		 bad = EVG__HOOK_RESULT__INIT;
	Evg__HookResult		*res[2];
	guest_reply_cb		 cb = r->cb;
	void			*cbarg = r->arg;

	(void)fd;
	(void)events;
	if (r->never) {
		fg_req_free(r);
		cb(NULL, "timed out", cbarg);
		return;
	}
	codec_reply_init(&rep, 1, PROTO_VERSION_MAX, (unsigned int)r->code,
	    r->code != EVG_OK ? "fake: refused" : "");
	if (r->code == EVG_OK && r->kind != FG_RENEW && r->kind != FG_HOOK) {
		m.mountpoint = (char *)"/data";
		m.fstype = (char *)"ext4";
		m.device = (char *)"/dev/vdb";
		m.action = (char *)(w.fg.none_frozen ? "skipped" : "frozen");
		m.reason = (char *)(w.fg.none_frozen ? "not supported" : "");
		fr.mounts = &mp;
		fr.n_mounts = 1;
		fr.frozen_count = w.fg.none_frozen ? 0 : 1;
		fr.frozen = r->report_frozen;
		fr.duration_ms = r->kind == FG_THAW ? 42 : 0;
		rep.reply.result_case = EVG__REPLY__RESULT_FREEZE_REPORT;
		rep.reply.freeze_report = &fr;
	}
	if (r->code == EVG_OK && r->kind == FG_HOOK) {
		ok.path = (char *)"/etc/eve/snapshots/10-flush.sh";
		ok.status = (char *)"ok";
		ok.output = (char *)"";
		ok.reason = (char *)"";
		bad.path = (char *)"/etc/eve/snapshots/20-db.sh";
		bad.status = (char *)"failed";
		bad.exit_code = 3;
		bad.output = (char *)"database refused to flush\n";
		bad.reason = (char *)"";
		hr.results = res;
		if (w.fg.hook_fails != NULL &&
		    strcmp(r->phase, w.fg.hook_fails) == 0) {
			hr.ok = 0;
			if (w.fg.hook_partly)
				res[hr.n_results++] = &ok;
			res[hr.n_results++] = &bad;
		} else {
			hr.ok = 1;
			res[hr.n_results++] = &ok;
		}
		rep.reply.result_case = EVG__REPLY__RESULT_HOOK_REPORT;
		rep.reply.hook_report = &hr;
	}
	fg_req_free(r);
	cb(&rep.env, NULL, cbarg);
}

/* guest_link.request: the guest acts now, its answer comes from the loop. */
static int
fg_request(void *ctx, uint64_t serial, Evg__Envelope *env,
    unsigned int timeout_ms, guest_reply_cb cb, void *arg)
{
	struct fg_req	*r;
	struct timeval	 tv = { 0, 0 };
	char		 word[32];

	(void)ctx;
	if (serial != SERIAL || !w.connected)
		return (GUEST_REQ_GONE);
	r = xcalloc(1, sizeof *r);
	switch (env->body_case) {
	case EVG__ENVELOPE__BODY_FREEZE:
		r->kind = FG_FREEZE;
		break;
	case EVG__ENVELOPE__BODY_FREEZE_STATUS:
		r->kind = FG_STATUS;
		break;
	case EVG__ENVELOPE__BODY_FREEZE_RENEW:
		r->kind = FG_RENEW;
		break;
	case EVG__ENVELOPE__BODY_THAW:
		r->kind = FG_THAW;
		break;
	case EVG__ENVELOPE__BODY_HOOK:
		r->kind = FG_HOOK;
		snprintf(r->phase, sizeof r->phase, "%s", env->hook->phase);
		break;
	default:
		ck_abort_msg("the workflow sent request %d", env->body_case);
	}
	w.sent[r->kind]++;
	if (r->kind == FG_HOOK)
		snprintf(word, sizeof word, "hook:%s", r->phase);
	else
		snprintf(word, sizeof word, "%s", fg_names[r->kind]);
	trail_add(w.trail, word);

	r->code = w.fg.code[r->kind];
	if (w.fg.first_only[r->kind] && w.sent[r->kind] > 1)
		r->code = EVG_OK;
	r->never = w.fg.never[r->kind];
	/* What the guest does, whether or not its reply arrives. */
	if (r->code == EVG_OK && r->kind == FG_FREEZE)
		w.frozen = !w.fg.none_frozen;
	if (r->code == EVG_OK && r->kind == FG_THAW)
		w.frozen = 0;
	if (r->code == EVG_FAILED_PRECONDITION && r->kind == FG_RENEW)
		w.frozen = 0;	/* the lease ran out: the guest thawed */
	r->report_frozen = w.fg.says_thawed ? 0 : w.fg.says_frozen ? 1 :
	    w.frozen;

	r->cb = cb;
	r->arg = arg;
	r->ev = evtimer_new(w.base, fg_answer_cb, r);
	ck_assert_ptr_nonnull(r->ev);
	if (r->never) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
	} else {
		tv.tv_sec = w.fg.delay_ms[r->kind] / 1000;
		tv.tv_usec = (w.fg.delay_ms[r->kind] % 1000) * 1000;
	}
	if (!r->never || timeout_ms != 0)
		evtimer_add(r->ev, &tv);
	TAILQ_INSERT_TAIL(&w.reqs, r, entry);
	return (0);
}

/* guest_link.forget: drop arg's pending answers. */
static void
fg_forget(void *ctx, uint64_t serial, void *arg)
{
	struct fg_req	*r, *next;

	(void)ctx;
	(void)serial;
	for (r = TAILQ_FIRST(&w.reqs); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->arg == arg)
			fg_req_free(r);
	}
}

/* guest_link.alive. */
static int
fg_alive(void *ctx, uint64_t serial)
{
	(void)ctx;
	return (serial == SERIAL && w.connected);
}

/* guest_link.freeze_channel: the guest daemon when it is connected. */
static uint64_t
fg_freeze_channel(void *ctx, const struct reg_vm *vm, uint64_t requester,
    int *daemon)
{
	(void)ctx;
	(void)vm;
	*daemon = w.connected;
	return (w.connected ? SERIAL : requester);
}

/*
 * The guest's session goes away, as session.c reports it: the guest thaws
 * on losing its host, pending requests get no answer, then the workflows
 * are told.
 */
static void
fg_lose_cb(evutil_socket_t fd, short events, void *arg)
{
	struct fg_req	*r;
	guest_reply_cb	 cb;
	void		*cbarg;

	(void)fd;
	(void)events;
	(void)arg;
	w.connected = 0;
	w.frozen = 0;
	while ((r = TAILQ_FIRST(&w.reqs)) != NULL) {
		cb = r->cb;
		cbarg = r->arg;
		fg_req_free(r);
		cb(NULL, "connection lost", cbarg);
	}
	workflow_guest_gone(SERIAL);
}

/* The requester goes away (its control connection closed). */
static void
owner_gone_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	workflow_forget_owner(&w.owner);
}

/* The fake backend: plenty of space; creates as the script says. */
static int
fb_start(struct backend_op *op)
{
	struct timeval	tv = { 0, 0 };

	trail_add(w.trail, backend_verb_name(op->req.verb));
	switch (op->req.verb) {
	case BACKEND_SPACE:
		op->res.free_bytes = w.fb.free_bytes != 0 ? w.fb.free_bytes :
		    100 * 1024 * MIB;
		op->res.need_bytes = 48 * MIB;
		backend_finish(op, EVG_OK, NULL);
		break;
	case BACKEND_CREATE:
		snprintf(w.locator, sizeof w.locator, "%s", op->vol.locator);
		if (++w.creates == 1 && w.fb.on_create != NULL)
			event_base_once(w.base, -1, EV_TIMEOUT, w.fb.on_create,
			    NULL, &tv);
		if (w.fb.create_never)
			break;	/* the workflow cancels it, or it leaks */
		if (w.creates == w.fb.create_fails) {
			backend_finish(op, EVG_BACKEND_ERROR, "fake: snapshot "
			    "of volume '%s' failed", op->vol.name);
			break;
		}
		op->res.size = 48 * MIB;
		backend_finish(op, EVG_OK, NULL);
		break;
	case BACKEND_DELETE:
		if (++w.fb.deletes == w.fb.delete_fails)
			backend_finish(op, EVG_BACKEND_ERROR, "fake: delete "
			    "on volume '%s' failed", op->vol.name);
		else
			backend_finish(op, EVG_OK, NULL);
		break;
	case BACKEND_ROLLBACK:
		if (w.fb.rollback_fails)
			backend_finish(op, EVG_BACKEND_ERROR, "fake: rollback "
			    "of volume '%s' failed", op->vol.name);
		else
			backend_finish(op, EVG_OK, NULL);
		break;
	default:
		backend_finish(op, EVG_UNSUPPORTED, "fake: no %s",
		    backend_verb_name(op->req.verb));
		break;
	}
	return (0);
}

/* Record every event's kind. */
static void
world_event(const Evg__Event *e, void *arg)
{
	(void)arg;
	trail_add(w.events, e->kind);
}

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

/* Add the fixture VM: running, two qcow2 volumes. */
static void
world_vm(void)
{
	static const char	*uuids[] = { VOL_DATA, VOL_LOGS };
	static const char	*names[] = { "data", "logs" };
	struct reg_vm		*vm;
	struct reg_volume	*vol;
	char			*cause = NULL;
	size_t			 i;

	vm = xcalloc(1, sizeof *vm);
	snprintf(vm->uuid, sizeof vm->uuid, "%s", VM_UUID);
	vm->name = xstrdup("web-01");
	vm->cid = 5;
	vm->state = VM_RUNNING;
	vm->nvolumes = 2;
	vm->volumes = xcalloc(2, sizeof *vm->volumes);
	for (i = 0; i < 2; i++) {
		vol = &vm->volumes[i];
		snprintf(vol->uuid, sizeof vol->uuid, "%s", uuids[i]);
		vol->name = xstrdup(names[i]);
		vol->backend = xstrdup("qcow2");
		xasprintf(&vol->locator, "/persist/vault/volumes/%s.qcow2",
		    uuids[i]);
		vol->ndisks = 1;
		vol->disks = xcalloc(1, sizeof *vol->disks);
		vol->disks[0].kind = xstrdup("serial");
		xasprintf(&vol->disks[0].value, "EVE%s", names[i]);
	}
	ck_assert_msg(registry_add(w.reg, vm, &cause) == EVG_OK, "%s", cause);
}

/* A loop, a state directory, the VM, the fakes and workflow_init(). */
static void
world_setup(void)
{
	struct timeval	 tv = { GUARD_MS / 1000, 0 };
	char		*path, *cause = NULL;

	memset(&w, 0, sizeof w);
	TAILQ_INIT(&w.reqs);
	w.base = event_base_new();
	ck_assert_ptr_nonnull(w.base);
	w.guard = evtimer_new(w.base, guard_cb, NULL);
	evtimer_add(w.guard, &tv);
	snprintf(w.dir, sizeof w.dir, "/tmp/evg-wf-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(w.dir));

	config_defaults(&w.cf);
	w.cf.state_dir = xstrdup(w.dir);
	w.cf.vsock = 0;
	w.cf.guest_timeout = 1;		/* a lost reply costs a second */

	xasprintf(&path, "%s/%s", w.dir, REGISTRY_FILE);
	w.reg = registry_create(path);
	free(path);
	ck_assert_msg(registry_load(w.reg, &cause) == 0, "%s", cause);
	world_vm();

	w.link.ctx = &w;
	w.link.request = fg_request;
	w.link.forget = fg_forget;
	w.link.alive = fg_alive;
	w.link.freeze_channel = fg_freeze_channel;
	w.connected = 1;
	backend_fake_start = fb_start;
	events_subscribe(world_event, &w);
	ck_assert_msg(workflow_init(w.base, &w.cf, w.reg, &w.link,
	    &cause) == 0, "%s", cause);
}

/* Shut everything down; nothing may be left behind. */
static void
world_teardown(void)
{
	workflow_shutdown();
	events_shutdown();
	while (!TAILQ_EMPTY(&w.reqs))
		fg_req_free(TAILQ_FIRST(&w.reqs));
	registry_free(w.reg);
	backend_fake_start = NULL;
	unsetenv("EVG_TEST_BACKEND_DELAY_MS");
	event_free(w.guard);
	event_base_free(w.base);
	config_free(&w.cf);
	free(w.msg);
	free(w.start_msg);
	free(w.check_msg);
	testutil_rmtree(w.dir);
}

/* The create's completion. */
static void
world_done(int code, const char *msg, Evg__Snapshot **snaps, size_t n,
    void *arg)
{
	ck_assert_ptr_eq(arg, &w.owner);
	w.calls++;
	w.code = code;
	free(w.msg);
	w.msg = msg != NULL ? xstrdup(msg) : NULL;
	w.nsnaps = n;
	if (n > 0) {
		snprintf(w.consistency, sizeof w.consistency, "%s",
		    snaps[0]->consistency);
		snprintf(w.group, sizeof w.group, "%s", snaps[0]->group_uuid);
	}
	w.states[0] = '\0';
	for (size_t i = 0; i < n; i++)
		trail_add(w.states, snaps[i]->state);
}

/* Start a create of every volume with consistency cons; it must start. */
static void
world_create(const char *cons)
{
	struct workflow_params	 p;
	char			*cause = NULL;

	memset(&p, 0, sizeof p);
	p.vm = VM_UUID;
	p.name = "nightly";
	p.consistency = cons;
	p.origin = "controller";
	ck_assert_msg(workflow_create(&p, world_done, &w.owner, &cause) ==
	    EVG_OK, "%s", cause);
}

/* Run the loop until the create's callback ran (or, with kind, event). */
static void
world_run(const char *kind)
{
	while (!w.guard_fired && (kind != NULL ? strstr(w.events, kind) ==
	    NULL : w.calls == 0))
		event_base_loop(w.base, EVLOOP_ONCE);
	ck_assert_msg(!w.guard_fired, "the create did not finish within %d "
	    "ms; guest and backend: %s", GUARD_MS, w.trail);
	/* Nothing is to come: a second callback would show here. */
	event_base_loop(w.base, EVLOOP_NONBLOCK);
}

/* How many snapshots the VM lists; each must be in state. */
static size_t
world_listed(const char *state)
{
	Evg__Snapshot	**snaps;
	size_t		  n, i;
	char		 *cause = NULL;
	int		  more;

	ck_assert_msg(workflow_list(VM_UUID, NULL, 0, &snaps, &n, &more,
	    &cause) == EVG_OK, "%s", cause);
	for (i = 0; i < n; i++)
		ck_assert_str_eq(snaps[i]->state, state);
	snapinfo_free_list(snaps, n);
	return (n);
}

/* The outcome: once called back with code, and the guest not frozen. */
static void
expect_outcome(int code)
{
	ck_assert_uint_eq(w.calls, 1);
	ck_assert_msg(w.code == code, "status %d (%s), expected %d; guest and "
	    "backend: %s", w.code, w.msg != NULL ? w.msg : "", code, w.trail);
	ck_assert_msg(!w.frozen, "the guest is left frozen: %s", w.trail);
	ck_assert_msg(TAILQ_EMPTY(&w.reqs), "a guest request is still "
	    "pending after the create finished");
}

/* fs: freeze, check, a snapshot of each volume, thaw, check; kept. */
START_TEST(test_create_fs_success)
{
	world_setup();
	world_create("fs");
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_ptr_null(w.msg);
	ck_assert_str_eq(w.trail, "space space freeze create create thaw");
	ck_assert_uint_eq(w.nsnaps, 2);
	ck_assert_str_eq(w.consistency, "fs");
	ck_assert_uint_eq(world_listed("ready"), 2);
	ck_assert_str_eq(w.events, "started frozen backend-done backend-done "
	    "thawed committed");
	world_teardown();
}
END_TEST

/* app: the pre hooks run before the freeze, the post hooks after the thaw. */
START_TEST(test_create_app_post_after_good_pre)
{
	world_setup();
	world_create("app");
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_str_eq(w.trail, "space space hook:pre freeze create create "
	    "thaw hook:post");
	ck_assert_str_eq(w.consistency, "app");
	ck_assert_uint_eq(world_listed("ready"), 2);
	ck_assert_ptr_nonnull(strstr(w.events, "pre-started pre-finished "
	    "frozen"));
	ck_assert_ptr_nonnull(strstr(w.events, "thawed post-started "
	    "post-finished committed"));
	world_teardown();
}
END_TEST

/* A failing pre hook stops the create before anything is frozen. */
START_TEST(test_create_pre_fails_nothing_frozen)
{
	world_setup();
	w.fg.hook_fails = "pre";
	world_create("app");
	world_run(NULL);
	expect_outcome(EVG_HOOK_FAILED);
	ck_assert_str_eq(w.trail, "space space hook:pre");
	ck_assert_uint_eq(w.sent[FG_FREEZE], 0);
	ck_assert_ptr_nonnull(strstr(w.msg, "nothing was frozen"));
	ck_assert_ptr_nonnull(strstr(w.msg, "20-db.sh exited 3: database "
	    "refused to flush"));
	ck_assert_uint_eq(world_listed("ready"), 0);
	world_teardown();
}
END_TEST

/* Pre hooks that partly ran are undone: abort hooks, still nothing frozen. */
START_TEST(test_create_pre_partly_ran_aborts)
{
	world_setup();
	w.fg.hook_fails = "pre";
	w.fg.hook_partly = 1;
	world_create("app");
	world_run(NULL);
	expect_outcome(EVG_HOOK_FAILED);
	ck_assert_str_eq(w.trail, "space space hook:pre hook:abort");
	ck_assert_uint_eq(world_listed("ready"), 0);
	world_teardown();
}
END_TEST

/*
 * The backend fails on the second volume while the guest is frozen: the
 * guest is thawed, the first volume's snapshot deleted, the backend's
 * error reported.
 */
START_TEST(test_create_backend_fails_after_freeze_thaws)
{
	world_setup();
	w.fb.create_fails = 2;
	world_create("fs");
	world_run(NULL);
	expect_outcome(EVG_BACKEND_ERROR);
	ck_assert_str_eq(w.trail, "space space freeze create create thaw "
	    "delete");
	ck_assert_str_eq(w.msg, "fake: snapshot of volume 'logs' failed");
	ck_assert_uint_eq(w.nsnaps, 0);
	ck_assert_uint_eq(world_listed("ready"), 0);
	ck_assert_ptr_nonnull(strstr(w.events, "thawed failed"));
	world_teardown();
}
END_TEST

/*
 * A renewal answered after the backend failed (the failure thaw is on its
 * way) renews nothing more: the guest is thawing, and no further renewal
 * goes to it.
 */
START_TEST(test_create_no_renewal_after_failure)
{
	world_setup();
	w.cf.freeze_lease_ms = 300;		/* a renewal every 100 ms */
	w.fg.delay_ms[FG_RENEW] = 150;		/* answered at ~250 ms */
	w.fg.delay_ms[FG_THAW] = 400;		/* the thaw answer, later */
	w.fb.create_fails = 1;
	setenv("EVG_TEST_BACKEND_DELAY_MS", "150", 1);
	world_create("fs");
	world_run(NULL);
	unsetenv("EVG_TEST_BACKEND_DELAY_MS");
	expect_outcome(EVG_BACKEND_ERROR);
	ck_assert_str_eq(w.trail, "space space freeze create renew thaw");
	ck_assert_uint_eq(w.sent[FG_RENEW], 1);
	ck_assert_uint_eq(world_listed("ready"), 0);
	world_teardown();
}
END_TEST

/* The guest refuses the freeze: no snapshot is taken, nothing to thaw. */
START_TEST(test_create_freeze_refused)
{
	world_setup();
	w.fg.code[FG_FREEZE] = EVG_FREEZE_FAILED;
	world_create("fs");
	world_run(NULL);
	expect_outcome(EVG_FREEZE_FAILED);
	ck_assert_str_eq(w.trail, "space space freeze");
	ck_assert_uint_eq(w.creates, 0);
	ck_assert_str_eq(w.msg, "the guest could not freeze its filesystems: "
	    "fake: refused");
	ck_assert_uint_eq(world_listed("ready"), 0);
	world_teardown();
}
END_TEST

/*
 * The lease is renewed while a slow backend works; a renewal refused as
 * run out (the guest thawed itself) ends the create with TIMEOUT at once:
 * the backend step is cancelled and what it may have made is deleted.
 */
START_TEST(test_create_lease_lost)
{
	world_setup();
	w.cf.freeze_lease_ms = 300;
	w.fg.code[FG_RENEW] = EVG_FAILED_PRECONDITION;
	w.fb.create_never = 1;
	world_create("fs");
	world_run(NULL);
	expect_outcome(EVG_TIMEOUT);
	ck_assert_str_eq(w.trail, "space space freeze create renew delete");
	ck_assert_ptr_nonnull(strstr(w.msg, "freeze lease ran out"));
	ck_assert_ptr_nonnull(strstr(w.msg, "freeze_lease_ms is 300"));
	ck_assert_uint_eq(world_listed("ready"), 0);
	ck_assert_ptr_nonnull(strstr(w.events, "failed"));
	world_teardown();
}
END_TEST

/* Renewals keep a slow backend's snapshot consistent: it succeeds. */
START_TEST(test_create_slow_backend_renews_lease)
{
	world_setup();
	w.cf.freeze_lease_ms = 300;
	setenv("EVG_TEST_BACKEND_DELAY_MS", "250", 1);
	world_create("fs");
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_uint_ge(w.sent[FG_RENEW], 2);
	ck_assert_ptr_nonnull(strstr(w.trail, "create renew"));
	/* The last word: one thaw, once both creates were done. */
	ck_assert_ptr_nonnull(strstr(w.trail, " thaw"));
	ck_assert_str_eq(strstr(w.trail, " thaw"), " thaw");
	ck_assert_uint_eq(world_listed("ready"), 2);
	world_teardown();
}
END_TEST

/*
 * The requester goes away mid-way: the create carries on to the end (the
 * guest thawed, the snapshots kept) and calls nobody back.
 */
START_TEST(test_create_requester_gone)
{
	world_setup();
	w.fb.on_create = owner_gone_cb;
	world_create("fs");
	world_run("committed");
	ck_assert_uint_eq(w.calls, 0);
	ck_assert_str_eq(w.trail, "space space freeze create create thaw");
	ck_assert(!w.frozen);
	ck_assert(TAILQ_EMPTY(&w.reqs));
	ck_assert_uint_eq(world_listed("ready"), 2);
	world_teardown();
}
END_TEST

/*
 * The guest's session goes away while the backend works: the create ends
 * at once with UNAVAILABLE (the guest thawed on its own), the backend step
 * is cancelled and what it may have made is deleted.
 */
START_TEST(test_create_guest_gone_while_frozen)
{
	world_setup();
	w.fb.on_create = fg_lose_cb;
	w.fb.create_never = 1;
	world_create("fs");
	world_run(NULL);
	expect_outcome(EVG_UNAVAILABLE);
	ck_assert_str_eq(w.trail, "space space freeze create delete");
	ck_assert_ptr_nonnull(strstr(w.msg, "went away while its filesystems "
	    "were frozen"));
	ck_assert_uint_eq(world_listed("ready"), 0);
	world_teardown();
}
END_TEST

/*
 * Make the catalog unwritable (as root too): its temp name is taken by a
 * directory, its journal's name by a link to nowhere.
 */
static void
world_catalog_unwritable(void)
{
	char	*tmp;

	xasprintf(&tmp, "%s/catalogs/%s.json.tmp.%ld", w.dir, VM_UUID,
	    (long)getpid());
	ck_assert_msg(mkdir(tmp, 0700) == 0, "mkdir %s: %s", tmp,
	    strerror(errno));
	free(tmp);
	/* Read as missing, but never created: its target's dir is not. */
	xasprintf(&tmp, "%s/catalogs/%s.json.journal", w.dir, VM_UUID);
	ck_assert_msg(symlink("/nonexistent-evg/journal", tmp) == 0,
	    "symlink %s: %s", tmp, strerror(errno));
	free(tmp);
}

/*
 * The catalog cannot record the intents (written before the freeze):
 * nothing is frozen or snapshotted, the write error reported.
 */
START_TEST(test_create_catalog_write_fails)
{
	world_setup();
	world_catalog_unwritable();
	world_create("fs");
	world_run(NULL);
	expect_outcome(EVG_INTERNAL);
	ck_assert_str_eq(w.trail, "space space");
	ck_assert_uint_eq(w.creates, 0);
	ck_assert_ptr_nonnull(strstr(w.msg, "cannot write the snapshot "
	    "catalog"));
	ck_assert_uint_eq(world_listed("ready"), 0);
	world_teardown();
}
END_TEST

/* A post hook failure is reported, but the snapshots stand. */
START_TEST(test_create_post_fails_snapshot_kept)
{
	world_setup();
	w.fg.hook_fails = "post";
	world_create("app");
	world_run(NULL);
	expect_outcome(EVG_HOOK_FAILED);
	ck_assert_str_eq(w.trail, "space space hook:pre freeze create create "
	    "thaw hook:post");
	ck_assert_ptr_nonnull(strstr(w.msg, "the snapshot was taken and kept"));
	ck_assert_uint_eq(w.nsnaps, 2);
	ck_assert_uint_eq(world_listed("ready"), 2);
	world_teardown();
}
END_TEST

/* A guest's disk reference with the given identifiers (kind, value...). */
static Evg__DiskRef *
diskref(const char *dev, const char *const *kv, size_t n)
{
	Evg__DiskRef	*d;
	size_t		 i;

	d = xcalloc(1, sizeof *d);
	evg__disk_ref__init(d);
	d->device = (char *)dev;
	d->n_ids = n;
	d->ids = xcalloc(n, sizeof *d->ids);
	for (i = 0; i < n; i++) {
		d->ids[i] = xcalloc(1, sizeof *d->ids[i]);
		evg__disk_id__init(d->ids[i]);
		d->ids[i]->kind = (char *)kv[2 * i];
		d->ids[i]->value = (char *)kv[2 * i + 1];
	}
	return (d);
}

static void
diskref_free(Evg__DiskRef *d)
{
	size_t	i;

	for (i = 0; i < d->n_ids; i++)
		free(d->ids[i]);
	free(d->ids);
	free(d);
}

/*
 * A disk without a serial (EVE's virtio-blk) is found by its pcipath; a
 * serial still beats a place shared with it; an unknown place is named.
 */
START_TEST(test_match_pcipath)
{
	static const char	*eve[] = { "pci", "0000:01:00.0",
				    "pcipath", "04.0/00.0" };
	static const char	*both[] = { "serial", "EVEdata",
				    "pcipath", "04.0/00.0" };
	static const char	*other[] = { "pcipath", "05.0/00.0" };
	struct reg_vm		*vm;
	struct reg_volume	*logs;
	Evg__DiskRef		*d;
	char			**vols, *cause = NULL;
	size_t			  nvols;

	world_setup();
	vm = registry_find(w.reg, VM_UUID);
	logs = &vm->volumes[1];
	free(logs->disks[0].kind);
	free(logs->disks[0].value);
	logs->disks[0].kind = xstrdup("pcipath");
	logs->disks[0].value = xstrdup("04.0/00.0");

	d = diskref("/dev/vda", eve, 2);
	ck_assert_int_eq(workflow_match_disks(VM_UUID, &d, 1, &vols, &nvols,
	    &cause), EVG_OK);
	ck_assert_uint_eq(nvols, 1);
	ck_assert_str_eq(vols[0], VOL_LOGS);
	free(vols[0]);
	free(vols);
	diskref_free(d);

	d = diskref("/dev/vdb", both, 2);
	ck_assert_int_eq(workflow_match_disks(VM_UUID, &d, 1, &vols, &nvols,
	    &cause), EVG_OK);
	ck_assert_str_eq(vols[0], VOL_DATA);
	free(vols[0]);
	free(vols);
	diskref_free(d);

	d = diskref("/dev/vdc", other, 1);
	ck_assert_int_eq(workflow_match_disks(VM_UUID, &d, 1, &vols, &nvols,
	    &cause), EVG_NOT_FOUND);
	ck_assert_str_eq(cause, "disk /dev/vdc (pcipath) is not one of VM "
	    "web-01's EVE volumes");
	free(cause);
	diskref_free(d);
	world_teardown();
}
END_TEST

/* No guest daemon for an fs create: refused at once, cb never runs. */
START_TEST(test_create_no_guest_refused)
{
	struct workflow_params	 p;
	char			*cause = NULL;

	world_setup();
	w.connected = 0;
	memset(&p, 0, sizeof p);
	p.vm = VM_UUID;
	p.consistency = "fs";
	ck_assert_int_eq(workflow_create(&p, world_done, &w.owner, &cause),
	    EVG_FAILED_PRECONDITION);
	ck_assert_ptr_nonnull(strstr(cause, "none is connected"));
	free(cause);
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(w.calls, 0);
	ck_assert_str_eq(w.trail, "");
	world_teardown();
}
END_TEST

/* A failure point of test_create_thaw_on_every_failure. */
struct failure {
	const char	*name;
	const char	*cons;
	void		(*arrange)(void);
	int		 code;
	const char	*trail;
};

/* The freeze's reply is lost (the guest froze). */
static void
fail_freeze_lost(void)
{
	w.fg.never[FG_FREEZE] = 1;
}

/* The freeze reply says nothing is frozen (any more). */
static void
fail_check_thawed(void)
{
	w.fg.says_thawed = 1;
}

/* Every mount is skipped: nothing frozen. */
static void
fail_none_frozen(void)
{
	w.fg.none_frozen = 1;
}

/* The first volume's backend snapshot fails. */
static void
fail_backend_first(void)
{
	w.fb.create_fails = 1;
}

/* The first thaw is refused. */
static void
fail_thaw_refused(void)
{
	w.fg.code[FG_THAW] = EVG_FREEZE_FAILED;
	w.fg.first_only[FG_THAW] = 1;
}

/* Every thaw's reply is lost (the guest thawed). */
static void
fail_thaw_lost(void)
{
	w.fg.never[FG_THAW] = 1;
}

/* Every freeze check says frozen, the one after the thaw too. */
static void
fail_still_frozen(void)
{
	w.fg.says_frozen = 1;
}

/*
 * Every failure once the guest may hold a freeze sends a THAW: a freeze
 * whose answer is lost or says nothing is frozen any more, nothing
 * frozen, the backend failing, a refused or lost thaw, a thaw reply that
 * says the guest is still frozen, and with hooks, the abort hooks after
 * the thaw.  An unwritable catalog fails before any freeze.  No freeze
 * status request is ever sent: the replies carry the state.  Nothing is kept.  (A lease that ran out is the
 * one failure without a THAW: the guest thawed itself; see
 * test_create_lease_lost.)
 */
START_TEST(test_create_thaw_on_every_failure)
{
	static const struct failure	cases[] = {
		{ "freeze answer lost", "fs", fail_freeze_lost, EVG_TIMEOUT,
		    "space space freeze thaw" },
		{ "freeze reply says thawed", "fs", fail_check_thawed,
		    EVG_FREEZE_FAILED, "space space freeze thaw" },
		{ "nothing frozen", "fs", fail_none_frozen,
		    EVG_FAILED_PRECONDITION, "space space freeze thaw" },
		{ "backend fails", "fs", fail_backend_first,
		    EVG_BACKEND_ERROR, "space space freeze create thaw" },
		{ "thaw refused", "fs", fail_thaw_refused, EVG_FREEZE_FAILED,
		    "space space freeze create create thaw thaw delete "
		    "delete" },
		{ "thaw answer lost", "fs", fail_thaw_lost, EVG_TIMEOUT,
		    "space space freeze create create thaw thaw delete "
		    "delete" },
		{ "thaw reply says frozen", "fs", fail_still_frozen,
		    EVG_FREEZE_FAILED, "space space freeze create create thaw "
		    "thaw delete delete" },
		{ "catalog unwritable", "fs", world_catalog_unwritable,
		    EVG_INTERNAL, "space space" },
		{ "backend fails after pre", "app", fail_backend_first,
		    EVG_BACKEND_ERROR, "space space hook:pre freeze create "
		    "thaw hook:abort" },
	};
	const struct failure	*f;
	size_t			 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		f = &cases[i];
		world_setup();
		f->arrange();
		world_create(f->cons);
		world_run(NULL);
		ck_assert_msg(w.calls == 1 && w.code == f->code, "%s: status "
		    "%d (%s), expected %d", f->name, w.code, w.msg != NULL ?
		    w.msg : "", f->code);
		ck_assert_msg(strcmp(w.trail, f->trail) == 0, "%s: guest and "
		    "backend: %s, expected %s", f->name, w.trail, f->trail);
		ck_assert_msg(trail_thawed(w.trail) && !w.frozen, "%s: the "
		    "guest is left frozen: %s", f->name, w.trail);
		ck_assert_msg(world_listed("ready") == 0, "%s: a snapshot is "
		    "listed", f->name);
		world_teardown();
	}
}
END_TEST

/* Start a create named name of every volume; it must start. */
static void
world_create_named(const char *cons, const char *name)
{
	struct workflow_params	 p;
	char			*cause = NULL;

	memset(&p, 0, sizeof p);
	p.vm = VM_UUID;
	p.name = name;
	p.consistency = cons;
	p.origin = "controller";
	ck_assert_msg(workflow_create(&p, world_done, &w.owner, &cause) ==
	    EVG_OK, "%s", cause);
}

/* Forget the last outcome, trail and events, for the next operation. */
static void
world_next(void)
{
	w.calls = 0;
	w.code = 0;
	free(w.msg);
	w.msg = NULL;
	w.nsnaps = 0;
	w.trail[0] = '\0';
	w.events[0] = '\0';
}

/* The fixture VM's record. */
static struct reg_vm *
world_reg_vm(void)
{
	struct reg_vm	*vm = registry_find(w.reg, VM_UUID);

	ck_assert_ptr_nonnull(vm);
	return (vm);
}

/*
 * Record a run state in the registry only, as control_dispatch.c does
 * before it calls workflow_vm_starting() (no workflow_vm_state()).
 */
static void
world_state(enum vm_state s)
{
	char	*cause = NULL;

	ck_assert_msg(registry_set_state(w.reg, world_reg_vm(), s, &cause) ==
	    EVG_OK, "%s", cause);
}

/* The answer to a waiting `starting` call. */
static void
world_started(int code, const char *msg, Evg__Snapshot **snaps, size_t n,
    void *arg)
{
	(void)snaps;
	ck_assert_ptr_eq(arg, &w.starter);
	ck_assert_uint_eq(n, 0);
	w.start_calls++;
	w.start_code = code;
	free(w.start_msg);
	w.start_msg = msg != NULL ? xstrdup(msg) : NULL;
	snprintf(w.start_trail, sizeof w.start_trail, "%s", w.trail);
	w.start_creates = w.calls;
}

/* Call `starting`: its status, with *waiting. */
static int
world_starting(int *waiting, char **cause)
{
	*cause = NULL;
	return (workflow_vm_starting(world_reg_vm(), world_started,
	    &w.starter, waiting, cause));
}

/* Run the loop until the `starting` call was answered. */
static void
world_run_start(void)
{
	while (!w.guard_fired && w.start_calls == 0)
		event_base_loop(w.base, EVLOOP_ONCE);
	ck_assert_msg(!w.guard_fired, "`starting` was not answered within %d "
	    "ms; backend: %s", GUARD_MS, w.trail);
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(w.start_calls, 1);
}

/* Run the loop until the trail holds word. */
static void
world_run_trail(const char *word)
{
	while (!w.guard_fired && strstr(w.trail, word) == NULL)
		event_base_loop(w.base, EVLOOP_ONCE);
	ck_assert_msg(!w.guard_fired, "'%s' never came; backend: %s", word,
	    w.trail);
}

/* The UUID of the first listed snapshot of volume vol. */
static void
world_snap_of(const char *vol, char *out, size_t len)
{
	Evg__Snapshot	**snaps;
	size_t		  n, i;
	char		 *cause = NULL;
	int		  more;

	out[0] = '\0';
	ck_assert_msg(workflow_list(VM_UUID, NULL, 0, &snaps, &n, &more,
	    &cause) == EVG_OK, "%s", cause);
	for (i = 0; i < n && out[0] == '\0'; i++)
		if (strcmp(snaps[i]->volume_uuid, vol) == 0)
			snprintf(out, len, "%s", snaps[i]->uuid);
	snapinfo_free_list(snaps, n);
	ck_assert_msg(out[0] != '\0', "no snapshot of volume %s", vol);
}

/*
 * What the VM's catalog holds on disk, its file with its journal replayed,
 * as the file's text (freed by the caller).
 */
static char *
world_catalog_text(void)
{
	struct catalog	*cat;
	char		*path, *text, *cause = NULL;

	xasprintf(&path, "%s/catalogs", w.dir);
	cat = catalog_open(path, VM_UUID, &cause);
	ck_assert_msg(cat != NULL, "%s: %s", path, cause);
	free(path);
	text = catalog_text(cat);
	catalog_free(cat);
	return (text);
}

/*
 * A running VM with an fs snapshot of each volume, and a rollback of the
 * data volume's scheduled (no guest daemon: no pre hooks), not yet run.
 */
static void
world_schedule_rollback(void)
{
	struct workflow_params	 p;
	char			 uuid[UUID_STR_LEN + 1], *cause = NULL, *text;

	world_create("fs");
	world_run(NULL);
	expect_outcome(EVG_OK);
	world_snap_of(VOL_DATA, uuid, sizeof uuid);
	world_next();
	w.connected = 0;
	memset(&p, 0, sizeof p);
	p.vm = VM_UUID;
	p.snapshot = uuid;
	p.volume = VOL_DATA;	/* one member of the group, by name */
	ck_assert_msg(workflow_rollback(&p, world_done, &w.owner, &cause) ==
	    EVG_OK, "%s", cause);
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(w.calls, 1);
	ck_assert_int_eq(w.code, EVG_OK);
	ck_assert_ptr_nonnull(strstr(w.events, "restart-required"));
	ck_assert_str_eq(w.trail, "");
	text = world_catalog_text();
	ck_assert_ptr_nonnull(strstr(text, "pending_rollback"));
	ck_assert_ptr_nonnull(strstr(text, uuid));
	free(text);
	world_next();
}

/* Nothing holds the images and nothing is scheduled: go ahead at once. */
START_TEST(test_starting_nothing_pending)
{
	char	*cause;
	int	 waiting = -1;

	world_setup();
	world_state(VM_STOPPED);
	ck_assert_int_eq(world_starting(&waiting, &cause), EVG_OK);
	ck_assert_int_eq(waiting, 0);
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(w.start_calls, 0);
	ck_assert_str_eq(w.trail, "");
	ck_assert_int_eq(workflow_vm_idle(world_reg_vm(), 1, &cause), EVG_OK);
	ck_assert_int_eq(workflow_vm_idle(world_reg_vm(), 0, &cause), EVG_OK);
	world_teardown();
}
END_TEST

/*
 * A rollback scheduled while the VM ran is applied by `starting` before
 * it answers: the answer comes after the backend's rollback, once; the
 * schedule is gone from the catalog, so the next `starting` goes ahead at
 * once.  Meanwhile a second `starting` and a `vm update` are BUSY.
 */
START_TEST(test_starting_applies_scheduled_rollback)
{
	char	*cause, *text;
	int	 waiting = -1, again;

	world_setup();
	world_schedule_rollback();
	world_state(VM_STOPPED);
	ck_assert_int_eq(world_starting(&waiting, &cause), EVG_OK);
	ck_assert_int_eq(waiting, 1);
	ck_assert_uint_eq(w.start_calls, 0);

	ck_assert_int_eq(world_starting(&again, &cause), EVG_BUSY);
	ck_assert_str_eq(cause, "VM web-01: another `starting` call is already "
	    "waiting for its images");
	free(cause);
	ck_assert_int_eq(workflow_vm_idle(world_reg_vm(), 0, &cause),
	    EVG_BUSY);
	ck_assert_ptr_nonnull(strstr(cause, "a `starting` call still waits"));
	free(cause);

	world_run_start();
	ck_assert_msg(w.start_code == EVG_OK, "status %d (%s)", w.start_code,
	    w.start_msg);
	ck_assert_ptr_null(w.start_msg);
	ck_assert_str_eq(w.start_trail, "rollback");
	ck_assert_ptr_nonnull(strstr(w.events, "rollback-started"));
	ck_assert_ptr_nonnull(strstr(w.events, "rollback-done"));
	text = world_catalog_text();
	ck_assert_ptr_null(strstr(text, "pending_rollback"));
	free(text);

	w.start_calls = 0;
	ck_assert_int_eq(world_starting(&waiting, &cause), EVG_OK);
	ck_assert_int_eq(waiting, 0);
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(w.start_calls, 0);
	ck_assert_str_eq(w.trail, "rollback");
	ck_assert_int_eq(workflow_vm_idle(world_reg_vm(), 1, &cause), EVG_OK);
	world_teardown();
}
END_TEST

/* The scheduled rollback fails: `starting` answers with its error. */
START_TEST(test_starting_rollback_fails)
{
	char	*cause;
	int	 waiting = -1;

	world_setup();
	world_schedule_rollback();
	w.fb.rollback_fails = 1;
	world_state(VM_STOPPED);
	ck_assert_int_eq(world_starting(&waiting, &cause), EVG_OK);
	ck_assert_int_eq(waiting, 1);
	world_run_start();
	ck_assert_int_eq(w.start_code, EVG_BACKEND_ERROR);
	ck_assert_str_eq(w.start_msg, "the scheduled rollback failed, so the "
	    "VM must not start: fake: rollback of volume 'data' failed");
	ck_assert_str_eq(w.start_trail, "rollback");
	ck_assert_ptr_nonnull(strstr(w.events, "rollback-failed"));
	ck_assert_int_eq(world_reg_vm()->state, VM_STOPPED);
	world_teardown();
}
END_TEST

/*
 * An operation holding the images offline (the VM stopped): `running` is
 * refused naming it (workflow_vm_idle(vm, 1)), and `starting` answers
 * only once it is done.
 */
START_TEST(test_offline_op_holds_images)
{
	char	*cause;
	int	 waiting = -1;

	world_setup();
	world_state(VM_STOPPED);
	setenv("EVG_TEST_BACKEND_DELAY_MS", "200", 1);
	world_create("crash");
	world_run_trail("create");
	ck_assert_int_eq(workflow_vm_idle(world_reg_vm(), 1, &cause),
	    EVG_BUSY);
	ck_assert_str_eq(cause, "VM web-01: a snapshot create (volume 'data') "
	    "holds its images offline (qemu-img or zfs runs on them); QEMU "
	    "must not start until it is done");
	free(cause);
	ck_assert_int_eq(workflow_vm_idle(world_reg_vm(), 0, &cause),
	    EVG_BUSY);
	ck_assert_str_eq(cause, "VM web-01: a snapshot create (volume 'data') "
	    "is in progress; try again when it is done");
	free(cause);

	ck_assert_int_eq(world_starting(&waiting, &cause), EVG_OK);
	ck_assert_int_eq(waiting, 1);
	ck_assert_uint_eq(w.start_calls, 0);
	world_run_start();
	unsetenv("EVG_TEST_BACKEND_DELAY_MS");
	ck_assert_int_eq(w.start_code, EVG_OK);
	ck_assert_uint_eq(w.start_creates, 1);
	ck_assert_int_eq(w.code, EVG_OK);
	ck_assert_str_eq(w.start_trail, "space space create create");
	ck_assert_uint_eq(world_listed("ready"), 2);
	ck_assert_int_eq(workflow_vm_idle(world_reg_vm(), 1, &cause), EVG_OK);
	world_teardown();
}
END_TEST

/*
 * An operation on a running VM works through QEMU, not offline: it does
 * not block `running`, but it does block anything that waits for no
 * operation at all (offline_only 0).
 */
START_TEST(test_online_op_not_offline)
{
	char	*cause = NULL;

	world_setup();
	w.fb.create_never = 1;
	world_create("crash");
	world_run_trail("create");
	ck_assert_int_eq(workflow_vm_idle(world_reg_vm(), 1, &cause), EVG_OK);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(workflow_vm_idle(world_reg_vm(), 0, &cause),
	    EVG_BUSY);
	ck_assert_str_eq(cause, "VM web-01: a snapshot create (volume 'data') "
	    "is in progress; try again when it is done");
	free(cause);
	world_teardown();
}
END_TEST

/*
 * With a snapshot budget, used + what this snapshot may need (summed over
 * its volumes) must fit: over it, NO_SPACE naming the budget rule with
 * the figures, before anything is frozen or made.
 */
START_TEST(test_create_budget_rule)
{
	world_setup();
	world_reg_vm()->snapshot_budget = 64 * MIB;
	world_create("fs");
	world_run(NULL);
	expect_outcome(EVG_NO_SPACE);
	ck_assert_str_eq(w.msg, "snapshot budget of VM web-01 exceeded (budget "
	    "rule): its snapshots hold 0 B and this one may need up to 96.0 "
	    "MiB (up to volume 'logs'), over its budget of 64.0 MiB; delete "
	    "snapshots or ask for a larger budget");
	ck_assert_str_eq(w.trail, "space space");
	ck_assert_uint_eq(w.sent[FG_FREEZE], 0);
	ck_assert_uint_eq(w.creates, 0);
	ck_assert_uint_eq(world_listed("ready"), 0);
	world_teardown();
}
END_TEST

/*
 * The budget counts what the VM's snapshots already hold: exactly at the
 * budget is allowed, one more snapshot is not; a larger budget lets it.
 */
START_TEST(test_create_budget_counts_used)
{
	world_setup();
	world_reg_vm()->snapshot_budget = 96 * MIB;
	world_create_named("fs", "one");
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_uint_eq(world_listed("ready"), 2);

	world_next();
	world_create_named("fs", "two");
	world_run(NULL);
	expect_outcome(EVG_NO_SPACE);
	ck_assert_str_eq(w.msg, "snapshot budget of VM web-01 exceeded (budget "
	    "rule): its snapshots hold 96.0 MiB and this one may need up to "
	    "48.0 MiB (up to volume 'data'), over its budget of 96.0 MiB; "
	    "delete snapshots or ask for a larger budget");
	ck_assert_str_eq(w.trail, "space");

	world_next();
	world_reg_vm()->snapshot_budget = 200 * MIB;
	world_create_named("fs", "two");
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_uint_eq(world_listed("ready"), 4);

	world_next();
	world_create_named("fs", "three");
	world_run(NULL);
	expect_outcome(EVG_NO_SPACE);
	ck_assert_ptr_nonnull(strstr(w.msg, "(budget rule): its snapshots "
	    "hold 192.0 MiB and this one may need up to 48.0 MiB (up to "
	    "volume 'data'), over its budget of 200.0 MiB"));
	ck_assert_uint_eq(world_listed("ready"), 4);

	/* No budget: the used bytes no longer matter. */
	world_next();
	world_reg_vm()->snapshot_budget = 0;
	world_create_named("fs", "three");
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_uint_eq(world_listed("ready"), 6);
	world_teardown();
}
END_TEST

/* Too little free space: NO_SPACE naming the free-space rule and figures. */
START_TEST(test_create_free_space_rule)
{
	world_setup();
	world_reg_vm()->snapshot_budget = 1024 * MIB;
	w.fb.free_bytes = 200 * MIB;
	world_create("fs");
	world_run(NULL);
	expect_outcome(EVG_NO_SPACE);
	ck_assert_str_eq(w.msg, "not enough free space on EVE storage (free-"
	    "space rule): 200.0 MiB free, snapshot of volume 'data' may need "
	    "up to 48.0 MiB (plus a 256.0 MiB reserve)");
	ck_assert_str_eq(w.trail, "space");
	ck_assert_uint_eq(w.sent[FG_FREEZE], 0);
	ck_assert_uint_eq(world_listed("ready"), 0);
	world_teardown();
}
END_TEST

/* The pre-flight check's verdict. */
static void
world_checked(int code, const char *msg, const Evg__CheckResult *cr,
    void *arg)
{
	(void)msg;
	ck_assert_ptr_eq(arg, &w.owner);
	ck_assert_int_eq(code, EVG_OK);
	w.calls++;
	w.check_code = (int)cr->code;
	free(w.check_msg);
	w.check_msg = xstrdup(cr->message);
}

/* A guest's pre-flight check meets the budget rule as a create would. */
START_TEST(test_check_budget_rule)
{
	static const char	*ids[] = { "serial", "EVEdata" };
	struct workflow_params	 p;
	Evg__DiskRef		*d;
	char			*cause = NULL;

	world_setup();
	world_reg_vm()->snapshot_budget = 32 * MIB;
	d = diskref("/dev/vdb", ids, 1);
	memset(&p, 0, sizeof p);
	p.vm = VM_UUID;
	p.disks = &d;
	p.ndisks = 1;
	p.requester = SERIAL;
	ck_assert_msg(workflow_check(&p, world_checked, &w.owner, &cause) ==
	    EVG_OK, "%s", cause);
	world_run(NULL);
	ck_assert_int_eq(w.check_code, EVG_NO_SPACE);
	ck_assert_str_eq(w.check_msg, "snapshot budget of VM web-01 exceeded "
	    "(budget rule): its snapshots hold 0 B and this one may need up to "
	    "48.0 MiB (up to volume 'data'), over its budget of 32.0 MiB; "
	    "delete snapshots or ask for a larger budget");

	world_next();
	world_reg_vm()->snapshot_budget = 48 * MIB;
	ck_assert_msg(workflow_check(&p, world_checked, &w.owner, &cause) ==
	    EVG_OK, "%s", cause);
	world_run(NULL);
	ck_assert_int_eq(w.check_code, EVG_OK);
	diskref_free(d);
	world_teardown();
}
END_TEST

/*
 * `vm update` leaving a volume out keeps its snapshots in the catalog
 * (not listed); the volume's new generation-bumped locator is used from
 * then on; when the volume returns (same UUID) its snapshots are back.
 */
START_TEST(test_update_keeps_catalog)
{
	struct reg_vm	*vm, *old, *next;
	char		*cause = NULL, uuid[UUID_STR_LEN + 1];

	world_setup();
	world_create("fs");
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_uint_eq(world_listed("ready"), 2);
	vm = world_reg_vm();
	old = reg_vm_dup(vm);

	next = reg_vm_dup(vm);
	reg_vm_clear_volumes(next);
	next->nvolumes = 1;
	next->volumes = xcalloc(1, sizeof *next->volumes);
	snprintf(next->volumes[0].uuid, sizeof next->volumes[0].uuid, "%s",
	    VOL_DATA);
	next->volumes[0].name = xstrdup("data");
	next->volumes[0].backend = xstrdup("qcow2");
	next->volumes[0].locator = xstrdup("/persist/vault/volumes/" VOL_DATA
	    "#2.qcow2");
	next->volumes[0].ndisks = 1;
	next->volumes[0].disks = xcalloc(1, sizeof *next->volumes[0].disks);
	next->volumes[0].disks[0].kind = xstrdup("pcipath");
	next->volumes[0].disks[0].value = xstrdup("04.0/00.0");
	next->cid = 9001;
	ck_assert_msg(registry_update(w.reg, vm, next, &cause) == EVG_OK,
	    "%s", cause);
	ck_assert_uint_eq(world_listed("ready"), 1);
	world_snap_of(VOL_DATA, uuid, sizeof uuid);

	world_next();
	world_create_named("crash", "after");
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_str_eq(w.trail, "space create");
	ck_assert_str_eq(w.locator, "/persist/vault/volumes/" VOL_DATA
	    "#2.qcow2");
	ck_assert_uint_eq(world_listed("ready"), 2);

	ck_assert_msg(registry_update(w.reg, vm, old, &cause) == EVG_OK, "%s",
	    cause);
	ck_assert_uint_eq(world_listed("ready"), 3);
	world_snap_of(VOL_LOGS, uuid, sizeof uuid);
	world_teardown();
}
END_TEST

/*
 * A rollback asked for while the VM is starting (QEMU about to open the
 * images) is scheduled, never run under it: nothing reaches the backend
 * until the VM is reported stopped.
 */
START_TEST(test_rollback_while_starting_scheduled)
{
	struct workflow_params	 p;
	char			 uuid[UUID_STR_LEN + 1], *cause = NULL, *text;

	world_setup();
	world_create("fs");
	world_run(NULL);
	expect_outcome(EVG_OK);
	world_snap_of(VOL_DATA, uuid, sizeof uuid);
	world_next();
	world_state(VM_STARTING);
	memset(&p, 0, sizeof p);
	p.vm = VM_UUID;
	p.snapshot = uuid;
	p.volume = VOL_DATA;
	ck_assert_msg(workflow_rollback(&p, world_done, &w.owner, &cause) ==
	    EVG_OK, "%s", cause);
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(w.calls, 1);
	ck_assert_int_eq(w.code, EVG_OK);
	ck_assert_str_eq(w.trail, "");
	ck_assert_ptr_nonnull(strstr(w.events, "restart-required"));
	text = world_catalog_text();
	ck_assert_ptr_nonnull(strstr(text, uuid));
	free(text);

	world_state(VM_STOPPED);
	workflow_vm_state(world_reg_vm());
	world_run_trail("rollback");
	ck_assert_str_eq(w.trail, "rollback");
	world_teardown();
}
END_TEST

/*
 * An fs create of a starting VM: its disks are not at rest and its guest
 * is not up yet, so it is refused (UNAVAILABLE), not turned into a crash
 * snapshot; a crash one goes ahead.
 */
START_TEST(test_create_while_starting)
{
	struct workflow_params	 p;
	char			*cause = NULL;

	world_setup();
	world_state(VM_STARTING);
	memset(&p, 0, sizeof p);
	p.vm = VM_UUID;
	p.name = "early";
	p.consistency = "fs";
	p.origin = "controller";
	ck_assert_int_eq(workflow_create(&p, world_done, &w.owner, &cause),
	    EVG_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(cause, "VM web-01 is starting"));
	ck_assert_ptr_nonnull(strstr(cause, "crash-consistent"));
	free(cause);
	ck_assert_str_eq(w.trail, "");
	world_create("crash");
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_str_eq(w.consistency, "crash");
	world_teardown();
}
END_TEST

/* Drop volume uuid from a record that is in no registry. */
static void
reg_volume_free_one(struct reg_vm *vm, const char *uuid)
{
	size_t	i;

	for (i = 0; i < vm->nvolumes; i++)
		if (strcmp(vm->volumes[i].uuid, uuid) == 0)
			break;
	ck_assert_uint_lt(i, vm->nvolumes);
	free(vm->volumes[i].name);
	free(vm->volumes[i].backend);
	free(vm->volumes[i].locator);
	free(vm->volumes[i].node);
	for (size_t d = 0; d < vm->volumes[i].ndisks; d++) {
		free(vm->volumes[i].disks[d].kind);
		free(vm->volumes[i].disks[d].value);
	}
	free(vm->volumes[i].disks);
	memmove(&vm->volumes[i], &vm->volumes[i + 1],
	    (vm->nvolumes - i - 1) * sizeof vm->volumes[i]);
	vm->nvolumes--;
}

/* Start a delete or rollback of snap; it must start. */
static void
world_op(int (*op)(const struct workflow_params *, workflow_done_cb, void *,
    char **), const char *snap, const char *vol, int member)
{
	struct workflow_params	 p;
	char			*cause = NULL;

	memset(&p, 0, sizeof p);
	p.vm = VM_UUID;
	p.snapshot = snap;
	p.volume = vol;
	p.member = member;
	ck_assert_msg(op(&p, world_done, &w.owner, &cause) == EVG_OK, "%s",
	    cause);
}

/* The refusal of a delete or rollback of snap: its code, *cause set. */
static int
world_refused(int (*op)(const struct workflow_params *, workflow_done_cb,
    void *, char **), const char *snap, const char *vol, int member,
    char **cause)
{
	struct workflow_params	 p;

	memset(&p, 0, sizeof p);
	p.vm = VM_UUID;
	p.snapshot = snap;
	p.volume = vol;
	p.member = member;
	*cause = NULL;
	return (op(&p, world_done, &w.owner, cause));
}

/*
 * A create over both volumes is one group: one freeze, both members with
 * the same group UUID and group_size 2, which names them together.
 */
START_TEST(test_group_create)
{
	Evg__Snapshot	**snaps, **page;
	size_t		  n, np;
	char		 *cause = NULL;
	int		  more;

	world_setup();
	world_create("fs");
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_uint_eq(w.nsnaps, 2);
	ck_assert_str_eq(w.trail, "space space freeze create create thaw");
	ck_assert_msg(workflow_list(VM_UUID, NULL, 0, &snaps, &n, &more,
	    &cause) == EVG_OK, "%s", cause);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(more, 0);
	ck_assert_str_eq(snaps[0]->group_uuid, snaps[1]->group_uuid);
	/* Pages: one at a time, then what follows the first, then none. */
	ck_assert_int_eq(workflow_list(VM_UUID, NULL, 1, &page, &np, &more,
	    &cause), EVG_OK);
	ck_assert_uint_eq(np, 1);
	ck_assert_int_eq(more, 1);
	ck_assert_str_eq(page[0]->uuid, snaps[0]->uuid);
	snapinfo_free_list(page, np);
	ck_assert_int_eq(workflow_list(VM_UUID, snaps[0]->uuid, 1, &page, &np,
	    &more, &cause), EVG_OK);
	ck_assert_uint_eq(np, 1);
	ck_assert_int_eq(more, 0);
	ck_assert_str_eq(page[0]->uuid, snaps[1]->uuid);
	snapinfo_free_list(page, np);
	ck_assert_int_eq(workflow_list(VM_UUID, snaps[1]->uuid, 0, &page, &np,
	    &more, &cause), EVG_OK);
	ck_assert_uint_eq(np, 0);
	snapinfo_free_list(page, np);
	ck_assert_int_eq(workflow_list(VM_UUID,
	    "00000000-0000-4000-8000-00000000dead", 0, &page, &np, &more,
	    &cause), EVG_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(cause, "list again from the start"));
	free(cause);
	cause = NULL;
	ck_assert_str_eq(snaps[0]->group_uuid, w.group);
	ck_assert_str_ne(snaps[0]->group_uuid, snaps[0]->uuid);
	ck_assert_uint_eq(snaps[0]->group_size, 2);
	ck_assert_uint_eq(snaps[1]->group_size, 2);
	snapinfo_free_list(snaps, n);
	world_teardown();
}
END_TEST

/*
 * Delete acts on the whole group by its UUID or name; a member's own UUID
 * alone is refused, and deletes only that member when asked explicitly,
 * leaving the group partial.
 */
START_TEST(test_group_delete)
{
	char	 group[UUID_STR_LEN + 1], data[UUID_STR_LEN + 1], *cause;

	world_setup();
	world_create("fs");
	world_run(NULL);
	expect_outcome(EVG_OK);
	snprintf(group, sizeof group, "%s", w.group);
	world_snap_of(VOL_DATA, data, sizeof data);
	world_next();
	ck_assert_int_eq(world_refused(workflow_delete, data, NULL, 0, &cause),
	    EVG_FAILED_PRECONDITION);
	ck_assert_ptr_nonnull(strstr(cause, "one of the 2 members of group"));
	free(cause);
	world_op(workflow_delete, data, NULL, 1);
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_uint_eq(w.nsnaps, 1);
	ck_assert_uint_eq(world_listed("ready"), 1);
	world_next();
	/* By name: the partial group's last member. */
	world_op(workflow_delete, "nightly", NULL, 0);
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_uint_eq(world_listed("ready"), 0);
	world_next();
	world_create("fs");
	world_run(NULL);
	world_next();
	world_op(workflow_delete, w.group[0] != '\0' ? w.group : group, NULL,
	    0);
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_str_eq(w.trail, "delete delete");
	ck_assert_uint_eq(w.nsnaps, 2);
	ck_assert_uint_eq(world_listed("ready"), 0);
	world_teardown();
}
END_TEST

/*
 * A backend failure at the second member: the first stays deleted, the
 * second ready, and the message says the group is partial now.
 */
START_TEST(test_group_delete_fails_midway)
{
	world_setup();
	world_create("fs");
	world_run(NULL);
	world_next();
	w.fb.delete_fails = 2;
	world_op(workflow_delete, w.group, NULL, 0);
	world_run(NULL);
	expect_outcome(EVG_BACKEND_ERROR);
	ck_assert_ptr_nonnull(strstr(w.msg, "1 of its 2 members were deleted"));
	ck_assert_ptr_nonnull(strstr(w.msg, "the group is partial now"));
	ck_assert_uint_eq(world_listed("ready"), 1);
	world_teardown();
}
END_TEST

/*
 * Rollback of a stopped VM's group reverts every member; a volume named
 * keeps to that member; a member UUID alone is refused.
 */
START_TEST(test_group_rollback_stopped)
{
	char	 data[UUID_STR_LEN + 1], *cause;

	world_setup();
	world_create("fs");
	world_run(NULL);
	world_snap_of(VOL_DATA, data, sizeof data);
	world_state(VM_STOPPED);
	world_next();
	world_op(workflow_rollback, w.group, NULL, 0);
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_str_eq(w.trail, "rollback rollback");
	ck_assert_uint_eq(w.nsnaps, 2);
	world_next();
	world_op(workflow_rollback, "nightly", VOL_LOGS, 0);
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_str_eq(w.trail, "rollback");
	world_next();
	ck_assert_int_eq(world_refused(workflow_rollback, data, NULL, 0,
	    &cause), EVG_FAILED_PRECONDITION);
	free(cause);
	w.fb.rollback_fails = 1;
	world_op(workflow_rollback, w.group, NULL, 0);
	world_run(NULL);
	expect_outcome(EVG_BACKEND_ERROR);
	ck_assert_ptr_nonnull(strstr(w.msg, "rolled back: none"));
	world_teardown();
}
END_TEST

/*
 * A running VM's group rollback is one scheduled rollback holding both
 * members; a second one replaces it (rollback-replaced) and is the one
 * carried out when the VM stops.
 */
START_TEST(test_group_rollback_scheduled_replaced)
{
	char	 first[UUID_STR_LEN + 1], *text;

	world_setup();
	w.connected = 0;
	world_create("crash");
	world_run(NULL);
	snprintf(first, sizeof first, "%s", w.group);
	world_next();
	world_create_named("crash", "second");
	world_run(NULL);
	world_next();
	world_op(workflow_rollback, first, NULL, 0);
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	expect_outcome(EVG_OK);
	ck_assert_str_eq(w.states, "rollback-scheduled rollback-scheduled");
	ck_assert_ptr_nonnull(strstr(w.events, "restart-required"));
	world_next();
	world_op(workflow_rollback, "second", VOL_DATA, 0);
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	expect_outcome(EVG_OK);
	ck_assert_str_eq(w.states, "rollback-scheduled");
	ck_assert_ptr_nonnull(strstr(w.events, "rollback-replaced"));
	text = world_catalog_text();
	ck_assert_ptr_nonnull(strstr(text, "\"pending_volumes\""));
	ck_assert_ptr_nonnull(strstr(text, VOL_DATA));
	free(text);
	world_next();
	world_state(VM_STOPPED);
	workflow_vm_state(world_reg_vm());
	world_run_trail("rollback");
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	ck_assert_str_eq(w.trail, "rollback");
	world_teardown();
}
END_TEST

/*
 * A partial group (one member deleted on its own) is rolled back only
 * when its volumes are named: never a part of a group by surprise.
 */
START_TEST(test_group_partial_rollback_named)
{
	char	 group[UUID_STR_LEN + 1], data[UUID_STR_LEN + 1], *cause;

	world_setup();
	world_create("fs");
	world_run(NULL);
	snprintf(group, sizeof group, "%s", w.group);
	world_snap_of(VOL_DATA, data, sizeof data);
	world_state(VM_STOPPED);
	world_next();
	world_op(workflow_delete, data, NULL, 1);
	world_run(NULL);
	expect_outcome(EVG_OK);
	world_next();
	ck_assert_int_eq(world_refused(workflow_rollback, group, NULL, 0,
	    &cause), EVG_FAILED_PRECONDITION);
	ck_assert_ptr_nonnull(strstr(cause, "is partial (1 of its 2 members"));
	free(cause);
	ck_assert_int_eq(world_refused(workflow_rollback, group, VOL_DATA, 0,
	    &cause), EVG_NOT_FOUND);
	free(cause);
	world_op(workflow_rollback, group, VOL_LOGS, 0);
	world_run(NULL);
	expect_outcome(EVG_OK);
	ck_assert_str_eq(w.trail, "rollback");
	world_teardown();
}
END_TEST

/*
 * A scheduled rollback that can no longer be carried out (its volume
 * left by `vm update`) is not dropped in silence: `starting` answers its
 * failure, rollback-failed is sent, and the catalog forgets it.
 */
START_TEST(test_group_pending_unusable)
{
	struct reg_vm	*next;
	char		*cause = NULL, *text;
	int		 waiting = -1;

	world_setup();
	world_schedule_rollback();
	next = reg_vm_dup(world_reg_vm());
	reg_volume_free_one(next, VOL_DATA);
	ck_assert_msg(registry_update(w.reg, world_reg_vm(), next, &cause) ==
	    EVG_OK, "%s", cause);
	world_state(VM_STOPPED);
	ck_assert_int_eq(world_starting(&waiting, &cause), EVG_OK);
	world_run_start();
	ck_assert_int_eq(w.start_code, EVG_FAILED_PRECONDITION);
	ck_assert_ptr_nonnull(strstr(w.start_msg, "the scheduled rollback "
	    "failed, so the VM must not start"));
	ck_assert_ptr_nonnull(strstr(w.events, "rollback-failed"));
	text = world_catalog_text();
	ck_assert_ptr_null(strstr(text, "pending_rollback"));
	free(text);
	world_teardown();
}
END_TEST

/* The VM removed while `starting` waits: UNAVAILABLE, never go ahead. */
START_TEST(test_starting_vm_removed)
{
	char	*cause = NULL;
	int	 waiting = -1;

	world_setup();
	world_schedule_rollback();
	world_state(VM_STOPPED);
	ck_assert_int_eq(world_starting(&waiting, &cause), EVG_OK);
	ck_assert_int_eq(waiting, 1);
	workflow_vm_removed(VM_UUID);
	ck_assert_uint_eq(w.start_calls, 1);
	ck_assert_int_eq(w.start_code, EVG_UNAVAILABLE);
	world_teardown();
}
END_TEST

/* The guest's reference to volume data's disk (serial EVEdata). */
static Evg__DiskRef *
world_data_disk(void)
{
	Evg__DiskRef	*d;

	d = xmalloc(sizeof *d);
	evg__disk_ref__init(d);
	d->device = xstrdup("/dev/vdb");
	d->n_ids = 1;
	d->ids = xcalloc(1, sizeof *d->ids);
	d->ids[0] = xmalloc(sizeof *d->ids[0]);
	evg__disk_id__init(d->ids[0]);
	d->ids[0]->kind = xstrdup("serial");
	d->ids[0]->value = xstrdup("EVEdata");
	return (d);
}

/* The same disk twice, or more than CATALOG_GROUP_MAX disks: refused. */
START_TEST(test_group_disks_refused)
{
	Evg__DiskRef	**d;
	char		**vols = NULL, *cause = NULL;
	size_t		  nvols, i;

	world_setup();
	d = xcalloc(CATALOG_GROUP_MAX + 1, sizeof *d);
	for (i = 0; i <= CATALOG_GROUP_MAX; i++)
		d[i] = world_data_disk();
	ck_assert_int_eq(workflow_match_disks(VM_UUID, d, 1, &vols, &nvols,
	    &cause), EVG_OK);
	ck_assert_uint_eq(nvols, 1);
	ck_assert_str_eq(vols[0], VOL_DATA);
	free(vols[0]);
	free(vols);
	vols = NULL;
	ck_assert_int_eq(workflow_match_disks(VM_UUID, d, 2, &vols, &nvols,
	    &cause), EVG_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(cause, "given twice"));
	ck_assert_ptr_null(vols);
	free(cause);
	ck_assert_int_eq(workflow_match_disks(VM_UUID, d, CATALOG_GROUP_MAX + 1,
	    &vols, &nvols, &cause), EVG_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(cause, "at most 32"));
	free(cause);
	for (i = 0; i <= CATALOG_GROUP_MAX; i++)
		evg__disk_ref__free_unpacked(d[i], NULL);
	free(d);
	world_teardown();
}
END_TEST

Suite *
suite_workflow(void)
{
	Suite	*s = suite_create("workflow");
	TCase	*tc = tcase_create("create");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_create_fs_success);
	tcase_add_test(tc, test_create_app_post_after_good_pre);
	tcase_add_test(tc, test_create_pre_fails_nothing_frozen);
	tcase_add_test(tc, test_create_pre_partly_ran_aborts);
	tcase_add_test(tc, test_create_backend_fails_after_freeze_thaws);
	tcase_add_test(tc, test_create_freeze_refused);
	tcase_add_test(tc, test_create_no_renewal_after_failure);
	tcase_add_test(tc, test_create_lease_lost);
	tcase_add_test(tc, test_create_slow_backend_renews_lease);
	tcase_add_test(tc, test_create_requester_gone);
	tcase_add_test(tc, test_create_guest_gone_while_frozen);
	tcase_add_test(tc, test_create_catalog_write_fails);
	tcase_add_test(tc, test_create_post_fails_snapshot_kept);
	tcase_add_test(tc, test_create_no_guest_refused);
	tcase_add_test(tc, test_match_pcipath);
	tcase_add_test(tc, test_create_thaw_on_every_failure);
	suite_add_tcase(s, tc);

	tc = tcase_create("budget");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_create_budget_rule);
	tcase_add_test(tc, test_create_budget_counts_used);
	tcase_add_test(tc, test_create_free_space_rule);
	tcase_add_test(tc, test_check_budget_rule);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_starting_nothing_pending);
	tcase_add_test(tc, test_starting_applies_scheduled_rollback);
	tcase_add_test(tc, test_starting_rollback_fails);
	tcase_add_test(tc, test_offline_op_holds_images);
	tcase_add_test(tc, test_online_op_not_offline);
	tcase_add_test(tc, test_update_keeps_catalog);
	tcase_add_test(tc, test_rollback_while_starting_scheduled);
	tcase_add_test(tc, test_create_while_starting);
	suite_add_tcase(s, tc);

	tc = tcase_create("group");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_group_create);
	tcase_add_test(tc, test_group_delete);
	tcase_add_test(tc, test_group_delete_fails_midway);
	tcase_add_test(tc, test_group_rollback_stopped);
	tcase_add_test(tc, test_group_rollback_scheduled_replaced);
	tcase_add_test(tc, test_group_disks_refused);
	tcase_add_test(tc, test_group_partial_rollback_named);
	tcase_add_test(tc, test_group_pending_unusable);
	tcase_add_test(tc, test_starting_vm_removed);
	suite_add_tcase(s, tc);
	return (s);
}
