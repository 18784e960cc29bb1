/*
 * Host requests on a guest-channel connection: the freeze state machine
 * of serve.h on top of the freeze engine (freeze.c) and the disk lookup
 * (diskref.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "disk.h"
#include "diskref.h"
#include "diskuse.h"
#include "freeze.h"
#include "frozenrec.h"
#include "guardian.h"
#include "hooks.h"
#include "info.h"
#include "log.h"
#include "memlock.h"
#include "peer.h"
#include "serve.h"
#include "status.h"
#include "xmalloc.h"

#define SERVE_MOUNTINFO	"/proc/self/mountinfo"

enum serve_state {
	SERVE_IDLE,		/* nothing frozen by us */
	SERVE_FROZEN,		/* filesystems frozen; lease armed */
	SERVE_EXPIRED,		/* the lease thawed; the host not told yet */
};

static const char *serve_state_names[] = {
	[SERVE_IDLE] = "idle",
	[SERVE_FROZEN] = "frozen",
	[SERVE_EXPIRED] = "expired",
};

struct serve {
	struct event_base	*base;
	char			*mountinfo;
	int			 disk_release;	/* see serve.h */
	enum serve_state	 state;
	struct freeze_plan	*plan;		/* the last freeze's, or NULL */
	struct freeze_lease	*lease;		/* FROZEN only */
	struct guardian		*guardian;	/* while anything may be frozen */
	struct guardian		*spare;		/* idle, for the next freeze */
	int			 keep_guardian;	/* keep one idle between freezes */
	struct disk		*known;		/* disks resolved by the caller */
	size_t			 nknown;
	struct peer		*owner;		/* FROZEN, EXPIRED: who froze */
	unsigned int		 lease_ms;	/* clamped, of the last arm */
	struct timespec		 armed;		/* last start or renew */
	unsigned int		 ran_ms;	/* EXPIRED: how long it ran */
	char			*hooks_dir;	/* NULL: this side runs none */
	struct hooks_run	*hooks;		/* a phase running, or NULL */
	struct peer		*hooks_peer;	/* who asked for it */
	uint64_t		 hooks_id;
};

/* The target disks of a freeze, for the plan's predicate. */
struct serve_targets {
	struct disk	*disks;
	size_t		 n;
};

/* A FreezeReport and the storage behind it. */
struct serve_report {
	Evg__FreezeReport	  fr;
	Evg__MountReport	 *mounts;
	Evg__MountReport	**ptrs;
};

/* The monotonic clock now. */
static struct timespec
serve_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts);
}

/* Milliseconds from a to b, never negative. */
static unsigned int
serve_ms_between(const struct timespec *a, const struct timespec *b)
{
	long long	ms;

	ms = ((long long)(b->tv_sec - a->tv_sec) * 1000000000 +
	    (b->tv_nsec - a->tv_nsec)) / 1000000;
	return (ms < 0 ? 0 : (unsigned int)ms);
}

/* Enter state st. */
static void
serve_set_state(struct serve *s, enum serve_state st)
{
	log_debug("%s: %s -> %s", __func__, serve_state_names[s->state],
	    serve_state_names[st]);
	s->state = st;
}

/* A request's lease: the default for 0, else clamped. */
static unsigned int
serve_lease_ms(unsigned int ms)
{
	return (freeze_lease_clamp(ms == 0 ? SERVE_LEASE_DEFAULT_MS : ms));
}

/* Time before the lease thaws by itself; 0 unless FROZEN. */
static unsigned int
serve_lease_left(const struct serve *s)
{
	struct timespec	now = serve_now();
	unsigned int	ran;

	if (s->state != SERVE_FROZEN)
		return (0);
	ran = serve_ms_between(&s->armed, &now);
	return (ran >= s->lease_ms ? 0 : s->lease_ms - ran);
}

