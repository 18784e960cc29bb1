/*
 * The rollback workflow, over a group's members (wf_group.c):
 *
 *   stopped VM:  BACKEND (member i) -> ... -> DONE
 *   running VM:  [PRE hooks] -> scheduled (restart-required); when it
 *                stops (or at `starting`): BACKEND (member i) -> ... -> DONE
 *   running VM, one qcow2 disk (wf_online.c): the guest asked (it checked
 *                its disk), or the guest daemon says the disk is free
 *                (RELEASE): online, the disk unplugged for the revert;
 *                else as above (--online: refused, saying why)
 *   starting VM: scheduled at once, for the next stop
 *
 * One scheduled rollback per VM holds every member it names; a second one
 * replaces it (event rollback-replaced).  A backend failure at member i
 * stops there: the members before it are rolled back, the rest are not,
 * and the message says which.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "log.h"
#include "status.h"
#include "workflow_impl.h"
#include "xmalloc.h"

static void	wf_rollback_next(struct workflow *);

/* "'data', 'logs'": the members' volume names, into buf. */
static void
wf_rollback_names(const struct reg_vm *vm, const struct wf_members *mem,
    size_t from, size_t to, char *buf, size_t len)
{
	const struct reg_volume	*vol;
	size_t			 i, off = 0;
	int			 n;

	buf[0] = '\0';
	for (i = from; i < to && off < len; i++) {
		vol = mem->m[i] != NULL ? wf_volume(vm, mem->m[i]->volume) :
		    NULL;
		n = snprintf(buf + off, len - off, "%s'%s'", i > from ? ", " :
		    "", vol != NULL ? vol->name : "?");
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* All members done, or one failed: the outcome. */
static void
wf_rollback_end(struct workflow *wf, int code, const char *msg)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);
	char		 done[512], left[512];

	if (wf->rb.scheduled) {
		/* A scheduled rollback is done, or failed: either way over. */
		wf->wv->cat->pending_rollback[0] = '\0';
		wf->wv->cat->npending_volumes = 0;
		wf_starting_outcome(wf->wv, code, msg);
		if (wf_commit(wf) != 0)
			return;
	}
	if (code == EVG_OK) {
		wf_finish(wf, EVG_OK, NULL);
		return;
	}
	if (wf->mem.n == 1) {
		wf_finish(wf, code, "%s", msg);
		return;
	}
	wf_rollback_names(vm, &wf->mem, 0, wf->i, done, sizeof done);
	wf_rollback_names(vm, &wf->mem, wf->i, wf->mem.n, left, sizeof left);
	wf_finish(wf, code, "rolling back snapshot group '%s': %s; rolled "
	    "back: %s; not rolled back: %s", wf->name, msg,
	    wf->i > 0 ? done : "none", left);
}

/* rollback/BACKEND done for member i. */
static void
wf_rollback_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;

	wf->op = NULL;
	if (r->code != EVG_OK) {
		events_emit("rollback-failed", wf->wv->uuid, "rollback",
		    wf->cur->uuid, wf->cur->name, r->code, "%s", r->message);
		wf_rollback_end(wf, r->code, r->message);
		return;
	}
	events_emit("rollback-done", wf->wv->uuid, "rollback", wf->cur->uuid,
	    wf->cur->name, 0, "volume %s rolled back", wf->cur->volume);
	wf_out_add(wf, wf->cur, NULL);
	wf->i++;
	wf_rollback_next(wf);
}

/* rollback/BACKEND: the next member, or the end. */
static void
wf_rollback_next(struct workflow *wf)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);

	if (wf->i == wf->mem.n) {
		wf_rollback_end(wf, EVG_OK, NULL);
		return;
	}
	wf->cur = wf->mem.m[wf->i];
	wf->rb.state = ROLLBACK_BACKEND;
	wf_backend(wf, BACKEND_ROLLBACK, wf_volume(vm, wf->cur->volume),
	    wf->cur->tag, wf_rollback_done);
}

