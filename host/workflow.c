/* Snapshot operation state machines, catalogs and the per-VM lock. */
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "backend.h"
#include "catalog.h"
#include "jsonout.h"
#include "log.h"
#include "status.h"
#include "text.h"
#include "workflow.h"
#include "workflow_impl.h"
#include "events.h"
#include "xmalloc.h"


static void	wf_list_next(struct workflow *);
static void	wf_run_pending(struct wf_vm *);
static void	wf_redelete_next(struct workflow *);

struct wf_globals wf_g;

const char *wf_kind_names[] = {
	[WF_CREATE] = "create",
	[WF_DELETE] = "delete",
	[WF_ROLLBACK] = "rollback",
	[WF_RECONCILE] = "catalog check",
	[WF_CHECK] = "pre-flight check",
};

/* Set up; see workflow.h. */
int
workflow_init(struct event_base *base, struct config *cf,
    struct registry *reg, const struct guest_link *link, char **cause)
{
	memset(&wf_g, 0, sizeof wf_g);
	wf_g.link = link;
	wf_g.base = base;
	wf_g.cf = cf;
	wf_g.reg = reg;
	TAILQ_INIT(&wf_g.vms);
	TAILQ_INIT(&wf_g.all);
	xasprintf(&wf_g.catdir, "%s/%s", cf->state_dir, CATALOG_DIR);
	return (atomicfile_mkdirs(wf_g.catdir, 0700, cause));
}

/* The per-VM state, opening the catalog on first use; NULL + *cause. */
struct wf_vm *
wf_vm_get(const char *uuid, char **cause)
{
	struct wf_vm	*wv;
	struct catalog	*cat;

	TAILQ_FOREACH(wv, &wf_g.vms, entry)
		if (strcasecmp(wv->uuid, uuid) == 0)
			return (wv);
	if ((cat = catalog_open(wf_g.catdir, uuid, cause)) == NULL)
		return (NULL);
	wv = xcalloc(1, sizeof *wv);
	snprintf(wv->uuid, sizeof wv->uuid, "%s", uuid);
	wv->cat = cat;
	TAILQ_INSERT_TAIL(&wf_g.vms, wv, entry);
	return (wv);
}

/* Free a snapshot message. */
static void
snapinfo_free(Evg__Snapshot *s)
{
	size_t	i;

	if (s == NULL)
		return;
	free(s->uuid);
	free(s->name);
	free(s->volume_uuid);
	free(s->volume_name);
	free(s->consistency);
	free(s->origin);
	free(s->state);
	free(s->backend);
	for (i = 0; i < s->n_mounts; i++) {
		free(s->mounts[i]->mountpoint);
		free(s->mounts[i]->fstype);
		free(s->mounts[i]->device);
		free(s->mounts[i]->action);
		free(s->mounts[i]->reason);
		free(s->mounts[i]);
	}
	free(s->mounts);
	for (i = 0; i < s->n_disk_ids; i++) {
		free(s->disk_ids[i]->kind);
		free(s->disk_ids[i]->value);
		free(s->disk_ids[i]);
	}
	free(s->disk_ids);
	free(s);
}

/* Free a list of snapshot messages. */
void
snapinfo_free_list(Evg__Snapshot **list, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		snapinfo_free(list[i]);
	free(list);
}