/* Create a serve; see serve.h. */
struct serve *
serve_create(struct event_base *base, const char *mountinfo)
{
	struct serve	*s;

	s = xcalloc(1, sizeof *s);
	s->base = base;
	s->mountinfo = xstrdup(mountinfo != NULL ? mountinfo :
	    SERVE_MOUNTINFO);
	s->state = SERVE_IDLE;
	return (s);
}

/* Filesystems frozen now. */
unsigned int
serve_frozen(const struct serve *s)
{
	if (s->plan == NULL)
		return (0);
	return ((unsigned int)freeze_plan_frozen_count(s->plan));
}

/*
 * The freeze is over as far as this process can tell: release the
 * guardian when nothing is frozen, else hand it over (it thaws and
 * retries until that works, even after this process is gone).
 */
static void
serve_guardian_done(struct serve *s)
{
	if (s->guardian == NULL)
		return;
	if (serve_frozen(s) == 0) {
		/* Idle again, it serves the next freeze. */
		if (s->keep_guardian && s->spare == NULL &&
		    guardian_idle(s->guardian) == 0)
			s->spare = s->guardian;
		else
			guardian_release(s->guardian);
	} else {
		log_warnx("%s: %u filesystems still frozen; the freeze guardian "
		    "(pid %ld) thaws them", __func__, serve_frozen(s),
		    guardian_pid(s->guardian));
		guardian_handover(s->guardian);
	}
	s->guardian = NULL;
}

/* The state part of serve_idle: no file touched. */
static void
serve_idle_state(struct serve *s)
{
	freeze_lease_stop(s->lease);
	s->lease = NULL;
	s->owner = NULL;
	serve_set_state(s, SERVE_IDLE);
}

/* FROZEN or EXPIRED -> IDLE: disarm the lease and forget the owner. */
static void
serve_idle(struct serve *s)
{
	if (serve_frozen(s) == 0)
		frozenrec_clear();
	serve_idle_state(s);
}

/*
 * Thaw what is frozen.  Returns the number thawed, or -1 with *cause when
 * some stay frozen (the log hold then stays too).
 */
static int
serve_thaw(struct serve *s, char **cause)
{
	unsigned int	before = serve_frozen(s);

	if (before == 0) {
		serve_guardian_done(s);
		return (0);
	}
	if (freeze_thaw(s->plan, cause) == -1) {
		serve_guardian_done(s);
		return (-1);
	}
	frozenrec_clear();
	serve_guardian_done(s);
	return ((int)before);
}

/* Thaw whatever is frozen and free. */
void
serve_free(struct serve *s)
{
	char	*cause = NULL;
	int	 n;

	if (s == NULL)
		return;
	if ((n = serve_thaw(s, &cause)) == -1) {
		log_warnx("%s: %s", __func__, cause);
		free(cause);
	} else if (n > 0)
		log_warnx("%s: thawed %d filesystems still frozen", __func__,
		    n);
	if (s->hooks != NULL)
		hooks_run_cancel(s->hooks);
	guardian_release(s->spare);
	freeze_lease_stop(s->lease);
	freeze_plan_free(s->plan);
	/* Removed unless it lists a freeze that outlives this process. */
	frozenrec_close();
	free(s->known);
	free(s->hooks_dir);
	free(s->mountinfo);
	free(s);
}

/* What a mount report says an entry's freeze did, and why. */
static void
serve_report_mount(const struct freeze_entry *e, Evg__MountReport *m)
{
	const struct timespec	*at = freeze_entry_frozen_at(e);

	evg__mount_report__init(m);
	m->mountpoint = (char *)freeze_entry_mountpoint(e);
	m->fstype = (char *)freeze_entry_fstype(e);
	m->device = (char *)freeze_entry_device(e);
	if (freeze_entry_frozen(e) || at->tv_sec != 0 || at->tv_nsec != 0) {
		m->action = (char *)"frozen";
		return;
	}
	m->action = (char *)"skipped";
	if (freeze_entry_reason(e) != NULL)
		m->reason = (char *)freeze_entry_reason(e);
	else
		m->reason = (char *)"not frozen: the freeze failed";
}

