/*
 * The create workflow:
 *
 *   SPACE (each volume) -> [PRE hooks] -> [freeze: wf_freeze.c] ->
 *   INTENT + BACKEND (each volume) -> [thaw: wf_freeze.c] -> [POST hooks]
 *   -> COMMIT -> DONE
 *   any failure after INTENT -> [THAW] -> [abort hooks] -> CLEANUP
 *   (delete what the backend made, drop the intents) -> DONE
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomicfile.h"
#include "events.h"
#include "jsonout.h"
#include "log.h"
#include "status.h"
#include "text.h"
#include "workflow_impl.h"
#include "xmalloc.h"

/*
 * Test hook (docs/snapshots.md): with EVG_TEST_KILL_POINT set to
 * "after-backend-create" the daemon kills itself with SIGKILL right after a
 * backend created a snapshot and before the catalog records it, to prove
 * that reconciliation lists it exactly once after a restart.
 */
#define WF_KILL_ENV	"EVG_TEST_KILL_POINT"

static void	wf_post_reply(const Evg__Envelope *, const char *, void *);
static void	wf_create_prepare(struct workflow *);
static void	wf_prepared(void *);
static void	wf_commit_all(struct workflow *);
static void	wf_pre_reply(const Evg__Envelope *, const char *, void *);
static void	wf_space_done(const struct backend_result *, void *);
static void	wf_snap_done(const struct backend_result *, void *);
static void	wf_cleanup_done(const struct backend_result *, void *);
static void	wf_cleanup_next(struct workflow *);
static void	wf_fail_post(const Evg__Envelope *, const char *, void *);
static char	*wf_default_name(struct workflow *);
static int	wf_create_volumes(const struct workflow_params *,
	    const struct reg_vm *, char ***, size_t *, char **);
static void	wf_free_vols(char **, size_t);
static int	wf_idempotent(const struct workflow_params *, workflow_done_cb,
	    void *, char **, int *);

/* create/PRE done: freeze, or stop here with nothing frozen. */
static void
wf_pre_reply(const Evg__Envelope *env, const char *why, void *arg)
{
	struct workflow	*wf = arg;
	char		*msg;
	int		 code;

	if (!wf_hook_outcome(env, why, &code, &msg)) {
		wf_event(wf, "pre-finished", code, "%s", msg);
		/* What the hooks that did succeed set up must be undone. */
		wf->cr.pre_ok = wf_hooks_any_ok(env);
		wf_fail(wf, EVG_HOOK_FAILED, "pre hook failed, nothing was "
		    "frozen: %s", msg);
		free(msg);
		return;
	}
	wf_event(wf, "pre-finished", 0, "pre hooks finished");
	wf->cr.pre_ok = 1;
	wf_create_prepare(wf);
}

/* create/POST done: the snapshot stands either way. */
static void
wf_post_reply(const Evg__Envelope *env, const char *why, void *arg)
{
	struct workflow	*wf = arg;
	char		*msg;
	int		 code;

	wf->cr.post_done = 1;
	if (!wf_hook_outcome(env, why, &code, &msg)) {
		wf_event(wf, "post-finished", code, "%s", msg);
		wf->cr.post_failed = msg;
	} else
		wf_event(wf, "post-finished", 0, "post hooks finished");
	wf_commit_all(wf);
}

/* Bytes the VM's snapshots hold now, as the catalog knows them. */
static uint64_t
wf_snapshots_used(const struct catalog *cat)
{
	const struct cat_snap	*cs;
	uint64_t		 used = 0;

	TAILQ_FOREACH(cs, &cat->snaps, entry)
		if (cs->state != SNAP_MISSING)
			used += cs->size;
	return (used);
}

/* End a check or create at SPACE with NO_SPACE and a message. */
static void __attribute__((format(printf, 2, 3)))
wf_space_fail(struct workflow *wf, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	if (wf->kind == WF_CHECK)
		wf_check_finish(wf, EVG_NO_SPACE, "%s", msg);
	else
		wf_finish(wf, EVG_NO_SPACE, "%s", msg);
	free(msg);
}

/*
 * create/SPACE done for volume i (check: remember the tightest).  Two
 * rules: the free-space rule (free >= need + space_reserve on the volume's
 * storage) and the VM's snapshot budget (used + everything this snapshot
 * may need <= budget), so growth never eats space EVE already promised.
 */