/* A workflow that rolls the members back now (the VM is stopped). */
static void
wf_rollback_run(struct wf_vm *wv, const struct wf_members *mem, int scheduled,
    workflow_done_cb cb, void *arg)
{
	struct workflow	*wf;

	wf = wf_new(WF_ROLLBACK, wv, cb, arg);
	wf->mem = *mem;
	wf->name = xstrdup(mem->m[0]->name);
	snprintf(wf->target, sizeof wf->target, "%s", mem->n == 1 ?
	    mem->m[0]->uuid : mem->group);
	wf->rb.scheduled = scheduled;
	wf->i = 0;
	wf_rollback_next(wf);
}

/*
 * A running VM's disks cannot change under it: record the rollback (it
 * replaces one already scheduled), tell pillar a restart is needed, and
 * carry it out when the VM is reported stopped or starting.  Answers cb
 * at once, with the members as "rollback-scheduled".
 */
static int
wf_rollback_schedule(struct wf_vm *wv, struct reg_vm *vm,
    const struct wf_members *mem, workflow_done_cb cb, void *arg,
    char **cause)
{
	struct catalog	*cat = wv->cat;
	char		 old[UUID_STR_LEN + 1], names[512], *why;
	char		 oldvols[CATALOG_GROUP_MAX][UUID_STR_LEN + 1];
	Evg__Snapshot	**list;
	size_t		 i, noldvols = cat->npending_volumes;
	int		 rc;

	snprintf(old, sizeof old, "%s", cat->pending_rollback);
	memcpy(oldvols, cat->pending_volumes, sizeof oldvols);
	snprintf(cat->pending_rollback, sizeof cat->pending_rollback, "%s",
	    mem->group);
	/* The members named, unless that is all of them. */
	cat->npending_volumes = 0;
	for (i = 0; mem->n < mem->listed && i < mem->n; i++)
		snprintf(cat->pending_volumes[cat->npending_volumes++],
		    UUID_STR_LEN + 1, "%s", mem->m[i]->volume);
	if (catalog_commit(cat, &why) != 0) {
		rc = status_of_write_error(errno);
		/* The one scheduled before stays, whole. */
		snprintf(cat->pending_rollback, sizeof cat->pending_rollback,
		    "%s", old);
		memcpy(cat->pending_volumes, oldvols, sizeof oldvols);
		cat->npending_volumes = noldvols;
		xasprintf(cause, "cannot write the snapshot catalog: %s", why);
		free(why);
		return (rc);
	}
	if (old[0] != '\0')
		events_emit("rollback-replaced", vm->uuid, "rollback", old,
		    NULL, 0, "the rollback scheduled before (%s) is replaced "
		    "by the one to '%s'", old, mem->m[0]->name);
	wf_rollback_names(vm, mem, 0, mem->n, names, sizeof names);
	events_emit("restart-required", vm->uuid, "rollback", mem->group,
	    mem->m[0]->name, 0, "rollback of volume%s %s to '%s' is scheduled: "
	    "it runs when the VM is reported stopped (restart the VM)",
	    mem->n == 1 ? "" : "s", names, mem->m[0]->name);
	/* The requester may have gone while pre hooks ran. */
	if (cb != NULL) {
		list = xcalloc(mem->n, sizeof *list);
		for (i = 0; i < mem->n; i++) {
			list[i] = snapinfo_from_cat(mem->m[i], vm);
			free(list[i]->state);
			list[i]->state = xstrdup("rollback-scheduled");
		}
		cb(EVG_OK, NULL, list, mem->n, arg);
		snapinfo_free_list(list, mem->n);
	}
	return (EVG_OK);
}