/* Fill r from the current state; strings are borrowed from the plan. */
static void
serve_report_fill(const struct serve *s, struct serve_report *r)
{
	size_t	i, n;

	memset(r, 0, sizeof *r);
	evg__freeze_report__init(&r->fr);
	r->fr.frozen_count = serve_frozen(s);
	r->fr.frozen = r->fr.frozen_count != 0;
	r->fr.lease_left_ms = serve_lease_left(s);
	if (s->plan == NULL)
		return;
	r->fr.duration_ms = freeze_plan_duration_ms(s->plan);
	n = freeze_plan_count(s->plan);
	r->mounts = xcalloc(n, sizeof *r->mounts);
	r->ptrs = xcalloc(n, sizeof *r->ptrs);
	for (i = 0; i < n; i++) {
		serve_report_mount(freeze_plan_entry(s->plan, i),
		    &r->mounts[i]);
		r->ptrs[i] = &r->mounts[i];
	}
	r->fr.n_mounts = n;
	r->fr.mounts = r->ptrs;
}

/* Free what serve_report_fill() allocated. */
static void
serve_report_clear(struct serve_report *r)
{
	free(r->mounts);
	free(r->ptrs);
}

/*
 * Queue the reply to request id with a FreezeReport of the current state.
 * A report too big for a frame goes without its mount list rather than
 * leaving the request unanswered.
 */
static void
serve_reply(struct serve *s, struct peer *p, uint64_t id, unsigned int code,
    const char *msg)
{
	struct codec_reply	cr;
	struct serve_report	r;

	serve_report_fill(s, &r);
	codec_reply_init(&cr, id, peer_version(p), code, msg);
	cr.reply.result_case = EVG__REPLY__RESULT_FREEZE_REPORT;
	cr.reply.freeze_report = &r.fr;
	if (peer_send(p, &cr.env) == -1 && !peer_closing(p)) {
		r.fr.n_mounts = 0;
		peer_send(p, &cr.env);
	}
	serve_report_clear(&r);
}

/* Why the host's renew or thaw comes too late. */
static void
serve_expired_message(const struct serve *s, char *buf, size_t len)
{
	snprintf(buf, len, "the lease ran out after %u ms; filesystems were "
	    "thawed", s->ran_ms);
}

/*
 * FROZEN -> EXPIRED: the freeze engine has thawed (or tried to); the host
 * hears of it at its next renew or thaw.
 */
static void
serve_lease_expired(struct freeze_lease *lease, struct freeze_plan *plan,
    const char *cause, void *arg)
{
	struct serve	*s = arg;
	struct timespec	 now = serve_now();

	(void)plan;
	s->ran_ms = serve_ms_between(&s->armed, &now);
	freeze_lease_stop(lease);
	s->lease = NULL;
	serve_set_state(s, SERVE_EXPIRED);
	if (cause != NULL)
		log_warnx("%s: some filesystems are still frozen: %s",
		    __func__, cause);
	else if (serve_frozen(s) == 0)
		frozenrec_clear();
	serve_guardian_done(s);
}

/*
 * FROZEN -> EXPIRED before the lease timer ran: the deadline has passed
 * (the timer is queued behind this request), or the guardian is gone (it
 * thawed on its deadline).  The snapshot can no longer be consistent:
 * thaw what is left and go EXPIRED, as the timer would.  Returns 1 if so.
 */
static int
serve_overdue(struct serve *s)
{
	char	*cause = NULL;

	if (s->state != SERVE_FROZEN ||
	    (serve_lease_left(s) > 0 && s->guardian != NULL))
		return (0);
	log_warnx("%s: the lease ran out (or its guardian thawed) before "
	    "this request", __func__);
	if (freeze_thaw(s->plan, &cause) == -1) {
		serve_lease_expired(s->lease, s->plan, cause, s);
		free(cause);
	} else
		serve_lease_expired(s->lease, s->plan, NULL, s);
	return (1);
}

/* Plan predicate: is maj:min on one of the target disks? */
static int
serve_holds(unsigned int maj, unsigned int min, void *arg)
{
	const struct serve_targets	*t = arg;

	return (disk_holds_dev(t->disks, t->n, maj, min));
}

