/*
 * The workflow engine: the lifecycle every snapshot operation shares.  It
 * owns each VM's catalog (opened on first use) and every workflow: the
 * per-VM lock and the host-wide slot (wf_begin, wf_new), the backend step
 * (wf_backend), events, the guest link of a workflow, and the finish that
 * reports exactly once and releases everything (wf_finish, wf_release).
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

struct wf_globals wf_g;

const char *wf_kind_names[] = {
	[WF_CREATE] = "create",
	[WF_DELETE] = "delete",
	[WF_ROLLBACK] = "rollback",
	[WF_RECONCILE] = "catalog check",
	[WF_CHECK] = "pre-flight check",
};

static void	wf_free(struct workflow *);
static void	wf_abort(struct workflow *, int, const char *);

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

/* The workflow's state as a number; see workflow_impl.h. */
int
wf_state_value(const struct workflow *wf)
{
	switch (wf->kind) {
	case WF_CREATE:
		return (wf->cr.state);
	case WF_CHECK:
		return (wf->ck.state);
	case WF_DELETE:
		return (wf->dl.state);
	case WF_ROLLBACK:
		return (wf->rb.state);
	case WF_RECONCILE:
		return (wf->rc.state);
	}
	return (-1);
}

/* The per-VM state if there is one yet (no catalog is opened). */
struct wf_vm *
wf_vm_find(const char *uuid)
{
	return (uuidx_get(&wf_g.vms_by_uuid, uuid));
}

/* The per-VM state, opening the catalog on first use; NULL + *cause. */
struct wf_vm *
wf_vm_get(const char *uuid, char **cause)
{
	struct wf_vm	*wv;
	struct catalog	*cat;

	if ((wv = wf_vm_find(uuid)) != NULL)
		return (wv);
	if ((cat = catalog_open(wf_g.catdir, uuid, cause)) == NULL)
		return (NULL);
	wv = xcalloc(1, sizeof *wv);
	snprintf(wv->uuid, sizeof wv->uuid, "%s", uuid);
	wv->cat = cat;
	TAILQ_INSERT_TAIL(&wf_g.vms, wv, entry);
	uuidx_put(&wf_g.vms_by_uuid, wv->uuid, wv);
	return (wv);
}

/* Free a snapshot message. */
void
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
	free(s->group_uuid);
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
	s->group_uuid = xstrdup(cs->group);
	s->group_size = cs->group_size;
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

/* Append a member's entry, as it is now, to the reply's list. */
void
wf_out_add(struct workflow *wf, const struct cat_snap *cs, const char *state)
{
	Evg__Snapshot	*s;

	s = snapinfo_from_cat(cs, registry_find(wf_g.reg, wf->wv->uuid));
	if (state != NULL) {
		free(s->state);
		s->state = xstrdup(state);
	}
	wf->out = xreallocarray(wf->out, wf->nout + 1, sizeof *wf->out);
	wf->out[wf->nout++] = s;
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
	if (wf->cr.fz.renew != NULL)
		event_free(wf->cr.fz.renew);
	for (i = 0; i < wf->ndisks; i++)
		evg__disk_ref__free_unpacked(wf->disks[i], NULL);
	free(wf->disks);
	catalog_entry_free(wf->cr.fz.record);
	free(wf->cr.fail_msg);
	free(wf->cr.post_failed);
	free(wf->cr.idem_key);

	for (i = 0; i < wf->nvols; i++)
		free(wf->vols[i]);
	free(wf->vols);
	for (i = 0; i < wf->cr.ndone; i++)
		free(wf->cr.done[i]);
	free(wf->cr.done);
	for (i = 0; wf->cr.intent != NULL && i < wf->nvols; i++)
		free(wf->cr.intent[i]);
	free(wf->cr.intent);
	free(wf->cr.prep_msg);
	snapinfo_free_list(wf->out, wf->nout);
	free(wf->rb.failed);
	wf_online_free(&wf->rb.ol);
	free(wf->name);
	free(wf->cr.consistency);
	free(wf->cr.origin);
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
	char		 *msg = NULL, *raw;

	if (fmt != NULL) {
		va_start(ap, fmt);
		xvasprintf(&raw, fmt, ap);
		va_end(ap);
		/*
		 * It may quote the guest: made valid UTF-8 first (a bad
		 * byte becomes 3), then capped, so the cap holds on the wire.
		 */
		msg = text_cut(text_utf8_fix(raw, strlen(raw)),
		    WORKFLOW_MESSAGE_MAX);
		free(raw);
	}
	if (wf->nout > 0) {
		/* What a delete or rollback did, member by member. */
		list = wf->out;
		n = wf->nout;
		wf->out = NULL;
		wf->nout = 0;
	}
	if (wf->cr.ndone > 0)
		list = xcalloc(wf->cr.ndone, sizeof *list);
	for (i = 0; i < wf->cr.ndone; i++)
		if ((cs = catalog_find(wf->wv->cat, wf->cr.done[i])) != NULL)
			list[n++] = snapinfo_from_cat(cs, vm);
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
	if (wv->active == NULL && !wf_g.shutting_down && !wv->removed)
		wf_run_pending(wv);
	if (wv->active == NULL && !wf_g.shutting_down && !wv->removed)
		wf_settled(wv);
	/* A lock or a slot came free: what waits may start. */
	wf_queue_kick();
}