static void
wf_space_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);
	const struct reg_volume *vol = wf_volume(vm, wf->vols[wf->i]);
	char		 f[32], n[32], res[32], u[32], b[32];
	uint64_t	 used;

	wf->op = NULL;
	if (r->code != EVG_OK) {
		if (wf->kind == WF_CHECK)
			wf_check_finish(wf, r->code, "%s", r->message);
		else
			wf_finish(wf, r->code, "%s", r->message);
		return;
	}
	/* A check reports the volume with the least room to spare. */
	if (wf->i == 0 || (int64_t)(r->free_bytes - r->need_bytes) <
	    (int64_t)(wf->free_bytes - wf->need_bytes)) {
		wf->free_bytes = r->free_bytes;
		wf->need_bytes = r->need_bytes;
	}
	if (r->free_bytes < r->need_bytes + wf_g.cf->space_reserve) {
		jsonout_size(f, sizeof f, r->free_bytes);
		jsonout_size(n, sizeof n, r->need_bytes);
		jsonout_size(res, sizeof res, wf_g.cf->space_reserve);
		wf->free_bytes = r->free_bytes;
		wf->need_bytes = r->need_bytes;
		wf_space_fail(wf, "not enough free space on EVE storage (free-"
		    "space rule): %s free, snapshot of volume '%s' may need up "
		    "to %s (plus a %s reserve)", f, vol->name, n, res);
		return;
	}
	if (wf->i == 0)
		wf->budget_need = 0;
	wf->budget_need += r->need_bytes;
	used = wf_snapshots_used(wf->wv->cat);
	if (vm->snapshot_budget != 0 &&
	    used + wf->budget_need > vm->snapshot_budget) {
		jsonout_size(u, sizeof u, used);
		jsonout_size(n, sizeof n, wf->budget_need);
		jsonout_size(b, sizeof b, vm->snapshot_budget);
		wf_space_fail(wf, "snapshot budget of VM %s exceeded (budget "
		    "rule): its snapshots hold %s and this one may need up to "
		    "%s (up to volume '%s'), over its budget of %s; delete "
		    "snapshots or ask for a larger budget", vm->name, u, n,
		    vol->name, b);
		return;
	}
	wf->i++;
	wf_space_next(wf);
}

/* create/SPACE: check the next volume, or move on. */
void
wf_space_next(struct workflow *wf)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);

	if (wf->i == wf->nvols) {
		if (wf->kind == WF_CHECK) {
			wf_check_finish(wf, EVG_OK, NULL);
			return;
		}
		wf->i = 0;
		if (wf->guest != 0 && wf->cr.app) {
			wf->cr.state = CREATE_PRE;
			if (wf_hook(wf, "pre", wf_pre_reply) != 0)
				wf_fail(wf, EVG_UNAVAILABLE, "the guest agent "
				    "went away before the pre hooks");
		} else
			wf_create_prepare(wf);
		return;
	}
	if (wf->kind == WF_CHECK)
		wf->ck.state = CHECK_SPACE;
	else
		wf->cr.state = CREATE_SPACE;
	wf_backend(wf, BACKEND_SPACE, wf_volume(vm, wf->vols[wf->i]), NULL,
	    wf_space_done);
}

/*
 * The freeze's consistency record on entry cs: the level the freeze
 * achieved (the intent, written before it, says what was asked, or crash
 * for a guest's create) and the mounts, frozen or skipped.
 */
static void
wf_record(struct workflow *wf, struct cat_snap *cs)
{
	const struct cat_snap	*r = wf->cr.fz.record;
	size_t			 j;

	if (wf->cr.consistency != NULL) {
		free(cs->consistency);
		cs->consistency = xstrdup(wf->cr.consistency);
	}
	for (j = 0; r != NULL && j < r->nmounts; j++)
		catalog_add_mount(cs, r->mounts[j].mountpoint,
		    r->mounts[j].fstype, r->mounts[j].device,
		    r->mounts[j].action, r->mounts[j].reason);
}