/* rollback/PRE done: schedule the rollback, or not. */
static void
wf_rollback_pre_reply(const Evg__Envelope *env, const char *why, void *arg)
{
	struct workflow		*wf = arg;
	struct reg_vm		*vm = registry_find(wf_g.reg, wf->wv->uuid);
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
	if (vm == NULL) {
		wf_finish(wf, EVG_NOT_FOUND, "the VM went away");
		return;
	}
	wf->cb = NULL;
	rc = wf_rollback_schedule(wf->wv, vm, &wf->mem, cb, wf->arg, &cause);
	if (rc != EVG_OK) {
		wf->cb = cb;
		wf_finish(wf, rc, "%s", cause);
		free(cause);
		return;
	}
	wf_finish(wf, EVG_OK, NULL);
}

/*
 * A running VM's rollback workflow goes the scheduled way from here: the
 * guest daemon's pre hooks if it has one, then scheduled and answered.
 */
static void
wf_rollback_pre(struct workflow *wf)
{
	struct reg_vm		*vm = registry_find(wf_g.reg, wf->wv->uuid);
	workflow_done_cb	 cb = wf->cb;
	char			*cause;
	int			 rc;

	wf->rb.state = ROLLBACK_PRE;
	if (wf_hook(wf, "pre", wf_rollback_pre_reply) == 0)
		return;
	wf->cb = NULL;
	rc = vm == NULL ? EVG_NOT_FOUND : wf_rollback_schedule(wf->wv, vm,
	    &wf->mem, cb, wf->arg, &cause);
	if (rc != EVG_OK) {
		wf->cb = cb;
		wf_finish(wf, rc, "%s", vm == NULL ? "the VM went away" : cause);
		if (vm != NULL)
			free(cause);
		return;
	}
	wf_finish(wf, EVG_OK, NULL);
}

/* Online cannot be done; see workflow_impl.h. */
void
wf_rollback_not_online(struct workflow *wf, const char *why)
{
	if (wf->rb.ask == 2) {
		wf_finish(wf, EVG_FAILED_PRECONDITION, "cannot roll back "
		    "online: %s", why);
		return;
	}
	wf_event(wf, "rollback-online-refused", EVG_FAILED_PRECONDITION,
	    "not rolled back online: %s; scheduled for the next stop instead",
	    why);
	wf_rollback_pre(wf);
}

/* RELEASE answered: online, or (refused) scheduled or failed. */
static void
wf_rollback_release_reply(const Evg__Envelope *env, const char *why,
    void *arg)
{
	struct workflow	*wf = arg;
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);
	const char	*msg, *now;
	char		*said;

	if (env != NULL && env->body_case == EVG__ENVELOPE__BODY_REPLY &&
	    env->reply->status != NULL &&
	    env->reply->status->code == EVG_OK) {
		wf_event(wf, "disk-released", 0, "the guest agent says nothing "
		    "uses the disk, and flushed it");
		if (vm == NULL) {
			wf_finish(wf, EVG_FAILED_PRECONDITION, "cannot roll back "
			    "online: the VM went away");
			return;
		}
		/* The VM may have changed while the guest was asked. */
		if ((now = wf_online_refusal(wf->wv, vm, &wf->mem)) == NULL)
			wf_online_begin(wf);
		else
			wf_rollback_not_online(wf, now);
		return;
	}
	msg = env == NULL ? why : env->body_case ==
	    EVG__ENVELOPE__BODY_REPLY && env->reply->status != NULL &&
	    env->reply->status->message != NULL &&
	    env->reply->status->message[0] != '\0' ?
	    env->reply->status->message : "(no reason given)";
	xasprintf(&said, "the guest agent says: %s", msg);
	wf_rollback_not_online(wf, said);
	free(said);
}

/*
 * A running VM's rollback: the guest daemon (if connected) runs its pre
 * hooks with EVE_SNAPSHOT_OPERATION=rollback first; then it is scheduled.
 * With ask (1: if it can, 2: --online), the guest daemon is asked first
 * whether the disk is free, and then it is rolled back online instead.
 */