/*
 * Finish after a failed catalog write (errno as the write left it): with
 * NO_SPACE when the state directory is full, else INTERNAL, naming the
 * file.  Frees cause.
 */
void
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

/*
 * The registered VM a request names and its workflow state: EVG_OK, or
 * INVALID_ARGUMENT / NOT_FOUND / INTERNAL with *cause.
 */
static int
wf_find_vm(const char *vm_uuid, struct reg_vm **vmp, struct wf_vm **wvp,
    char **cause)
{
	if (vm_uuid == NULL || !uuid_valid(vm_uuid)) {
		xasprintf(cause, "vm: '%s' is not a UUID",
		    vm_uuid != NULL ? vm_uuid : "");
		return (EVG_INVALID_ARGUMENT);
	}
	if ((*vmp = registry_find(wf_g.reg, vm_uuid)) == NULL) {
		xasprintf(cause, "no VM %s is registered", vm_uuid);
		return (EVG_NOT_FOUND);
	}
	if ((*wvp = wf_vm_get((*vmp)->uuid, cause)) == NULL)
		return (EVG_INTERNAL);
	return (EVG_OK);
}

/* Take the VM's lock and a host slot; a status code with *cause if not. */
int
wf_begin(const char *vm_uuid, enum wf_kind kind, struct wf_vm **wvp,
    struct reg_vm **vmp, char **cause)
{
	struct reg_vm	*vm;
	struct wf_vm	*wv;
	int		 rc;

	if ((rc = wf_find_vm(vm_uuid, &vm, &wv, cause)) != EVG_OK)
		return (rc);
	if (wv->active != NULL && kind != WF_CHECK) {
		xasprintf(cause, "VM %s already has a snapshot %s in progress; "
		    "try again when it is done", vm->name,
		    wf_kind_names[wv->active->kind]);
		wf_g.lock_busy = 1;
		return (EVG_BUSY);
	}
	if (wf_g.running >= wf_g.cf->max_parallel_ops && kind !=
	    WF_RECONCILE && kind != WF_CHECK) {
		xasprintf(cause, "%u snapshot operations are in progress on "
		    "this host (limit %u); try again shortly", wf_g.running,
		    wf_g.cf->max_parallel_ops);
		wf_g.lock_busy = 1;
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

/* The backend request for volume vol of the workflow's VM. */
static void
wf_backend_req(struct workflow *wf, enum backend_verb verb,
    const struct reg_volume *vol, const char *tag, struct backend_req *req)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);

	memset(req, 0, sizeof *req);
	req->verb = verb;
	/* From `starting` on, QEMU may hold the images: never offline. */
	req->running = vm->state != VM_STOPPED &&
	    !(wf->kind == WF_ROLLBACK && wf->rb.ol.detached);
	req->qmp = reg_vm_monitor(vm);
	req->vol = vol;
	req->tag = tag;
	if (wf->cur != NULL) {
		req->uuid = wf->cur->uuid;
		req->name = wf->cur->name;
	}
}

/* Start a backend op for volume vol of the workflow's VM. */
void
wf_backend(struct workflow *wf, enum backend_verb verb,
    const struct reg_volume *vol, const char *tag, backend_cb cb)
{
	struct backend_env	 env = { wf_g.base, wf_g.cf };
	struct backend_req	 req;

	wf_backend_req(wf, verb, vol, tag, &req);
	wf->op = backend_start(&env, &req, cb, wf);
}

/* Prepare a create of volume vol (backend_prepare()); see workflow_impl.h. */
void
wf_backend_prepare(struct workflow *wf, const struct reg_volume *vol,
    const char *tag, backend_ready_cb ready, backend_cb cb)
{
	struct backend_env	 env = { wf_g.base, wf_g.cf };
	struct backend_req	 req;

	wf_backend_req(wf, BACKEND_CREATE, vol, tag, &req);
	wf->op = backend_prepare(&env, &req, ready, cb, wf);
}