/* A catalog entry as a message, with its volume's name and backend. */
Evg__Snapshot *
snapinfo_from_cat(const struct cat_snap *cs, const struct reg_vm *vm)
{
	Evg__Snapshot		*s;
	Evg__MountReport	*m;
	const struct reg_volume	*vol = NULL;
	size_t			 i;

	for (i = 0; vm != NULL && i < vm->nvolumes; i++)
		if (strcasecmp(vm->volumes[i].uuid, cs->volume) == 0)
			vol = &vm->volumes[i];
	s = xmalloc(sizeof *s);
	evg__snapshot__init(s);
	s->uuid = xstrdup(cs->uuid);
	s->name = xstrdup(cs->name);
	s->volume_uuid = xstrdup(cs->volume);
	s->volume_name = xstrdup(vol != NULL ? vol->name : "");
	s->created = cs->created;
	s->size_bytes = cs->size;
	s->consistency = xstrdup(cs->consistency);
	s->origin = xstrdup(cs->origin);
	s->state = xstrdup(snap_state_name(cs->state));
	s->backend = xstrdup(vol != NULL ? vol->backend : "");
	s->freeze_ms = cs->freeze_ms;
	s->n_mounts = cs->nmounts;
	s->mounts = xcalloc(cs->nmounts, sizeof *s->mounts);
	for (i = 0; i < cs->nmounts; i++) {
		m = s->mounts[i] = xmalloc(sizeof *m);
		evg__mount_report__init(m);
		m->mountpoint = xstrdup(cs->mounts[i].mountpoint);
		m->fstype = xstrdup(cs->mounts[i].fstype);
		m->device = xstrdup(cs->mounts[i].device);
		m->action = xstrdup(cs->mounts[i].action);
		m->reason = xstrdup(cs->mounts[i].reason != NULL ?
		    cs->mounts[i].reason : "");
	}
	s->n_disk_ids = vol != NULL ? vol->ndisks : 0;
	s->disk_ids = xcalloc(s->n_disk_ids, sizeof *s->disk_ids);
	for (i = 0; i < s->n_disk_ids; i++) {
		s->disk_ids[i] = xmalloc(sizeof *s->disk_ids[i]);
		evg__disk_id__init(s->disk_ids[i]);
		s->disk_ids[i]->kind = xstrdup(vol->disks[i].kind);
		s->disk_ids[i]->value = xstrdup(vol->disks[i].value);
	}
	return (s);
}

/* A volume of vm by UUID, or NULL. */
const struct reg_volume *
wf_volume(const struct reg_vm *vm, const char *uuid)
{
	size_t	i;

	for (i = 0; i < vm->nvolumes; i++)
		if (strcasecmp(vm->volumes[i].uuid, uuid) == 0)
			return (&vm->volumes[i]);
	return (NULL);
}

/* Free a workflow (not its VM state); forget its guest requests. */
static void
wf_free(struct workflow *wf)
{
	size_t		 i;

	if (wf->guest != 0)
		wf_g.link->forget(wf_g.link->ctx, wf->guest, wf);
	if (wf->renew != NULL)
		event_free(wf->renew);
	for (i = 0; i < wf->ndisks; i++)
		evg__disk_ref__free_unpacked(wf->disks[i], NULL);
	free(wf->disks);
	catalog_entry_free(wf->record);
	free(wf->fail_msg);
	free(wf->post_failed);
	free(wf->idem_key);

	for (i = 0; i < wf->nvols; i++)
		free(wf->vols[i]);
	free(wf->vols);
	for (i = 0; i < wf->ndone; i++)
		free(wf->done[i]);
	free(wf->done);
	snapinfo_free(wf->gone);
	free(wf->name);
	free(wf->consistency);
	free(wf->origin);
	free(wf);
}

/* DONE: report (code, message, snapshots) and release the VM's lock. */
void
wf_finish(struct workflow *wf, int code, const char *fmt, ...)
{
	struct reg_vm	 *vm = registry_find(wf_g.reg, wf->wv->uuid);
	struct cat_snap	 *cs;
	Evg__Snapshot	**list = NULL;
	size_t		  n = 0, i;
	va_list		  ap;
	char		 *msg = NULL;

	wf->state = WF_DONE;
	if (fmt != NULL) {
		va_start(ap, fmt);
		if (vasprintf(&msg, fmt, ap) == -1)
			fatalx("%s: vasprintf", __func__);
		va_end(ap);
		/* It may quote the guest: capped, valid UTF-8. */
		text_cut(msg, WORKFLOW_MESSAGE_MAX);
	}
	if (wf->gone != NULL) {
		list = xcalloc(1, sizeof *list);
		list[n++] = wf->gone;
		wf->gone = NULL;
	}
	if (wf->ndone > 0)
		list = xcalloc(wf->ndone, sizeof *list);
	for (i = 0; i < wf->ndone; i++)
		if ((cs = catalog_find(wf->wv->cat, wf->done[i])) != NULL)
			list[n++] = snapinfo_from_cat(cs, vm);
	if (wf->kind == WF_ROLLBACK && code == EVG_OK &&
	    (cs = catalog_find(wf->wv->cat, wf->target)) != NULL) {
		list = xcalloc(1, sizeof *list);
		list[n++] = snapinfo_from_cat(cs, vm);
	}
	if (code != EVG_OK)
		log_warnx("vm %s: snapshot %s failed: %s", wf->wv->uuid,
		    wf_kind_names[wf->kind], msg != NULL ? msg :
		    status_name((unsigned)code));
	if (wf->cb != NULL)
		wf->cb(code, msg, list, n, wf->arg);
	snapinfo_free_list(list, n);
	if (wf->kind == WF_RECONCILE && --wf_g.reconciling == 0)
		log_info("catalog check done");
	free(msg);
	wf_release(wf);
}