static int
wf_rollback_prepare(struct wf_vm *wv, struct reg_vm *vm,
    const struct wf_members *mem, int ask, workflow_done_cb cb, void *arg,
    char **cause)
{
	Evg__Envelope			 env = EVG__ENVELOPE__INIT;
	Evg__DiskReleaseRequest		 rr = EVG__DISK_RELEASE_REQUEST__INIT;
	struct workflow			*wf;
	uint64_t			 guest;
	size_t				 i;
	int				 daemon;

	guest = wf_g.link->freeze_channel(wf_g.link->ctx, vm, 0, &daemon);
	if ((guest == 0 || !daemon) && ask == 2) {
		xasprintf(cause, "cannot roll back online: no guest agent daemon "
		    "is connected to say that nothing in the VM uses the disk");
		return (EVG_FAILED_PRECONDITION);
	}
	if (guest == 0 || !daemon)
		return (wf_rollback_schedule(wv, vm, mem, cb, arg, cause));
	wf = wf_new(WF_ROLLBACK, wv, cb, arg);
	wf->mem = *mem;
	snprintf(wf->target, sizeof wf->target, "%s", mem->n == 1 ?
	    mem->m[0]->uuid : mem->group);
	wf->name = xstrdup(mem->m[0]->name);
	wf->guest = guest;
	wf->ndisks = mem->n;
	wf->disks = xcalloc(mem->n, sizeof *wf->disks);
	for (i = 0; i < mem->n; i++)
		wf->disks[i] = wf_volume_disk(wf_volume(vm,
		    mem->m[i]->volume));
	wf->hook_timeout_ms = HOOK_TIMEOUT_DEFAULT_MS;
	if (ask != 0) {
		wf->rb.ask = ask;
		wf->rb.state = ROLLBACK_RELEASE;
		rr.disks = wf->disks;
		rr.n_disks = wf->ndisks;
		env.body_case = EVG__ENVELOPE__BODY_DISK_RELEASE;
		env.disk_release = &rr;
		if (wf_send_within(wf, &env, wf_g.cf->guest_timeout * 1000,
		    wf_rollback_release_reply) == 0)
			return (EVG_OK);
		if (ask == 2) {
			wf->cb = NULL;
			wf_finish(wf, EVG_UNAVAILABLE, "guest gone");
			xasprintf(cause, "cannot roll back online: the guest "
			    "agent daemon went away");
			return (EVG_FAILED_PRECONDITION);
		}
	}
	wf->rb.state = ROLLBACK_PRE;
	if (wf_hook(wf, "pre", wf_rollback_pre_reply) != 0) {
		wf->cb = NULL;
		wf_finish(wf, EVG_UNAVAILABLE, "guest gone");
		return (wf_rollback_schedule(wv, vm, mem, cb, arg, cause));
	}
	return (EVG_OK);
}

/* Every member ready, or FAILED_PRECONDITION naming the first that is not. */
static int
wf_rollback_ready(const struct wf_members *mem, char **cause)
{
	size_t	i;

	for (i = 0; i < mem->n; i++)
		if (mem->m[i]->state != SNAP_READY) {
			xasprintf(cause, "snapshot '%s' (%s) is %s and cannot "
			    "be rolled back to", mem->m[i]->name,
			    mem->m[i]->uuid, snap_state_name(mem->m[i]->state));
			return (EVG_FAILED_PRECONDITION);
		}
	return (EVG_OK);
}