/* COMMIT: every snapshot is made and the guest thawed: record them. */
static void
wf_commit_all(struct workflow *wf)
{
	struct cat_snap	*cs;
	size_t		 i;

	for (i = 0; i < wf->cr.ndone; i++) {
		if ((cs = catalog_find(wf->wv->cat, wf->cr.done[i])) == NULL)
			continue;
		cs->state = SNAP_READY;
		wf_record(wf, cs);
		cs->freeze_ms = wf->cr.fz.freeze_ms;
		if (wf->cr.idem_key != NULL)
			cs->idem_key = xstrdup(wf->cr.idem_key);
		log_info("vm %s: snapshot '%s' (%s) of volume %s created, %s",
		    wf->wv->uuid, cs->name, cs->uuid, cs->volume,
		    cs->consistency);
	}
	if (wf_commit(wf) != 0)
		return;
	wf_event(wf, "committed", 0, "%zu snapshot%s recorded, consistency %s",
	    wf->cr.ndone, wf->cr.ndone == 1 ? "" : "s", wf->cr.consistency);
	if (wf->cr.post_failed != NULL) {
		wf_finish(wf, EVG_HOOK_FAILED, "the snapshot was taken and kept "
		    "(%s), but the post hook failed: %s", wf->cr.ndone > 0 ?
		    wf->cr.done[0] : "", wf->cr.post_failed);
		return;
	}
	wf_finish(wf, EVG_OK, NULL);
}

/* The guest is frozen (its freeze reply says so): snapshot every volume. */
void
wf_create_frozen(struct workflow *wf)
{
	wf->i = 0;
	if (wf->cr.prep_msg != NULL) {
		/* Volume 0's op failed while the freeze was asked for. */
		catalog_remove(wf->wv->cat, wf->cur);
		wf->cur = NULL;
		wf_fail(wf, wf->cr.prep_code, "%s", wf->cr.prep_msg);
		return;
	}
	wf_snap_next(wf);
}

/* The guest is thawed and the thaw verified: post hooks, then commit. */
void
wf_create_thawed(struct workflow *wf)
{
	if (wf->cr.app) {
		wf->cr.state = CREATE_POST;
		if (wf_hook(wf, "post", wf_post_reply) != 0) {
			wf->cr.post_failed = xstrdup("the guest agent went away "
			    "before the post hooks");
			wf_commit_all(wf);
		}
		return;
	}
	wf_commit_all(wf);
}

/* create/BACKEND done for volume i. */
static void
wf_snap_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;
	const char	*kill_point = getenv(WF_KILL_ENV);
	int		 thawing;

	wf->op = NULL;
	wf->cr.prepared = 0;
	if (r->code != EVG_OK && wf->cr.state == CREATE_FREEZE) {
		/* Prepared, and the freeze under way: fail once it answers. */
		wf->cr.prep_code = r->code;
		wf->cr.prep_msg = xstrdup(r->message);
		return;
	}
	if (r->code != EVG_OK) {
		catalog_remove(wf->wv->cat, wf->cur);
		wf->cur = NULL;
		wf_fail(wf, r->code, "%s", r->message);
		return;
	}
	if (kill_point != NULL && strcmp(kill_point,
	    "after-backend-create") == 0) {
		log_warnx("test hook: killing myself after the backend "
		    "created %s", wf->cur->tag);
		raise(SIGKILL);
	}
	/*
	 * The last volume while frozen: the thaw goes first, the bookkeeping
	 * after (a thaw that cannot go is wf_snap_next()'s to report).
	 */
	thawing = wf->guest != 0 && wf->i + 1 == wf->nvols &&
	    wf_thaw_send(wf) == 0;
	wf->cur->size = r->size;
	events_emit("backend-done", wf->wv->uuid, "create", wf->cur->uuid,
	    wf->name, 0, "backend snapshot of volume %s made in %.2f ms",
	    wf->cur->volume, (double)r->call_us / 1000);
	wf->cr.done = xreallocarray(wf->cr.done, wf->cr.ndone + 1, sizeof *wf->cr.done);
	wf->cr.done[wf->cr.ndone++] = xstrdup(wf->cur->uuid);
	wf->cur = NULL;
	wf->i++;
	if (!thawing)
		wf_snap_next(wf);
}

/*
 * create/PREPARE: everything the frozen step needs is done before the
 * freeze.  One intent per volume (state creating, with the consistency
 * asked for, or crash for a guest's create until the freeze says more)
 * goes into the catalog in one write, and volume 0's backend op prepares
 * itself (a running VM's monitor connected and negotiated, its block node
 * found); the freeze, or without a guest the snapshots, follow when it is
 * ready.  So while the guest is frozen the host only snapshots.
 */