/* Add the disks of one reference to the targets, without duplicates. */
static void
serve_add_targets(struct serve_targets *t, const struct disk *d, size_t n)
{
	size_t	i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < t->n; j++) {
			if (t->disks[j].maj == d[i].maj &&
			    t->disks[j].min == d[i].min)
				break;
		}
		if (j != t->n)
			continue;
		t->disks = xreallocarray(t->disks, t->n + 1, sizeof *t->disks);
		t->disks[t->n++] = d[i];
	}
}

/*
 * Resolve every reference of a freeze request into t.  Returns EVG_OK, or
 * a status code with *cause.
 */
static int
serve_resolve(const struct serve *s, const Evg__FreezeRequest *req,
    struct serve_targets *t, char **cause)
{
	struct disk	*d;
	size_t		 i, n;
	int		 code;

	if (req->n_disks == 0) {
		*cause = xstrdup("the freeze request names no disk");
		return (EVG_INVALID_ARGUMENT);
	}
	for (i = 0; i < req->n_disks; i++) {
		code = diskref_resolve_known(req->disks[i], s->known,
		    s->nknown, &d, &n, cause);
		if (code != EVG_OK)
			return (code);
		serve_add_targets(t, d, n);
		disk_free(d, n);
	}
	return (EVG_OK);
}

/*
 * A guardian holding plan's descriptors: the idle one kept from the last
 * freeze if it is still there, else a new one.  NULL with *cause if none
 * could be had.
 */
static struct guardian *
serve_guardian_take(struct serve *s, const struct freeze_plan *plan,
    char **cause)
{
	struct guardian	*g;

	if ((g = s->spare) != NULL) {
		s->spare = NULL;
		if (guardian_hold(g, plan, cause) == 0)
			return (g);
		log_info("%s: %s; starting another", __func__, *cause);
		free(*cause);
		*cause = NULL;
		guardian_release(g);
	}
	return (guardian_start(plan, cause));
}

/*
 * freeze: IDLE or EXPIRED -> FROZEN (or IDLE when there is nothing to
 * freeze); BUSY while FROZEN.
 */