/* Start the VM's scheduled rollback if it is stopped and free now. */
void
wf_run_pending(struct wf_vm *wv)
{
	struct catalog		*cat = wv->cat;
	struct reg_vm		*vm;
	struct wf_members	 mem;
	const char		*vols[CATALOG_GROUP_MAX];
	char			*cause;
	size_t			 i;

	/* An online rollback a dead daemon left goes first. */
	if (cat->online != NULL && !wv->online_checked && wv->active == NULL) {
		wv->online_checked = 1;
		if (wf_online_recover(wv))
			return;
	}
	if (cat->pending_rollback[0] == '\0' || wv->active != NULL ||
	    (vm = registry_find(wf_g.reg, wv->uuid)) == NULL ||
	    vm->state != VM_STOPPED)
		return;
	for (i = 0; i < cat->npending_volumes; i++)
		vols[i] = cat->pending_volumes[i];
	if (wf_resolve_group(wv, vm, cat->pending_rollback, vols,
	    cat->npending_volumes, 0, &mem, &cause) != EVG_OK ||
	    wf_rollback_ready(&mem, &cause) != EVG_OK) {
		/* Said, written down, and the VM must not start on it. */
		events_emit("rollback-failed", wv->uuid, "rollback",
		    cat->pending_rollback, NULL, EVG_FAILED_PRECONDITION,
		    "the scheduled rollback cannot be carried out: %s; it is "
		    "dropped", cause);
		log_warnx("vm %s: the scheduled rollback to %s cannot be "
		    "carried out: %s; dropped", wv->uuid, cat->pending_rollback,
		    cause);
		wf_starting_outcome(wv, EVG_FAILED_PRECONDITION, cause);
		free(cause);
		cat->pending_rollback[0] = '\0';
		cat->npending_volumes = 0;
		if (catalog_commit(cat, &cause) != 0) {
			log_warnx("vm %s: %s", wv->uuid, cause);
			free(cause);
		}
		return;
	}
	events_emit("rollback-started", wv->uuid, "rollback", mem.group,
	    mem.m[0]->name, 0, "the VM stopped: carrying out the scheduled "
	    "rollback");
	wf_rollback_run(wv, &mem, 1, NULL, NULL);
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
wf_rollback_start(const struct workflow_params *p, workflow_done_cb cb,
    void *arg, char **cause)
{
	struct wf_vm		*wv;
	struct reg_vm		*vm;
	struct wf_members	 mem;
	const char		*one[1];
	const char *const	*vols = p->volumes;
	const char		*why;
	size_t			 nvols = p->nvolumes;
	int			 rc;

	if ((rc = wf_begin(p->vm, WF_ROLLBACK, &wv, &vm, cause)) != EVG_OK)
		return (rc);
	if (nvols == 0 && p->volume != NULL && *p->volume != '\0') {
		one[0] = p->volume;
		vols = one;
		nvols = 1;
	}
	if ((rc = wf_resolve_group(wv, vm, p->snapshot, vols, nvols, 0, &mem,
	    cause)) != EVG_OK)
		return (rc);
	if ((rc = wf_rollback_ready(&mem, cause)) != EVG_OK)
		return (rc);
	if (nvols == 0 && mem.listed < mem.m[0]->group_size) {
		xasprintf(cause, "snapshot group '%s' is partial (%zu of its %u "
		    "members are left): name the volumes to roll back, so "
		    "that a part of the group is rolled back only on purpose",
		    mem.m[0]->name, mem.listed, mem.m[0]->group_size);
		return (EVG_FAILED_PRECONDITION);
	}
	if (vm->state == VM_RUNNING) {
		why = wf_online_refusal(wv, vm, &mem);
		if (why == NULL && p->online == 1) {
			/* The guest itself checked its disk, and flushed it. */
			wf_online_run(wv, &mem, cb, arg);
			return (EVG_OK);
		}
		if (why != NULL && p->online == 2) {
			xasprintf(cause, "cannot roll back online: %s", why);
			return (EVG_FAILED_PRECONDITION);
		}
		if (why != NULL && p->online == 1)
			events_emit("rollback-online-refused", vm->uuid,
			    "rollback", mem.group, mem.m[0]->name,
			    EVG_FAILED_PRECONDITION, "not rolled back online: "
			    "%s; scheduled for the next stop instead", why);
		/* The controller's: online if the guest daemon says so. */
		return (wf_rollback_prepare(wv, vm, &mem, why == NULL &&
		    p->online != 1 ? (p->online == 2 ? 2 : 1) : 0, cb, arg,
		    cause));
	}
	/* QEMU is about to open the images: for the next stop. */
	if (vm->state == VM_STARTING)
		return (wf_rollback_schedule(wv, vm, &mem, cb, arg, cause));
	wf_rollback_run(wv, &mem, 0, cb, arg);
	return (EVG_OK);
}
