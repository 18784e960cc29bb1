/*
 * The rollback workflow: BACKEND -> DONE on a stopped VM; on a running VM
 * [PRE hooks] -> scheduled (restart-required) -> BACKEND when it stops.
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

static void	wf_rollback_done(const struct backend_result *, void *);
static int	wf_rollback_schedule(struct wf_vm *, struct reg_vm *,
	    struct cat_snap *, workflow_done_cb, void *, char **);
static void	wf_rollback_pre_reply(const Evg__Envelope *, const char *,
	    void *);
static int	wf_rollback_prepare(struct wf_vm *, struct reg_vm *,
	    struct cat_snap *, workflow_done_cb, void *, char **);

/* rollback/BACKEND done. */
static void
wf_rollback_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;

	wf->op = NULL;
	if (strcasecmp(wf->wv->cat->pending_rollback, wf->target) == 0) {
		/* A scheduled rollback is done, or failed: either way over. */
		wf->wv->cat->pending_rollback[0] = '\0';
		wf_starting_outcome(wf->wv, r->code, r->message);
		if (wf_commit(wf) != 0)
			return;
	}
	if (r->code != EVG_OK) {
		events_emit("rollback-failed", wf->wv->uuid, "rollback",
		    wf->target, wf->cur->name, r->code, "%s", r->message);
		wf_finish(wf, r->code, "%s", r->message);
		return;
	}
	events_emit("rollback-done", wf->wv->uuid, "rollback", wf->target,
	    wf->cur->name, 0, "volume %s rolled back", wf->cur->volume);
	wf_finish(wf, EVG_OK, NULL);
}

/*
 * A running VM's disk cannot change under it: record the rollback, tell
 * pillar a restart is needed, and carry it out when the VM is reported
 * stopped (workflow_vm_state()).  Answers cb at once.
 */
static int
wf_rollback_schedule(struct wf_vm *wv, struct reg_vm *vm, struct cat_snap *cs,
    workflow_done_cb cb, void *arg, char **cause)
{
	Evg__Snapshot	*s;
	char		*why;

	snprintf(wv->cat->pending_rollback, sizeof wv->cat->pending_rollback,
	    "%s", cs->uuid);
	if (catalog_commit(wv->cat, &why) != 0) {
		wv->cat->pending_rollback[0] = '\0';
		xasprintf(cause, "cannot write the snapshot catalog: %s", why);
		free(why);
		return (EVG_INTERNAL);
	}
	events_emit("restart-required", vm->uuid, "rollback", cs->uuid,
	    cs->name, 0, "rollback of volume %s to '%s' is scheduled: it runs "
	    "when the VM is reported stopped (restart the VM)",
	    wf_volume(vm, cs->volume)->name, cs->name);
	/* The requester may have gone while pre hooks ran. */
	if (cb != NULL) {
		s = snapinfo_from_cat(cs, vm);
		free(s->state);
		s->state = xstrdup("rollback-scheduled");
		cb(EVG_OK, NULL, &s, 1, arg);
		snapinfo_free(s);
	}
	return (EVG_OK);
}

/* rollback/PRE done: schedule the rollback, or not. */
static void
wf_rollback_pre_reply(const Evg__Envelope *env, const char *why, void *arg)
{
	struct workflow		*wf = arg;
	struct reg_vm		*vm = registry_find(wf_g.reg, wf->wv->uuid);
	struct cat_snap		*cs = catalog_find(wf->wv->cat, wf->target);
	workflow_done_cb	 cb = wf->cb;
	char			*msg, *cause;
	int			 code, rc;

	if (!wf_hook_outcome(env, why, &code, &msg)) {
		wf_event(wf, "pre-finished", code, "%s", msg);
		wf_finish(wf, EVG_HOOK_FAILED, "pre hook failed; the rollback "
		    "is not scheduled: %s", msg);
		free(msg);
		return;
	}
	wf_event(wf, "pre-finished", 0, "pre hooks finished");
	if (vm == NULL || cs == NULL) {
		wf_finish(wf, EVG_NOT_FOUND, "the snapshot went away");
		return;
	}
	wf->cb = NULL;
	rc = wf_rollback_schedule(wf->wv, vm, cs, cb, wf->arg, &cause);
	if (rc != EVG_OK) {
		wf->cb = cb;
		wf_finish(wf, rc, "%s", cause);
		free(cause);
		return;
	}
	wf_finish(wf, EVG_OK, NULL);
}

/*
 * A running VM's rollback: the guest daemon (if connected) runs its pre
 * hooks with EVE_SNAPSHOT_OPERATION=rollback first; then it is scheduled.
 */