static void
wf_create_prepare(struct workflow *wf)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);
	struct cat_snap	*cs;
	char		 uuid[UUID_STR_LEN + 1], *cause;
	char		 tag[CATALOG_TAG_LEN + 1];
	size_t		 i;
	int		 code;

	wf->cr.state = CREATE_PREPARE;
	wf->cr.intent = xcalloc(wf->nvols, sizeof *wf->cr.intent);
	for (i = 0; i < wf->nvols; i++) {
		uuid_generate_v4(uuid);
		catalog_tag_make(tag, sizeof tag, uuid);
		cs = catalog_add(wf->wv->cat, uuid, wf->name, wf->vols[i], tag,
		    wf->cr.origin);
		snprintf(cs->group, sizeof cs->group, "%s", wf->cr.group);
		cs->group_size = (uint32_t)wf->nvols;
		free(cs->consistency);
		cs->consistency = xstrdup(wf->cr.consistency != NULL ?
		    wf->cr.consistency : "crash");
		cs->created = (uint64_t)time(NULL);
		cs->state = SNAP_CREATING;
		wf->cr.intent[i] = xstrdup(uuid);
	}
	/*
	 * The op starts first (a monitor's connect and greeting go on in
	 * QEMU while the intents are made durable); nothing of it runs
	 * before the loop's next pass, and its action only at go.  The
	 * intents are written now (a full disk fails the create here, before
	 * any freeze) and made durable on another thread while the monitor
	 * is negotiated and the guest frozen; the go waits for that.
	 */
	wf->cur = catalog_find(wf->wv->cat, wf->cr.intent[0]);
	wf->cr.prepared = 1;
	wf_backend_prepare(wf, wf_volume(vm, wf->vols[0]), wf->cur->tag,
	    wf_prepared, wf_snap_done);
	if (catalog_commit_async(wf->wv->cat, &cause) != 0) {
		code = status_of_write_error(errno);
		backend_cancel(wf->op);
		wf->op = NULL;
		wf->cur = NULL;
		wf->cr.prepared = 0;
		for (i = 0; i < wf->nvols; i++)
			catalog_remove(wf->wv->cat, catalog_find(wf->wv->cat,
			    wf->cr.intent[i]));
		wf_fail(wf, code, "cannot write the snapshot catalog: %s",
		    cause);
		free(cause);
	}
}

/* create/PREPARE done: volume 0's op waits; freeze, or snapshot now. */
static void
wf_prepared(void *arg)
{
	struct workflow	*wf = arg;

	if (wf->guest != 0)
		wf_freeze(wf);
	else
		wf_snap_next(wf);
}

/*
 * create/BACKEND for the prepared volume 0: its intent made durable (no
 * snapshot before), then its staged command let go.  -1 with *code and
 * *msg (caller frees) when the catalog cannot be written.
 */
static int
wf_snap_go(struct workflow *wf, int *code, char **msg)
{
	char	*cause;

	if (catalog_sync(wf->wv->cat, &cause) != 0) {
		*code = status_of_write_error(errno);
		xasprintf(msg, "cannot write the snapshot catalog: %s", cause);
		free(cause);
		return (-1);
	}
	backend_go(wf->op);
	return (0);
}

/*
 * The guest froze: volume 0's prepared snapshot goes now if it can, before
 * the caller's bookkeeping; see workflow_impl.h.
 */
int
wf_create_go(struct workflow *wf)
{
	if (!wf->cr.prepared || wf->cr.prep_msg != NULL || wf->nvols == 0 ||
	    (wf->cur = catalog_find(wf->wv->cat, wf->cr.intent[0])) == NULL)
		return (-1);
	wf->i = 0;
	wf->cr.state = CREATE_BACKEND;
	/*
	 * A failure is reported once (the journal forgets the error): kept
	 * as the prepared op's failure, which wf_create_frozen() reports.
	 */
	return (wf_snap_go(wf, &wf->cr.prep_code, &wf->cr.prep_msg));
}

/* create/BACKEND: snapshot volume i (its intent is written). */
void
wf_snap_next(struct workflow *wf)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);
	char		*msg;
	int		 code;

	if (wf->i == wf->nvols) {
		if (wf->guest != 0)
			wf_thaw(wf);
		else
			wf_commit_all(wf);
		return;
	}
	wf->cur = catalog_find(wf->wv->cat, wf->cr.intent[wf->i]);
	if (wf->cur == NULL) {
		wf_fail(wf, EVG_INTERNAL, "the intent of volume %s left the "
		    "catalog", wf->vols[wf->i]);
		return;
	}
	wf->cr.state = CREATE_BACKEND;
	if (wf->i == 0 && wf->cr.prepared) {
		if (wf_snap_go(wf, &code, &msg) != 0) {
			wf_fail(wf, code, "%s", msg);
			free(msg);
		}
		return;
	}
	wf_backend(wf, BACKEND_CREATE, wf_volume(vm, wf->vols[wf->i]),
	    wf->cur->tag, wf_snap_done);
}