/* Unlink a finished workflow, release its lock and slot, free it. */
void
wf_release(struct workflow *wf)
{
	struct wf_vm	*wv = wf->wv;

	if (wv->active == wf)
		wv->active = NULL;
	TAILQ_REMOVE(&wf_g.all, wf, entry);
	if (wf->kind != WF_CHECK && wf->kind != WF_RECONCILE)
		wf_g.running--;
	wf_free(wf);
	/* A scheduled rollback goes before anything else touches the VM. */
	if (wv->active == NULL && !wf_g.shutting_down)
		wf_run_pending(wv);
}

/*
 * Finish after a failed catalog write (errno as the write left it): with
 * NO_SPACE when the state directory is full, else INTERNAL, naming the
 * file.  Frees cause.
 */
static void
wf_commit_failed(struct workflow *wf, char *cause)
{
	wf_finish(wf, status_of_write_error(errno), "cannot write the "
	    "snapshot catalog: %s", cause);
	free(cause);
}



/* Commit the catalog; on failure finish (wf_commit_failed), return -1. */
int
wf_commit(struct workflow *wf)
{
	char	*cause;

	if (catalog_commit(wf->wv->cat, &cause) == 0)
		return (0);
	wf_commit_failed(wf, cause);
	return (-1);
}

/* Take the VM's lock and a host slot; a status code with *cause if not. */
int
wf_begin(const char *vm_uuid, enum wf_kind kind, struct wf_vm **wvp,
    struct reg_vm **vmp, char **cause)
{
	struct reg_vm	*vm;
	struct wf_vm	*wv;

	if (vm_uuid == NULL || !uuid_valid(vm_uuid)) {
		xasprintf(cause, "vm: '%s' is not a UUID",
		    vm_uuid != NULL ? vm_uuid : "");
		return (EVG_INVALID_ARGUMENT);
	}
	if ((vm = registry_find(wf_g.reg, vm_uuid)) == NULL) {
		xasprintf(cause, "no VM %s is registered", vm_uuid);
		return (EVG_NOT_FOUND);
	}
	if ((wv = wf_vm_get(vm->uuid, cause)) == NULL)
		return (EVG_INTERNAL);
	if (wv->active != NULL && kind != WF_CHECK) {
		xasprintf(cause, "VM %s already has a snapshot %s in progress; "
		    "try again when it is done", vm->name,
		    wf_kind_names[wv->active->kind]);
		return (EVG_BUSY);
	}
	if (wf_g.running >= wf_g.cf->max_parallel_ops && kind !=
	    WF_RECONCILE && kind != WF_CHECK) {
		xasprintf(cause, "%u snapshot operations are in progress on "
		    "this host (limit %u); try again shortly", wf_g.running,
		    wf_g.cf->max_parallel_ops);
		return (EVG_BUSY);
	}
	*wvp = wv;
	*vmp = vm;
	return (EVG_OK);
}

/* Allocate a workflow holding the VM's lock. */
struct workflow *
wf_new(enum wf_kind kind, struct wf_vm *wv, workflow_done_cb cb, void *arg)
{
	struct workflow	*wf;

	wf = xcalloc(1, sizeof *wf);
	wf->kind = kind;
	wf->wv = wv;
	wf->cb = cb;
	wf->arg = arg;
	if (kind != WF_CHECK)
		wv->active = wf;
	if (kind != WF_CHECK && kind != WF_RECONCILE)
		wf_g.running++;
	TAILQ_INSERT_TAIL(&wf_g.all, wf, entry);
	return (wf);
}