static int
wf_rollback_prepare(struct wf_vm *wv, struct reg_vm *vm, struct cat_snap *cs,
    workflow_done_cb cb, void *arg, char **cause)
{
	struct workflow	*wf;
	uint64_t	 guest;
	int		 daemon;

	guest = wf_g.link->freeze_channel(wf_g.link->ctx, vm, 0, &daemon);
	if (guest == 0 || !daemon)
		return (wf_rollback_schedule(wv, vm, cs, cb, arg, cause));
	wf = wf_new(WF_ROLLBACK, wv, cb, arg);
	wf->cur = cs;
	snprintf(wf->target, sizeof wf->target, "%s", cs->uuid);
	wf->name = xstrdup(cs->name);
	wf->guest = guest;
	wf->ndisks = 1;
	wf->disks = xcalloc(1, sizeof *wf->disks);
	wf->disks[0] = wf_volume_disk(wf_volume(vm, cs->volume));
	wf->hook_timeout_ms = HOOK_TIMEOUT_DEFAULT_MS;
	wf->rb.state = ROLLBACK_PRE;
	if (wf_hook(wf, "pre", wf_rollback_pre_reply) != 0) {
		wf->cb = NULL;
		wf_finish(wf, EVG_UNAVAILABLE, "guest gone");
		return (wf_rollback_schedule(wv, vm, cs, cb, arg, cause));
	}
	return (EVG_OK);
}

/* Start the VM's scheduled rollback if it is stopped and free now. */
void
wf_run_pending(struct wf_vm *wv)
{
	struct reg_vm	*vm;
	struct workflow	*wf;
	struct cat_snap	*cs;

	if (wv->cat->pending_rollback[0] == '\0' || wv->active != NULL ||
	    (vm = registry_find(wf_g.reg, wv->uuid)) == NULL ||
	    vm->state != VM_STOPPED)
		return;
	if ((cs = catalog_find(wv->cat, wv->cat->pending_rollback)) == NULL ||
	    wf_volume(vm, cs->volume) == NULL) {
		log_warnx("vm %s: the scheduled rollback's snapshot %s is gone; "
		    "dropped", wv->uuid, wv->cat->pending_rollback);
		wv->cat->pending_rollback[0] = '\0';
		return;
	}
	wf = wf_new(WF_ROLLBACK, wv, NULL, NULL);
	wf->cur = cs;
	snprintf(wf->target, sizeof wf->target, "%s", cs->uuid);
	wf->rb.state = ROLLBACK_BACKEND;
	events_emit("rollback-started", wv->uuid, "rollback", cs->uuid,
	    cs->name, 0, "the VM stopped: carrying out the scheduled rollback");
	wf_backend(wf, BACKEND_ROLLBACK, wf_volume(vm, cs->volume), cs->tag,
	    wf_rollback_done);
}

/* A VM's run state changed; see workflow.h. */
void
workflow_vm_state(struct reg_vm *vm)
{
	struct wf_vm	*wv;
	char		*cause;

	if ((wv = wf_vm_get(vm->uuid, &cause)) == NULL) {
		log_warnx("vm %s: %s", vm->uuid, cause);
		free(cause);
		return;
	}
	wf_run_pending(wv);
}

/* Start a rollback; see workflow.h. */
int
workflow_rollback(const struct workflow_params *p, workflow_done_cb cb,
    void *arg, char **cause)
{
	struct wf_vm	*wv;
	struct reg_vm	*vm;
	struct workflow	*wf;
	struct cat_snap	*cs;
	int		 rc;

	if ((rc = wf_begin(p->vm, WF_ROLLBACK, &wv, &vm, cause)) != EVG_OK)
		return (rc);
	if ((rc = wf_resolve(wv, vm, p->snapshot, p->volume, 1, &cs,
	    cause)) != EVG_OK)
		return (rc);
	if (cs->state != SNAP_READY) {
		xasprintf(cause, "snapshot '%s' is %s and cannot be rolled "
		    "back to", cs->name, snap_state_name(cs->state));
		return (EVG_FAILED_PRECONDITION);
	}
	if (vm->state == VM_RUNNING)
		return (wf_rollback_prepare(wv, vm, cs, cb, arg, cause));
	/* QEMU is about to open the images: for the next stop. */
	if (vm->state == VM_STARTING)
		return (wf_rollback_schedule(wv, vm, cs, cb, arg, cause));
	wf = wf_new(WF_ROLLBACK, wv, cb, arg);
	wf->cur = cs;
	snprintf(wf->target, sizeof wf->target, "%s", cs->uuid);
	wf->rb.state = ROLLBACK_BACKEND;
	wf_backend(wf, BACKEND_ROLLBACK, wf_volume(vm, cs->volume), cs->tag,
	    wf_rollback_done);
	return (EVG_OK);
}