/* CLEANUP: a snapshot the failed create made is deleted (or left). */
static void
wf_cleanup_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;

	wf->op = NULL;
	if (r->code != EVG_OK) {
		/* Kept as a delete to finish: the retry timer does it. */
		log_warnx("vm %s: could not delete snapshot %s made by the "
		    "failed create: %s; it stays in the catalog as deleting "
		    "and is deleted again every %u s", wf->wv->uuid,
		    wf->cur->tag, r->message, wf_g.cf->reconcile_retry);
		wf->cur->state = SNAP_DELETING;
	} else
		catalog_remove(wf->wv->cat, wf->cur);
	wf->cur = NULL;
	wf_cleanup_next(wf);
}

/* CLEANUP: delete the next snapshot the failed create made, or finish. */
static void
wf_cleanup_next(struct workflow *wf)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);
	struct cat_snap	*cs;
	char		*uuid;

	wf->cr.state = CREATE_CLEANUP;
	while (wf->cr.ndone > 0) {
		uuid = wf->cr.done[--wf->cr.ndone];
		cs = catalog_find(wf->wv->cat, uuid);
		free(uuid);
		if (cs == NULL)
			continue;
		wf->cur = cs;
		wf_backend(wf, BACKEND_DELETE, wf_volume(vm, cs->volume),
		    cs->tag, wf_cleanup_done);
		return;
	}
	if (wf_commit(wf) != 0)
		return;
	wf_event(wf, "failed", wf->cr.fail_code, "%s", wf->cr.fail_msg);
	wf_finish(wf, wf->cr.fail_code, "%s", wf->cr.fail_msg);
}

/* The abort hooks ran (or could not): clean up. */
static void
wf_fail_post(const Evg__Envelope *env, const char *why, void *arg)
{
	struct workflow	*wf = arg;
	char		*msg;
	int		 code;

	wf->cr.post_done = 1;
	if (!wf_hook_outcome(env, why, &code, &msg)) {
		wf_event(wf, "post-finished", code, "abort hooks: %s", msg);
		free(msg);
	} else
		wf_event(wf, "post-finished", 0, "abort hooks finished");
	wf_cleanup_next(wf);
}

/* After the thaw of a failure: post hooks with phase abort, if pre ran. */
void
wf_fail_abort_hooks(struct workflow *wf)
{
	if (wf->cr.pre_ok && !wf->cr.post_done) {
		wf->cr.state = CREATE_POST;
		if (wf_hook(wf, "abort", wf_fail_post) == 0)
			return;
	}
	wf_cleanup_next(wf);
}

/*
 * The create failed: what the backend made is marked deleting in one
 * catalog write before the thaw and the cleanup, so that a crash from here
 * on never lets the catalog check keep a group the host rejected (all its
 * members there, but taken without a valid freeze).
 */
static void
wf_fail_record(struct workflow *wf)
{
	struct cat_snap	*cs;
	char		*why;
	size_t		 i, n = 0;

	for (i = 0; i < wf->cr.ndone; i++)
		if ((cs = catalog_find(wf->wv->cat, wf->cr.done[i])) != NULL &&
		    cs->state == SNAP_CREATING) {
			cs->state = SNAP_DELETING;
			n++;
		}
	/* Intents the backend was never asked about: nothing to delete. */
	for (i = 0; wf->cr.intent != NULL && i < wf->nvols; i++) {
		if ((cs = catalog_find(wf->wv->cat, wf->cr.intent[i])) ==
		    NULL || cs->state != SNAP_CREATING || cs == wf->cur)
			continue;
		catalog_remove(wf->wv->cat, cs);
		n++;
	}
	if (n > 0 && catalog_commit(wf->wv->cat, &why) != 0) {
		log_warnx("vm %s: %s", wf->wv->uuid, why);
		free(why);
	}
}