static void
serve_freeze(struct serve *s, struct peer *p, const Evg__Envelope *env)
{
	const Evg__FreezeRequest	*req = env->freeze;
	struct serve_targets		 t = { NULL, 0 };
	struct freeze_plan		*plan;
	char				*cause = NULL, msg[160];
	unsigned int			 ms;
	int				 code;

	if (s->state == SERVE_FROZEN) {
		snprintf(msg, sizeof msg, "%u filesystems are already frozen "
		    "for another snapshot", serve_frozen(s));
		peer_reply(p, env->id, EVG_BUSY, msg);
		return;
	}
	/*
	 * Nothing touched while frozen may wait on paging: a process that
	 * did not lock its memory at start (a `snapshot create`) does now.
	 */
	if (memlock_process(MEMLOCK_ALL) == -1)
		log_debug("%s: mlockall: %s", __func__, strerror(errno));
	if ((code = serve_resolve(s, req, &t, &cause)) != EVG_OK) {
		log_info("%s: %s", __func__, cause);
		peer_reply(p, env->id, (unsigned int)code, cause);
		goto out;
	}
	if (freeze_plan(s->mountinfo, serve_holds, &t, &plan, &cause) == -1) {
		peer_reply(p, env->id, EVG_FREEZE_FAILED, cause);
		goto out;
	}

	/* A new freeze: the last one is over, whatever became of it. */
	serve_idle(s);
	serve_guardian_done(s);
	freeze_plan_free(s->plan);
	s->plan = plan;
	ms = serve_lease_ms(req->lease_ms);
	/* Open and sync what will be frozen, before the frozen window. */
	if (freeze_prepare(plan, &cause) == -1) {
		serve_reply(s, p, env->id, EVG_FREEZE_FAILED, cause);
		goto out;
	}
	/* No freeze without a guardian: it thaws if this process dies. */
	if ((s->guardian = serve_guardian_take(s, plan, &cause)) == NULL) {
		serve_reply(s, p, env->id, EVG_FREEZE_FAILED, cause);
		goto out;
	}
	/* Written before freezing: /run could never block, but be sure. */
	frozenrec_write(plan);
	if (freeze_apply(plan, &cause) == -1) {
		frozenrec_clear();
		serve_guardian_done(s);
		serve_reply(s, p, env->id, EVG_FREEZE_FAILED, cause);
		goto out;
	}
	if (serve_frozen(s) == 0) {
		frozenrec_clear();
		serve_guardian_done(s);
		log_info("%s: no filesystem on the %zu disks can be frozen "
		    "(%zu mounts)", __func__, t.n, freeze_plan_count(plan));
		serve_reply(s, p, env->id, EVG_OK, "");
		goto out;
	}
	if (guardian_renew(s->guardian, ms) == -1) {
		/* Never frozen without a guardian. */
		serve_guardian_done(s);
		freeze_thaw(plan, &cause);
		frozenrec_clear();
		serve_reply(s, p, env->id, EVG_FREEZE_FAILED, "the freeze "
		    "guardian went away; nothing stays frozen");
		goto out;
	}
	s->lease = freeze_lease_start(s->base, plan, ms, serve_lease_expired,
	    s);
	s->lease_ms = ms;
	s->armed = serve_now();
	s->owner = p;
	serve_set_state(s, SERVE_FROZEN);
	/* The answer first: the host snapshots while this logs. */
	serve_reply(s, p, env->id, EVG_OK, "");
	log_info("%s: froze %u filesystems for %s; lease %u ms", __func__,
	    serve_frozen(s), peer_name(p), ms);
out:
	free(cause);
	free(t.disks);
}

/*
 * freeze_renew: push the deadline out while FROZEN; FAILED_PRECONDITION
 * (once, then IDLE) after the lease ran out; nothing to renew when IDLE.
 */
static void
serve_renew(struct serve *s, struct peer *p, const Evg__Envelope *env)
{
	char		msg[128];
	unsigned int	ms;

	serve_overdue(s);
	switch (s->state) {
	case SERVE_FROZEN:
		ms = serve_lease_ms(env->freeze_renew->lease_ms);
		if (freeze_lease_renew(s->lease, ms) == -1)
			fatalx("%s: lease expired while frozen", __func__);
		if (guardian_renew(s->guardian, ms) == -1) {
			/* It thawed, or is about to: no renewal. */
			guardian_handover(s->guardian);
			s->guardian = NULL;
			serve_overdue(s);
			serve_expired_message(s, msg, sizeof msg);
			serve_idle(s);
			serve_reply(s, p, env->id, EVG_FAILED_PRECONDITION, msg);
			break;
		}
		s->lease_ms = ms;
		s->armed = serve_now();
		log_debug("%s: lease renewed for %u ms", __func__, ms);
		serve_reply(s, p, env->id, EVG_OK, "");
		break;
	case SERVE_EXPIRED:
		serve_expired_message(s, msg, sizeof msg);
		serve_idle(s);
		serve_reply(s, p, env->id, EVG_FAILED_PRECONDITION, msg);
		break;
	case SERVE_IDLE:
		serve_reply(s, p, env->id, EVG_OK, "");
		break;
	}
}

/*
 * thaw: FROZEN -> IDLE (FREEZE_FAILED, staying FROZEN, if a filesystem
 * would not thaw); EXPIRED -> IDLE with FAILED_PRECONDITION; IDLE: OK.
 */