/* Start a backend op for volume vol of the workflow's VM. */
void
wf_backend(struct workflow *wf, enum backend_verb verb,
    const struct reg_volume *vol, const char *tag, backend_cb cb)
{
	struct reg_vm		*vm = registry_find(wf_g.reg, wf->wv->uuid);
	struct backend_env	 env = { wf_g.base, wf_g.cf };
	struct backend_req	 req;

	memset(&req, 0, sizeof req);
	req.verb = verb;
	req.running = vm->state == VM_RUNNING;
	req.qmp = vm->qmp;
	req.vol = vol;
	req.tag = tag;
	if (wf->cur != NULL) {
		req.uuid = wf->cur->uuid;
		req.name = wf->cur->name;
	}
	wf->op = backend_start(&env, &req, cb, wf);
}

/* delete/BACKEND done. */
static void
wf_delete_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);

	wf->op = NULL;
	if (r->code != EVG_OK) {
		wf->cur->state = SNAP_READY;
		if (wf_commit(wf) != 0)
			return;
		wf_finish(wf, r->code, "%s", r->message);
		return;
	}
	wf->gone = snapinfo_from_cat(wf->cur, vm);
	log_info("vm %s: snapshot '%s' (%s) deleted", wf->wv->uuid,
	    wf->cur->name, wf->cur->uuid);
	catalog_remove(wf->wv->cat, wf->cur);
	wf->cur = NULL;
	if (wf_commit(wf) != 0)
		return;
	wf_finish(wf, EVG_OK, NULL);
}

/* Find the snapshot a delete/rollback names; status code + *cause. */
static int
wf_resolve(struct wf_vm *wv, struct reg_vm *vm, const char *snap,
    const char *volume, int by_name, struct cat_snap **out, char **cause)
{
	struct cat_snap	*cs = NULL;
	unsigned int	 count = 0;

	if (snap == NULL || *snap == '\0') {
		xasprintf(cause, "snapshot: missing");
		return (EVG_INVALID_ARGUMENT);
	}
	if (uuid_valid(snap))
		cs = catalog_find(wv->cat, snap);
	if (volume != NULL && *volume == '\0')
		volume = NULL;
	if (cs == NULL && by_name) {
		cs = catalog_find_name(wv->cat, volume, snap, &count);
		if (count > 1) {
			xasprintf(cause, "snapshot: %u snapshots of VM %s are "
			    "named '%s' (one per volume); name the volume",
			    count, vm->name, snap);
			return (EVG_INVALID_ARGUMENT);
		}
	}
	if (cs == NULL && !by_name && !uuid_valid(snap)) {
		xasprintf(cause, "snapshot: '%s' is not a UUID", snap);
		return (EVG_INVALID_ARGUMENT);
	}
	if (cs == NULL || (volume != NULL &&
	    strcasecmp(cs->volume, volume) != 0)) {
		/* Another VM's snapshot reads exactly as a missing one. */
		xasprintf(cause, "no snapshot %s for VM %s", snap, vm->name);
		return (EVG_NOT_FOUND);
	}
	if (wf_volume(vm, cs->volume) == NULL) {
		xasprintf(cause, "snapshot %s is of volume %s, which VM %s no "
		    "longer has", cs->uuid, cs->volume, vm->name);
		return (EVG_FAILED_PRECONDITION);
	}
	*out = cs;
	return (EVG_OK);
}