/* Fail a create: thaw if frozen, delete what was made, report. */
void
wf_fail(struct workflow *wf, int code, const char *fmt, ...)
{
	va_list	ap;

	if (wf->cr.fail_msg != NULL)
		return;
	wf->cr.fail_code = code;
	va_start(ap, fmt);
	xvasprintf(&wf->cr.fail_msg, fmt, ap);
	va_end(ap);
	if (wf->cr.prepared) {
		/* Volume 0's op never went: its intent goes with the rest. */
		backend_cancel(wf->op);
		wf->op = NULL;
		wf->cur = NULL;
		wf->cr.prepared = 0;
	}
	wf_fail_record(wf);
	if (wf_freeze_abort(wf))
		return;
	wf_fail_abort_hooks(wf);
}

/*
 * BACKEND -> failure: the freezing guest is gone, so the snapshot being
 * made is no longer filesystem-consistent.  Cancel the backend step, have
 * the cleanup delete what it may have made, and fail now.
 */
void
wf_freeze_lost(struct workflow *wf, int code, const char *why)
{
	if (wf->op != NULL) {
		backend_cancel(wf->op);
		wf->op = NULL;
	}
	if (wf->cur != NULL) {
		/* It may exist in the backend: the cleanup deletes it. */
		wf->cr.done = xreallocarray(wf->cr.done, wf->cr.ndone + 1,
		    sizeof *wf->cr.done);
		wf->cr.done[wf->cr.ndone++] = xstrdup(wf->cur->uuid);
		wf->cur = NULL;
	}
	wf->cr.fz.frozen = 0;
	wf->cr.fz.state = FREEZE_OVER;
	wf_fail(wf, code, "%s", why);
}

/* A guest session went away; see workflow.h. */
void
workflow_guest_gone(uint64_t serial)
{
	struct workflow	*wf, *next;

	for (wf = TAILQ_FIRST(&wf_g.all); wf != NULL; wf = next) {
		next = TAILQ_NEXT(wf, entry);
		if (wf->kind == WF_CREATE && wf->guest == serial &&
		    wf->cr.state == CREATE_BACKEND && wf->cr.fail_msg == NULL)
			wf_freeze_lost(wf, EVG_UNAVAILABLE, "the guest agent went "
			    "away while its filesystems were frozen; nothing is "
			    "kept");
	}
}

/* A default snapshot name from the time, unique on the given volumes. */
static char *
wf_default_name(struct workflow *wf)
{
	struct tm	 tm;
	time_t		 now = time(NULL);
	char		 base[64], *name;
	unsigned int	 n, count, clash;
	size_t		 i;

	gmtime_r(&now, &tm);
	strftime(base, sizeof base, "snapshot-%Y%m%d-%H%M%S", &tm);
	name = xstrdup(base);
	for (n = 2; ; n++) {
		clash = 0;
		for (i = 0; i < wf->nvols; i++)
			if (catalog_find_name(wf->wv->cat, wf->vols[i], name,
			    &count) != NULL)
				clash = 1;
		if (!clash)
			return (name);
		free(name);
		xasprintf(&name, "%s-%u", base, n);
	}
}

/* The volumes a create works on: named, from disks, or all. */
static int
wf_create_volumes(const struct workflow_params *p, const struct reg_vm *vm,
    char ***vols, size_t *nvols, char **cause)
{
	size_t	i, j;

	if (p->ndisks > 0)
		return (workflow_match_disks(vm->uuid, p->disks, p->ndisks,
		    vols, nvols, cause));
	for (i = 0; i < p->nvolumes; i++) {
		if (wf_volume(vm, p->volumes[i]) == NULL) {
			xasprintf(cause, "volume: %s is not a volume of VM %s",
			    p->volumes[i], vm->name);
			return (uuid_valid(p->volumes[i]) ? EVG_NOT_FOUND :
			    EVG_INVALID_ARGUMENT);
		}
		for (j = 0; j < i; j++)
			if (strcasecmp(p->volumes[i], p->volumes[j]) == 0) {
				xasprintf(cause, "volume: %s is given twice",
				    p->volumes[i]);
				return (EVG_INVALID_ARGUMENT);
			}
	}
	*nvols = p->nvolumes != 0 ? p->nvolumes : vm->nvolumes;
	if (*nvols > CATALOG_GROUP_MAX) {
		xasprintf(cause, "volume: %zu volumes%s; one snapshot group "
		    "holds at most %d (name them with volume_uuids)", *nvols,
		    p->nvolumes != 0 ? " given" : " in the VM",
		    CATALOG_GROUP_MAX);
		return (EVG_INVALID_ARGUMENT);
	}
	*vols = xcalloc(*nvols, sizeof **vols);
	for (i = 0; i < *nvols; i++)
		(*vols)[i] = xstrdup(p->nvolumes != 0 ?
		    wf_volume(vm, p->volumes[i])->uuid : vm->volumes[i].uuid);
	return (EVG_OK);
}