static void
serve_thaw_request(struct serve *s, struct peer *p, const Evg__Envelope *env)
{
	char	*cause = NULL, msg[128];

	serve_overdue(s);
	switch (s->state) {
	case SERVE_FROZEN:
		if (serve_frozen(s) > 0 && freeze_thaw(s->plan, &cause) == -1) {
			serve_guardian_done(s);
			serve_reply(s, p, env->id, EVG_FREEZE_FAILED, cause);
			free(cause);
			return;
		}
		/*
		 * The host's freeze window ends with this reply: the frozen
		 * record and the guardian are seen to after it (a crash in
		 * between leaves a record of filesystems no longer frozen,
		 * which the next start clears; the guardian thaws nothing).
		 */
		serve_idle_state(s);
		serve_reply(s, p, env->id, EVG_OK, "");
		frozenrec_clear();
		serve_guardian_done(s);
		break;
	case SERVE_EXPIRED:
		/* The lease's own thaw may have left some frozen. */
		if (serve_thaw(s, &cause) == -1) {
			serve_reply(s, p, env->id, EVG_FREEZE_FAILED, cause);
			free(cause);
			return;
		}
		serve_expired_message(s, msg, sizeof msg);
		serve_idle(s);
		serve_reply(s, p, env->id, EVG_FAILED_PRECONDITION, msg);
		break;
	case SERVE_IDLE:
		serve_reply(s, p, env->id, EVG_OK, "");
		break;
	}
}

/*
 * The host is about to unplug these disks (an online rollback): OK when
 * nothing here uses them, after flushing them; else what uses one.
 */
static void
serve_disk_release(struct peer *p, const Evg__Envelope *env)
{
	const Evg__DiskReleaseRequest	*rr = env->disk_release;
	struct disk			*disks;
	char				*why = NULL;
	size_t				 i, n;
	int				 code = EVG_OK;

	for (i = 0; i < rr->n_disks && code == EVG_OK; i++) {
		if ((code = diskref_resolve(rr->disks[i], &disks, &n, &why)) !=
		    EVG_OK)
			break;
		if (diskuse_check(disks, n, disks[0].devpath, &why) == -1)
			code = EVG_FAILED_PRECONDITION;
		else
			diskuse_flush(disks[0].devpath, disks, n);
		disk_free(disks, n);
	}
	if (rr->n_disks == 0) {
		code = EVG_INVALID_ARGUMENT;
		why = xstrdup("no disk named");
	}
	log_info("%s: %s", __func__, code == EVG_OK ? "the disks are free, "
	    "flushed" : why);
	peer_reply(p, env->id, (unsigned)code, why != NULL ? why : "");
	free(why);
}

/* Answer disk release requests; see serve.h. */
void
serve_allow_disk_release(struct serve *s)
{
	s->disk_release = 1;
}

/* Keep a guardian ready between freezes (the daemon's serve). */
void
serve_keep_guardian(struct serve *s)
{
	char	*cause = NULL;

	s->keep_guardian = 1;
	if (s->spare != NULL)
		return;
	if ((s->spare = guardian_spawn(&cause)) == NULL) {
		/* The first freeze starts one, or says why it cannot. */
		log_warnx("%s: %s", __func__, cause);
		free(cause);
	}
}

/* Disks the caller resolved; see serve.h. */
void
serve_set_disks(struct serve *s, const struct disk *disks, size_t n)
{
	free(s->known);
	s->known = NULL;
	s->nknown = 0;
	if (n == 0)
		return;
	s->known = xreallocarray(NULL, n, sizeof *s->known);
	memcpy(s->known, disks, n * sizeof *s->known);
	s->nknown = n;
}

/* Run hooks of this directory for the host (the daemon's serve only). */
void
serve_set_hooks_dir(struct serve *s, const char *dir)
{
	free(s->hooks_dir);
	s->hooks_dir = dir != NULL ? xstrdup(dir) : NULL;
}