/* Start a delete; see workflow.h. */
int
workflow_delete(const struct workflow_params *p, workflow_done_cb cb,
    void *arg, char **cause)
{
	struct wf_vm	*wv;
	struct reg_vm	*vm;
	struct workflow	*wf;
	struct cat_snap	*cs;
	char		*why;
	int		 rc;

	if ((rc = wf_begin(p->vm, WF_DELETE, &wv, &vm, cause)) != EVG_OK)
		return (rc);
	if ((rc = wf_resolve(wv, vm, p->snapshot, NULL, 0, &cs, cause)) !=
	    EVG_OK)
		return (rc);
	if (cs->state == SNAP_CREATING || cs->state == SNAP_DELETING) {
		xasprintf(cause, "snapshot %s is %s; the host is still "
		    "finishing that", cs->uuid, snap_state_name(cs->state));
		return (EVG_FAILED_PRECONDITION);
	}
	if (strcasecmp(wv->cat->pending_rollback, cs->uuid) == 0) {
		xasprintf(cause, "a rollback to snapshot %s is scheduled for "
		    "when the VM stops; it cannot be deleted before", cs->uuid);
		return (EVG_FAILED_PRECONDITION);
	}
	wf = wf_new(WF_DELETE, wv, cb, arg);
	wf->cur = cs;
	snprintf(wf->target, sizeof wf->target, "%s", cs->uuid);
	if (cs->state == SNAP_MISSING) {
		/* The backend lost it already: only the record goes. */
		wf_delete_done(&(struct backend_result){ .code = EVG_OK }, wf);
		return (EVG_OK);
	}
	cs->state = SNAP_DELETING;
	if (catalog_commit(wv->cat, &why) != 0) {
		/* Nothing happened: the entry is as it was, a retry works. */
		cs->state = SNAP_READY;
		wf_commit_failed(wf, why);
		return (EVG_OK);
	}
	wf->state = WF_BACKEND;
	wf_backend(wf, BACKEND_DELETE, wf_volume(vm, cs->volume), cs->tag,
	    wf_delete_done);
	return (EVG_OK);
}

/* rollback/BACKEND done. */
static void
wf_rollback_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;

	wf->op = NULL;
	if (strcasecmp(wf->wv->cat->pending_rollback, wf->target) == 0) {
		/* A scheduled rollback is done, or failed: either way over. */
		wf->wv->cat->pending_rollback[0] = '\0';
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
	wf->state = WF_PRE;
	if (wf_hook(wf, "pre", wf_rollback_pre_reply) != 0) {
		wf->cb = NULL;
		wf_finish(wf, EVG_UNAVAILABLE, "guest gone");
		return (wf_rollback_schedule(wv, vm, cs, cb, arg, cause));
	}
	return (EVG_OK);
}

/* Start the VM's scheduled rollback if it is stopped and free now. */
static void
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
	wf->state = WF_BACKEND;
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
	wf = wf_new(WF_ROLLBACK, wv, cb, arg);
	wf->cur = cs;
	snprintf(wf->target, sizeof wf->target, "%s", cs->uuid);
	wf->state = WF_BACKEND;
	wf_backend(wf, BACKEND_ROLLBACK, wf_volume(vm, cs->volume), cs->tag,
	    wf_rollback_done);
	return (EVG_OK);
}

/* The VM's snapshots; see workflow.h. */
int
workflow_list(const char *vm_uuid, Evg__Snapshot ***snaps, size_t *n,
    char **cause)
{
	struct reg_vm	*vm;
	struct wf_vm	*wv;
	struct cat_snap	*cs;
	size_t		 i = 0;

	if (vm_uuid == NULL || !uuid_valid(vm_uuid)) {
		xasprintf(cause, "vm: '%s' is not a UUID",
		    vm_uuid != NULL ? vm_uuid : "");
		return (EVG_INVALID_ARGUMENT);
	}
	if ((vm = registry_find(wf_g.reg, vm_uuid)) == NULL) {
		xasprintf(cause, "no VM %s is registered", vm_uuid);
		return (EVG_NOT_FOUND);
	}
	if ((wv = wf_vm_get(vm->uuid, cause)) == NULL)
		return (EVG_INTERNAL);
	*snaps = xcalloc(wv->cat->count, sizeof **snaps);
	TAILQ_FOREACH(cs, &wv->cat->snaps, entry)
		(*snaps)[i++] = snapinfo_from_cat(cs, vm);
	*n = i;
	return (EVG_OK);
}

/* reconcile/REDELETE done: the interrupted delete is finished. */
static void
wf_redelete_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;

	wf->op = NULL;
	if (r->code != EVG_OK) {
		log_warnx("vm %s: finishing the delete of snapshot %s failed: "
		    "%s; it stays listed as deleting", wf->wv->uuid,
		    wf->cur->uuid, r->message);
		wf->cur->state = SNAP_READY;
	} else {
		log_warnx("vm %s: finished the interrupted delete of snapshot "
		    "%s", wf->wv->uuid, wf->cur->uuid);
		catalog_remove(wf->wv->cat, wf->cur);
	}
	wf->cur = NULL;
	if (wf_commit(wf) != 0)
		return;
	wf_redelete_next(wf);
}