/* Free a volume list. */
static void
wf_free_vols(char **vols, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(vols[i]);
	free(vols);
}

/*
 * A create whose idempotency key was seen: 1 (with *rc) when it is
 * answered here - the earlier request's snapshots, or BUSY while it runs.
 */
static int
wf_idempotent(const struct workflow_params *p, workflow_done_cb cb, void *arg,
    char **cause, int *rc)
{
	struct reg_vm	 *vm;
	struct wf_vm	 *wv;
	struct cat_snap	 *cs;
	struct workflow	 *wf;
	Evg__Snapshot	**list = NULL;
	size_t		  n = 0;

	if (!uuid_valid(p->vm) || (vm = registry_find(wf_g.reg, p->vm)) ==
	    NULL || (wv = wf_vm_get(vm->uuid, cause)) == NULL) {
		free(*cause);
		*cause = NULL;
		return (0);
	}
	TAILQ_FOREACH(wf, &wf_g.all, entry) {
		if (wf->wv == wv && wf->cr.idem_key != NULL &&
		    strcmp(wf->cr.idem_key, p->idempotency_key) == 0) {
			xasprintf(cause, "the request with idempotency key "
			    "'%s' is still in progress", p->idempotency_key);
			*rc = EVG_BUSY;
			return (1);
		}
	}
	TAILQ_FOREACH(cs, &wv->cat->snaps, entry) {
		if (cs->idem_key == NULL ||
		    strcmp(cs->idem_key, p->idempotency_key) != 0)
			continue;
		list = xreallocarray(list, n + 1, sizeof *list);
		list[n++] = snapinfo_from_cat(cs, vm);
	}
	if (n == 0)
		return (0);
	log_info("vm %s: create with idempotency key '%s' was done before; "
	    "answering with its %zu snapshot(s)", vm->uuid,
	    p->idempotency_key, n);
	cb(EVG_OK, NULL, list, n, arg);
	snapinfo_free_list(list, n);
	*rc = EVG_OK;
	return (1);
}