/* A hook phase finished: report every hook to the host. */
static void
serve_hook_done(const struct hooks_result *r, void *arg)
{
	struct serve		*s = arg;
	struct codec_reply	 rep;
	Evg__HookReport		 hr = EVG__HOOK_REPORT__INIT;
	Evg__HookResult		*res, **ptrs;
	char			**outs;
	size_t			 i;

	s->hooks = NULL;
	res = xcalloc(r->nhooks, sizeof *res);
	ptrs = xcalloc(r->nhooks, sizeof *ptrs);
	outs = xcalloc(r->nhooks, sizeof *outs);
	for (i = 0; i < r->nhooks; i++) {
		evg__hook_result__init(&res[i]);
		res[i].path = r->hooks[i].path;
		res[i].status = (char *)hooks_status_name(r->hooks[i].status);
		res[i].exit_code = r->hooks[i].exit_code;
		outs[i] = xstrndup(r->hooks[i].output != NULL ?
		    r->hooks[i].output : "", r->hooks[i].output_len);
		res[i].output = outs[i];
		res[i].reason = r->hooks[i].reason != NULL ?
		    r->hooks[i].reason : (char *)"";
		res[i].elapsed_ms = r->hooks[i].elapsed_ms;
		ptrs[i] = &res[i];
	}
	hr.ok = r->ok;
	hr.results = ptrs;
	hr.n_results = r->nhooks;
	if (s->hooks_peer != NULL) {
		codec_reply_init(&rep, s->hooks_id, peer_version(s->hooks_peer),
		    EVG_OK, "");
		rep.reply.result_case = EVG__REPLY__RESULT_HOOK_REPORT;
		rep.reply.hook_report = &hr;
		if (peer_send(s->hooks_peer, &rep.env) != 0)
			peer_reply(s->hooks_peer, s->hooks_id, EVG_INTERNAL,
			    "the hooks' report does not fit in one frame");
	}
	s->hooks_peer = NULL;
	for (i = 0; i < r->nhooks; i++)
		free(outs[i]);
	free(outs);
	free(ptrs);
	free(res);
}

/* The host asks for a hook phase; answered when it has run. */
static void
serve_hook(struct serve *s, struct peer *p, const Evg__Envelope *env)
{
	const Evg__HookRequest	*hr = env->hook;
	struct hooks_params	 hp;
	const char		*disks[HOOKS_MAX_DISKS];
	char			 paths[HOOKS_MAX_DISKS][128];
	char			*cause;
	size_t			 i, n = 0;

	if (s->hooks_dir == NULL) {
		peer_reply(p, env->id, EVG_UNSUPPORTED, "hooks run in the "
		    "guest agent daemon, not in a command");
		return;
	}
	if (s->hooks != NULL) {
		peer_reply(p, env->id, EVG_BUSY, "a hook phase is already "
		    "running");
		return;
	}
	memset(&hp, 0, sizeof hp);
	hp.dir = s->hooks_dir;
	if (strcmp(hr->phase, "pre") == 0)
		hp.phase = HOOKS_PHASE_PRE;
	else if (strcmp(hr->phase, "post") == 0)
		hp.phase = HOOKS_PHASE_POST;
	else if (strcmp(hr->phase, "abort") == 0)
		hp.phase = HOOKS_PHASE_ABORT;
	else {
		peer_reply(p, env->id, EVG_INVALID_ARGUMENT, "phase: expected "
		    "pre, post or abort");
		return;
	}
	hp.operation = strcmp(hr->operation, "rollback") == 0 ?
	    HOOKS_OP_ROLLBACK : HOOKS_OP_CREATE;
	hp.name = hr->snapshot_name;
	hp.uuid = hr->snapshot_uuid;
	for (i = 0; i < hr->n_disks && n < HOOKS_MAX_DISKS; i++) {
		if (diskref_find(hr->disks[i]->ids, hr->disks[i]->n_ids,
		    paths[n], sizeof paths[n]) != NULL)
			disks[n] = paths[n];
		else if (*hr->disks[i]->device != '\0')
			disks[n] = hr->disks[i]->device;
		else
			continue;
		n++;
	}
	hp.disks = disks;
	hp.ndisks = n;
	hp.timeout_ms = hooks_timeout_clamp(hr->timeout_ms != 0 ?
	    hr->timeout_ms : HOOKS_TIMEOUT_DEFAULT_MS);
	s->hooks = hooks_run_start(s->base, &hp, serve_hook_done, s, &cause);
	if (s->hooks == NULL) {
		peer_reply(p, env->id, EVG_INVALID_ARGUMENT, cause);
		free(cause);
		return;
	}
	s->hooks_peer = p;
	s->hooks_id = env->id;
}