/* The VM's snapshots, or some of them; see workflow.h. */
int
workflow_list(const char *vm_uuid, const char *after, size_t max,
    Evg__Snapshot ***snaps, size_t *n, int *more, char **cause)
{
	struct reg_vm	*vm;
	struct wf_vm	*wv;
	struct cat_snap	*cs;
	size_t		 i = 0;
	int		 rc, on = after == NULL || *after == '\0';

	if ((rc = wf_find_vm(vm_uuid, &vm, &wv, cause)) != EVG_OK)
		return (rc);
	*more = 0;
	*snaps = xcalloc(max != 0 && max < wv->cat->count ? max :
	    wv->cat->count, sizeof **snaps);
	/* A volume left out by `vm update` gets its entries back later. */
	TAILQ_FOREACH(cs, &wv->cat->snaps, entry) {
		if (wf_volume(vm, cs->volume) == NULL)
			continue;
		if (!on) {
			on = strcasecmp(cs->uuid, after) == 0;
			continue;
		}
		if (max != 0 && i == max) {
			*more = 1;
			break;
		}
		(*snaps)[i++] = snapinfo_from_cat(cs, vm);
	}
	*n = i;
	if (!on) {
		snapinfo_free_list(*snaps, i);
		*snaps = NULL;
		*n = 0;
		xasprintf(cause, "after: snapshot %s is not listed (any more); "
		    "list again from the start", after);
		return (EVG_NOT_FOUND);
	}
	return (EVG_OK);
}

/* Stop calling back owner; see workflow.h. */
void
workflow_forget_owner(void *owner)
{
	struct workflow	*wf;
	struct wf_vm	*wv;

	TAILQ_FOREACH(wf, &wf_g.all, entry) {
		if (wf->arg == owner) {
			wf->cb = NULL;
			wf->check_cb = NULL;
		}
	}
	wf_queue_forget(owner);
	TAILQ_FOREACH(wv, &wf_g.vms, entry)
		if (wv->start_arg == owner)
			wv->start_cb = NULL;
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
	struct wf_vm		*wv;
	struct workflow		*wf, *next;
	workflow_done_cb	 start_cb;

	wf_queue_vm_removed(uuid);
	if ((wv = wf_vm_find(uuid)) == NULL)
		return;
	/*
	 * Taken first: the aborts below must neither answer it "go ahead"
	 * nor start the scheduled rollback on a VM about to be freed.
	 */
	wv->removed = 1;
	start_cb = wv->start_cb;
	wv->start_cb = NULL;
	for (wf = TAILQ_FIRST(&wf_g.all); wf != NULL; wf = next) {
		next = TAILQ_NEXT(wf, entry);
		if (wf->wv == wv)
			wf_abort(wf, EVG_UNAVAILABLE, "the VM was removed "
			    "while the operation ran; the catalog is checked "
			    "when it is registered again");
	}
	if (start_cb != NULL)
		start_cb(EVG_UNAVAILABLE, "the VM was removed while its "
		    "start waited", NULL, 0, wv->start_arg);
	TAILQ_REMOVE(&wf_g.vms, wv, entry);
	uuidx_del(&wf_g.vms_by_uuid, wv->uuid);
	catalog_close(wv->cat);
	free(wv->start_msg);
	free(wv);
}

/* Cancel everything and free the catalogs. */
void
workflow_shutdown(void)
{
	struct wf_vm	*wv;
	struct workflow	*wf;

	wf_g.shutting_down = 1;
	wf_queue_shutdown();
	if (wf_g.retry != NULL)
		event_free(wf_g.retry);
	wf_g.retry = NULL;
	while ((wf = TAILQ_FIRST(&wf_g.all)) != NULL) {
		wf->cb = NULL;
		wf->check_cb = NULL;
		wf_abort(wf, EVG_UNAVAILABLE, "shutting down");
	}
	uuidx_clear(&wf_g.vms_by_uuid);
	while ((wv = TAILQ_FIRST(&wf_g.vms)) != NULL) {
		TAILQ_REMOVE(&wf_g.vms, wv, entry);
		free(wv->start_msg);
		catalog_close(wv->cat);
		free(wv);
	}
	free(wf_g.catdir);
	wf_g.catdir = NULL;
}

/* True while the session freezing for this workflow is connected. */
int
wf_guest(struct workflow *wf)
{
	return (wf->guest != 0 && wf_g.link->alive(wf_g.link->ctx, wf->guest));
}

/*
 * Send a request to the freezing guest, answered within guest_timeout or
 * timeout_ms when given; 0, or GUEST_REQ_GONE (also when there is no
 * session) or GUEST_REQ_TOO_BIG.
 */
int
wf_send_within(struct workflow *wf, Evg__Envelope *env,
    unsigned int timeout_ms, guest_reply_cb cb)
{
	if (wf->guest == 0)
		return (GUEST_REQ_GONE);
	return (wf_g.link->request(wf_g.link->ctx, wf->guest, env,
	    timeout_ms != 0 ? timeout_ms : wf_g.cf->guest_timeout * 1000, cb,
	    wf));
}

/* The same, within guest_timeout. */
int
wf_send(struct workflow *wf, Evg__Envelope *env, guest_reply_cb cb)
{
	return (wf_send_within(wf, env, 0, cb));
}

/* An event of this workflow. */
void
wf_event(struct workflow *wf, const char *kind, int code, const char *fmt,
    ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	events_emit(kind, wf->wv->uuid, wf_kind_names[wf->kind],
	    wf->kind == WF_CREATE ? NULL : wf->target, wf->name, code, "%s",
	    msg);
	free(msg);
}