/* reconcile/REDELETE: delete the next interrupted-delete of volume i. */
static void
wf_redelete_next(struct workflow *wf)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);
	struct cat_snap	*cs;

	TAILQ_FOREACH(cs, &wf->wv->cat->snaps, entry) {
		if (cs->state == SNAP_DELETING &&
		    strcasecmp(cs->volume, wf->vols[wf->i]) == 0) {
			wf->cur = cs;
			wf->state = WF_REDELETE;
			/* Marked ready until the backend confirms. */
			wf_backend(wf, BACKEND_DELETE, wf_volume(vm,
			    cs->volume), cs->tag, wf_redelete_done);
			return;
		}
	}
	wf->i++;
	wf_list_next(wf);
}

/* reconcile/LIST done for volume i. */
static void
wf_list_done(const struct backend_result *r, void *arg)
{
	struct workflow		*wf = arg;
	struct cat_seen		*seen;
	struct cat_reconcile	 rr;
	size_t			 i;

	wf->op = NULL;
	if (r->code != EVG_OK) {
		log_warnx("vm %s: cannot check volume %s against its backend: "
		    "%s; its catalog entries are left as they are",
		    wf->wv->uuid, wf->vols[wf->i], r->message);
		wf->i++;
		wf_list_next(wf);
		return;
	}
	seen = xcalloc(r->nsnaps == 0 ? 1 : r->nsnaps, sizeof *seen);
	for (i = 0; i < r->nsnaps; i++) {
		seen[i].tag = r->snaps[i].tag;
		seen[i].uuid = r->snaps[i].uuid;
		seen[i].name = r->snaps[i].name;
		seen[i].created = r->snaps[i].created;
		seen[i].size = r->snaps[i].size;
	}
	if (catalog_reconcile(wf->wv->cat, wf->vols[wf->i], seen, r->nsnaps,
	    &rr) != 0 && wf_commit(wf) != 0) {
		free(seen);
		return;
	}
	free(seen);
	wf_redelete_next(wf);
}

/* reconcile/LIST: list the next volume, or finish. */
static void
wf_list_next(struct workflow *wf)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);

	if (wf->i == wf->nvols) {
		wf_finish(wf, EVG_OK, NULL);
		return;
	}
	wf->state = WF_LIST;
	wf_backend(wf, BACKEND_LIST, wf_volume(vm, wf->vols[wf->i]), NULL,
	    wf_list_done);
}

/* Reconcile one VM's catalog with its backends. */
static void
workflow_reconcile_vm(struct reg_vm *vm)
{
	struct reg_vm	*got;
	struct wf_vm	*wv;
	struct workflow	*wf;
	char		*cause;
	size_t		 i;

	if (vm->nvolumes == 0)
		return;
	if (wf_begin(vm->uuid, WF_RECONCILE, &wv, &got, &cause) != EVG_OK) {
		log_warnx("vm %s: catalog not checked: %s", vm->uuid, cause);
		free(cause);
		return;
	}
	wf = wf_new(WF_RECONCILE, wv, NULL, NULL);
	wf_g.reconciling++;
	wf->nvols = vm->nvolumes;
	wf->vols = xcalloc(wf->nvols, sizeof *wf->vols);
	for (i = 0; i < wf->nvols; i++)
		wf->vols[i] = xstrdup(vm->volumes[i].uuid);
	wf_list_next(wf);
}

/* A VM was registered; see workflow.h. */
void
workflow_vm_added(struct reg_vm *vm)
{
	struct stat	 sb;
	char		*path;
	int		 exists;

	xasprintf(&path, "%s/%s.json", wf_g.catdir, vm->uuid);
	exists = stat(path, &sb) == 0;
	free(path);
	if (exists)
		workflow_reconcile_vm(vm);
}

/* True if the catalog holds an entry an interrupted operation left. */
static int
wf_unfinished(const struct catalog *cat)
{
	const struct cat_snap	*cs;

	TAILQ_FOREACH(cs, &cat->snaps, entry)
		if (cs->state == SNAP_CREATING || cs->state == SNAP_DELETING)
			return (1);
	return (0);
}