/* Start a create; see workflow.h. */
int
wf_create_start(const struct workflow_params *p, workflow_done_cb cb,
    void *arg, char **cause)
{
	struct wf_vm	*wv;
	struct reg_vm	*vm;
	struct workflow	*wf;
	uint64_t	 guest = 0;
	const char	*why, *cons = NULL;
	char		**vols;
	unsigned int	 count;
	size_t		 i, nvols;
	int		 rc, stopped = 0, daemon = 0;

	if (p->ndisks == 0) {
		cons = p->consistency != NULL && *p->consistency != '\0' ?
		    p->consistency : "crash";
		if (strcmp(cons, "app") != 0 && strcmp(cons, "fs") != 0 &&
		    strcmp(cons, "crash") != 0) {
			xasprintf(cause, "consistency: '%s' is not app, fs or "
			    "crash", cons);
			return (EVG_INVALID_ARGUMENT);
		}
	}
	if (p->name != NULL && *p->name != '\0' &&
	    !text_valid_name(p->name, NAME_MAX_CHARS, &why)) {
		xasprintf(cause, "name: %s (1-%d printable characters)", why,
		    NAME_MAX_CHARS);
		return (EVG_INVALID_ARGUMENT);
	}
	if (p->idempotency_key != NULL && *p->idempotency_key != '\0' &&
	    wf_idempotent(p, cb, arg, cause, &rc))
		return (rc);
	if ((rc = wf_begin(p->vm, WF_CREATE, &wv, &vm, cause)) != EVG_OK)
		return (rc);
	if (vm->nvolumes == 0) {
		xasprintf(cause, "VM %s has no volumes", vm->name);
		return (EVG_FAILED_PRECONDITION);
	}
	if (p->ndisks == 0 && cons != NULL && strcmp(cons, "crash") != 0 &&
	    vm->state == VM_STARTING) {
		/* Neither at rest nor with a guest to ask yet. */
		xasprintf(cause, "consistency '%s': VM %s is starting, and its "
		    "guest agent daemon is not connected yet; ask again once "
		    "it runs, or ask for a crash-consistent snapshot", cons,
		    vm->name);
		return (EVG_UNAVAILABLE);
	}
	if (p->ndisks == 0 && cons != NULL && strcmp(cons, "crash") != 0 &&
	    vm->state == VM_STOPPED) {
		/* A stopped VM has no guest to ask: its disks are at rest. */
		stopped = 1;
	} else if (p->ndisks > 0 || (cons != NULL &&
	    strcmp(cons, "crash") != 0)) {
		/* A guest asking is running, whatever pillar last said. */
		guest = wf_g.link->freeze_channel(wf_g.link->ctx, vm,
		    p->requester, &daemon);
		if (guest == 0) {
			xasprintf(cause, "consistency '%s' needs the guest "
			    "agent daemon in VM %s, and none is connected",
			    cons, vm->name);
			return (EVG_FAILED_PRECONDITION);
		}
	}
	if ((rc = wf_create_volumes(p, vm, &vols, &nvols, cause)) != EVG_OK)
		return (rc);
	if (wv->cat->count + nvols > CATALOG_MAX_ENTRIES) {
		xasprintf(cause, "VM %s has %zu snapshots; one VM holds at most "
		    "%d: delete some first", vm->name, wv->cat->count,
		    CATALOG_MAX_ENTRIES);
		wf_free_vols(vols, nvols);
		return (EVG_NO_SPACE);
	}
	if (p->name != NULL && *p->name != '\0') {
		for (i = 0; i < nvols; i++) {
			if (catalog_find_name(wv->cat, vols[i], p->name,
			    &count) != NULL) {
				xasprintf(cause, "name: volume '%s' already has "
				    "a snapshot named '%s'",
				    wf_volume(vm, vols[i])->name, p->name);
				wf_free_vols(vols, nvols);
				return (EVG_ALREADY_EXISTS);
			}
		}
	}
	wf = wf_new(WF_CREATE, wv, cb, arg);
	wf->vols = vols;
	wf->nvols = nvols;
	uuid_generate_v4(wf->cr.group);
	wf->cr.consistency = stopped ? xstrdup("crash") : cons != NULL ?
	    xstrdup(cons) : NULL;
	wf->cr.app = guest != 0 && cons != NULL && strcmp(cons, "app") == 0;
	wf->hook_timeout_ms = p->hook_timeout_ms == 0 ? HOOK_TIMEOUT_DEFAULT_MS :
	    p->hook_timeout_ms < HOOK_TIMEOUT_MIN_MS ? HOOK_TIMEOUT_MIN_MS :
	    p->hook_timeout_ms > HOOK_TIMEOUT_MAX_MS ? HOOK_TIMEOUT_MAX_MS :
	    p->hook_timeout_ms;
	if (p->idempotency_key != NULL && *p->idempotency_key != '\0')
		wf->cr.idem_key = xstrdup(p->idempotency_key);
	wf->cr.origin = xstrdup(p->origin != NULL ? p->origin : "controller");
	wf->name = p->name != NULL && *p->name != '\0' ? xstrdup(p->name) :
	    wf_default_name(wf);
	if (guest != 0) {
		log_info("vm %s: snapshot '%s': the guest freezes over %s",
		    vm->uuid, wf->name, daemon ? "its daemon's session" :
		    "the requesting connection");
		wf->guest = guest;
		if (p->ndisks > 0) {
			wf->ndisks = p->ndisks;
			wf->disks = xcalloc(p->ndisks, sizeof *wf->disks);
			for (i = 0; i < p->ndisks; i++)
				wf->disks[i] = wf_copy_disk(p->disks[i]);
		} else {
			wf->ndisks = nvols;
			wf->disks = xcalloc(nvols, sizeof *wf->disks);
			for (i = 0; i < nvols; i++)
				wf->disks[i] = wf_volume_disk(wf_volume(vm,
				    vols[i]));
		}
	}
	if (stopped)
		wf_event(wf, "started", 0, "VM is stopped: no guest steps, "
		    "recorded as crash (asked for %s)", cons);
	else
		wf_event(wf, "started", 0, "%s snapshot of %zu volume%s",
		    wf->cr.consistency != NULL ? wf->cr.consistency : "guest-triggered",
		    nvols, nvols == 1 ? "" : "s");
	wf_space_next(wf);
	return (EVG_OK);
}