/* The host asks for the guest's facts. */
static void
serve_info(struct peer *p, const Evg__Envelope *env)
{
	struct guest_info	*gi;
	struct codec_reply	 rep;
	Evg__GuestInfo		*m;
	char			*cause;

	if (info_collect(&gi, &cause) != 0) {
		peer_reply(p, env->id, EVG_INTERNAL, cause);
		free(cause);
		return;
	}
	m = info_to_proto(gi);
	codec_reply_init(&rep, env->id, peer_version(p), EVG_OK, "");
	rep.reply.result_case = EVG__REPLY__RESULT_GUEST_INFO;
	rep.reply.guest_info = m;
	if (peer_send(p, &rep.env) != 0)
		peer_reply(p, env->id, EVG_INTERNAL, "the guest's facts do not "
		    "fit in one frame");
	info_proto_free(m);
	info_free(gi);
}

/* Answer one message from the host; see serve.h. */
int
serve_dispatch(struct serve *s, struct peer *p, const Evg__Envelope *env)
{
	char	msg[128];

	switch (env->body_case) {
	case EVG__ENVELOPE__BODY_REPLY:
	case EVG__ENVELOPE__BODY_EVENT:
		return (0);
	case EVG__ENVELOPE__BODY_PING:
		peer_reply(p, env->id, EVG_OK, "");
		break;
	case EVG__ENVELOPE__BODY_FREEZE:
		serve_freeze(s, p, env);
		break;
	case EVG__ENVELOPE__BODY_FREEZE_RENEW:
		serve_renew(s, p, env);
		break;
	case EVG__ENVELOPE__BODY_THAW:
		serve_thaw_request(s, p, env);
		break;
	case EVG__ENVELOPE__BODY_FREEZE_STATUS:
		serve_reply(s, p, env->id, EVG_OK, "");
		break;
	case EVG__ENVELOPE__BODY_HOOK:
		serve_hook(s, p, env);
		break;
	case EVG__ENVELOPE__BODY_GUEST_INFO:
		serve_info(p, env);
		break;
	case EVG__ENVELOPE__BODY_DISK_RELEASE:
		if (!s->disk_release)
			peer_reply(p, env->id, EVG_UNSUPPORTED, "disks are "
			    "released by the guest agent daemon, not by a "
			    "command");
		else
			serve_disk_release(p, env);
		break;
	default:
		log_info("%s: unsupported %s request from %s", __func__,
		    codec_body_name(env), peer_name(p));
		snprintf(msg, sizeof msg, "the guest agent does not handle "
		    "'%s' requests", codec_body_name(env));
		peer_reply(p, env->id, EVG_UNSUPPORTED, msg);
		break;
	}
	return (1);
}

/* Thaw what p froze, saying why; see serve.h. */
void
serve_release(struct serve *s, struct peer *p, const char *why)
{
	char	*cause = NULL;
	int	 n;

	if (s->owner != p || s->state == SERVE_IDLE)
		return;
	if ((n = serve_thaw(s, &cause)) == -1) {
		/* The lease, if still armed, tries again when it runs out. */
		log_warnx("%s while frozen: %s", why, cause);
		free(cause);
		s->owner = NULL;
		return;
	}
	serve_idle(s);
	if (n > 0)
		log_warnx("%s while frozen: thawed %d filesystems", why, n);
}

/* The connection p is going away; see serve.h. */
void
serve_lost(struct serve *s, struct peer *p)
{
	if (s->hooks != NULL && s->hooks_peer == p) {
		log_warnx("%s: host connection lost while hooks ran; stopping "
		    "them", __func__);
		hooks_run_cancel(s->hooks);
		s->hooks = NULL;
		s->hooks_peer = NULL;
	}
	serve_release(s, p, "host connection lost");
}