/* Arm the retry timer for reconcile_retry seconds from now. */
static void
wf_retry_arm(void)
{
	struct timeval	tv = { (time_t)wf_g.cf->reconcile_retry, 0 };

	evtimer_add(wf_g.retry, &tv);
}

/*
 * Timer: check again every idle VM whose catalog still holds creating or
 * deleting entries (the start-up check could not reach the backend, or
 * an op died with the daemon), so no entry stays stuck and no snapshot
 * stays uncatalogued longer than one retry period.
 */
static void
wf_retry_cb(evutil_socket_t fd, short events, void *arg)
{
	struct wf_vm	*wv;
	struct reg_vm	*vm;

	(void)fd;
	(void)events;
	(void)arg;
	TAILQ_FOREACH(wv, &wf_g.vms, entry) {
		if (wv->active != NULL || wv->cat == NULL ||
		    !wf_unfinished(wv->cat) ||
		    (vm = registry_find(wf_g.reg, wv->uuid)) == NULL)
			continue;
		log_warnx("vm %s: its catalog holds unfinished entries; "
		    "checking it against the backend again", vm->uuid);
		workflow_reconcile_vm(vm);
	}
	wf_retry_arm();
}

/* Reconcile every VM; see workflow.h. */
void
workflow_reconcile_all(void)
{
	struct reg_vm	*vm;

	TAILQ_FOREACH(vm, &wf_g.reg->vms, entry)
		workflow_reconcile_vm(vm);
	if (wf_g.reconciling == 0)
		log_info("catalog check done");
	if (wf_g.retry == NULL &&
	    (wf_g.retry = evtimer_new(wf_g.base, wf_retry_cb, NULL)) == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	wf_retry_arm();
}

/* Stop calling back owner; see workflow.h. */
void
workflow_forget_owner(void *owner)
{
	struct workflow	*wf;

	TAILQ_FOREACH(wf, &wf_g.all, entry) {
		if (wf->arg == owner) {
			wf->cb = NULL;
			wf->check_cb = NULL;
		}
	}
}

/* Cancel a workflow's backend op and finish it with code, at once. */
static void
wf_abort(struct workflow *wf, int code, const char *why)
{
	if (wf->op != NULL) {
		backend_cancel(wf->op);
		wf->op = NULL;
	}
	if (wf->kind == WF_CHECK)
		wf_check_finish(wf, code, "%s", why);
	else
		wf_finish(wf, code, "%s", why);
}

/* A VM was removed; see workflow.h. */
void
workflow_vm_removed(const char *uuid)
{
	struct wf_vm	*wv;
	struct workflow	*wf, *next;

	TAILQ_FOREACH(wv, &wf_g.vms, entry)
		if (strcasecmp(wv->uuid, uuid) == 0)
			break;
	if (wv == NULL)
		return;
	for (wf = TAILQ_FIRST(&wf_g.all); wf != NULL; wf = next) {
		next = TAILQ_NEXT(wf, entry);
		if (wf->wv == wv)
			wf_abort(wf, EVG_UNAVAILABLE, "the VM was removed "
			    "while the operation ran; the catalog is checked "
			    "when it is registered again");
	}
	TAILQ_REMOVE(&wf_g.vms, wv, entry);
	catalog_free(wv->cat);
	free(wv);
}

/* Cancel everything and free the catalogs. */
void
workflow_shutdown(void)
{
	struct wf_vm	*wv;
	struct workflow	*wf;

	wf_g.shutting_down = 1;
	if (wf_g.retry != NULL)
		event_free(wf_g.retry);
	wf_g.retry = NULL;
	while ((wf = TAILQ_FIRST(&wf_g.all)) != NULL) {
		wf->cb = NULL;
		wf->check_cb = NULL;
		wf_abort(wf, EVG_UNAVAILABLE, "shutting down");
	}
	while ((wv = TAILQ_FIRST(&wf_g.vms)) != NULL) {
		TAILQ_REMOVE(&wf_g.vms, wv, entry);
		catalog_free(wv->cat);
		free(wv);
	}
	free(wf_g.catdir);
	wf_g.catdir = NULL;
}
