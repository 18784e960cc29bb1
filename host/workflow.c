/* Snapshot operation state machines, catalogs and the per-VM lock. */
#include <sys/queue.h>
#include <sys/stat.h>

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
#include "xmalloc.h"

/*
 * Test hook (docs/snapshots.md): with EVG_TEST_KILL_POINT set to
 * "after-backend-create" the daemon kills itself with SIGKILL right after a
 * backend created a snapshot and before the catalog records it, to prove
 * that reconciliation lists it exactly once after a restart.
 */
#define WF_KILL_ENV	"EVG_TEST_KILL_POINT"

enum wf_kind {
	WF_CREATE,
	WF_DELETE,
	WF_ROLLBACK,
	WF_RECONCILE,
};

enum wf_state {
	WF_SPACE,	/* create: checking free space, volume i */
	WF_BACKEND,	/* a backend op is running for volume i */
	WF_LIST,	/* reconcile: listing volume i */
	WF_REDELETE,	/* reconcile: finishing an interrupted delete */
	WF_DONE,
};

struct wf_vm {
	char			 uuid[UUID_STR_LEN + 1];
	struct catalog		*cat;
	struct workflow		*active;
	TAILQ_ENTRY(wf_vm)	 entry;
};

struct workflow {
	enum wf_kind		 kind;
	enum wf_state		 state;
	struct wf_vm		*wv;
	char			**vols;		/* volume UUIDs to work on */
	size_t			 nvols;
	size_t			 i;
	char			*name;
	char			*consistency;
	char			*origin;
	char			 target[UUID_STR_LEN + 1];
	struct cat_snap		*cur;		/* entry being worked on */
	struct backend_op	*op;
	char			**done;		/* UUIDs created */
	size_t			 ndone;
	Evg__Snapshot		*gone;		/* delete: what was deleted */
	workflow_done_cb	 cb;
	void			*arg;
	TAILQ_ENTRY(workflow)	 entry;
};

static struct {
	struct event_base	*base;
	struct config		*cf;
	struct registry		*reg;
	char			*catdir;
	unsigned int		 running;
	TAILQ_HEAD(, wf_vm)	 vms;
	TAILQ_HEAD(, workflow)	 all;
} wf_g;

static void	wf_space_next(struct workflow *);
static void	wf_snap_next(struct workflow *);
static void	wf_list_next(struct workflow *);
static void	wf_redelete_next(struct workflow *);

/* Set up; see workflow.h. */
int
workflow_init(struct event_base *base, struct config *cf,
    struct registry *reg, char **cause)
{
	memset(&wf_g, 0, sizeof wf_g);
	wf_g.base = base;
	wf_g.cf = cf;
	wf_g.reg = reg;
	TAILQ_INIT(&wf_g.vms);
	TAILQ_INIT(&wf_g.all);
	xasprintf(&wf_g.catdir, "%s/%s", cf->state_dir, CATALOG_DIR);
	return (atomicfile_mkdirs(wf_g.catdir, 0700, cause));
}

/* The per-VM state, opening the catalog on first use; NULL + *cause. */
static struct wf_vm *
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
static Evg__Snapshot *
snapinfo_from_cat(const struct cat_snap *cs, const struct reg_vm *vm)
{
	Evg__Snapshot	*s;
	size_t		 i;
	const char	*vname = "", *backend = "";

	for (i = 0; vm != NULL && i < vm->nvolumes; i++) {
		if (strcasecmp(vm->volumes[i].uuid, cs->volume) == 0) {
			vname = vm->volumes[i].name;
			backend = vm->volumes[i].backend;
		}
	}
	s = xmalloc(sizeof *s);
	evg__snapshot__init(s);
	s->uuid = xstrdup(cs->uuid);
	s->name = xstrdup(cs->name);
	s->volume_uuid = xstrdup(cs->volume);
	s->volume_name = xstrdup(vname);
	s->created = cs->created;
	s->size_bytes = cs->size;
	s->consistency = xstrdup(cs->consistency);
	s->origin = xstrdup(cs->origin);
	s->state = xstrdup(snap_state_name(cs->state));
	s->backend = xstrdup(backend);
	return (s);
}

/* A volume of vm by UUID, or NULL. */
static const struct reg_volume *
wf_volume(const struct reg_vm *vm, const char *uuid)
{
	size_t	i;

	for (i = 0; i < vm->nvolumes; i++)
		if (strcasecmp(vm->volumes[i].uuid, uuid) == 0)
			return (&vm->volumes[i]);
	return (NULL);
}

/* Free a workflow (not its VM state). */
static void
wf_free(struct workflow *wf)
{
	size_t	i;

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
static void
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
		    wf->kind == WF_CREATE ? "create" : wf->kind == WF_DELETE ?
		    "delete" : wf->kind == WF_ROLLBACK ? "rollback" :
		    "reconcile", msg != NULL ? msg : status_name((unsigned)code));
	if (wf->cb != NULL)
		wf->cb(code, msg, list, n, wf->arg);
	snapinfo_free_list(list, n);
	free(msg);
	wf->wv->active = NULL;
	TAILQ_REMOVE(&wf_g.all, wf, entry);
	wf_g.running--;
	wf_free(wf);
}

/* Commit the catalog; on failure finish with INTERNAL and return -1. */
static int
wf_commit(struct workflow *wf)
{
	char	*cause;

	if (catalog_commit(wf->wv->cat, &cause) == 0)
		return (0);
	wf_finish(wf, EVG_INTERNAL, "cannot write the snapshot catalog: %s",
	    cause);
	free(cause);
	return (-1);
}

/* Take the VM's lock and a host slot; a status code with *cause if not. */
static int
wf_begin(const char *vm_uuid, enum wf_kind kind, struct wf_vm **wvp,
    struct reg_vm **vmp, char **cause)
{
	struct reg_vm	*vm;
	struct wf_vm	*wv;
	static const char *what[] = { "create", "delete", "rollback",
			    "catalog check" };

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
	if (wv->active != NULL) {
		xasprintf(cause, "VM %s already has a snapshot %s in progress; "
		    "try again when it is done", vm->name,
		    what[wv->active->kind]);
		return (EVG_BUSY);
	}
	if (wf_g.running >= wf_g.cf->max_parallel_ops && kind !=
	    WF_RECONCILE) {
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
static struct workflow *
wf_new(enum wf_kind kind, struct wf_vm *wv, workflow_done_cb cb, void *arg)
{
	struct workflow	*wf;

	wf = xcalloc(1, sizeof *wf);
	wf->kind = kind;
	wf->wv = wv;
	wf->cb = cb;
	wf->arg = arg;
	wv->active = wf;
	wf_g.running++;
	TAILQ_INSERT_TAIL(&wf_g.all, wf, entry);
	return (wf);
}

/* Start a backend op for volume vol of the workflow's VM. */
static void
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

/* create/SPACE: one volume's free-space answer. */
static void
wf_space_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);
	const struct reg_volume *vol = wf_volume(vm, wf->vols[wf->i]);
	char		 f[32], n[32], res[32];

	wf->op = NULL;
	if (r->code != EVG_OK) {
		wf_finish(wf, r->code, "%s", r->message);
		return;
	}
	if (r->free_bytes < r->need_bytes + wf_g.cf->space_reserve) {
		jsonout_size(f, sizeof f, r->free_bytes);
		jsonout_size(n, sizeof n, r->need_bytes);
		jsonout_size(res, sizeof res, wf_g.cf->space_reserve);
		wf_finish(wf, EVG_NO_SPACE, "not enough free space on EVE "
		    "storage: %s free, snapshot of volume '%s' may need up to "
		    "%s (plus a %s reserve)", f, vol->name, n, res);
		return;
	}
	wf->i++;
	wf_space_next(wf);
}

/* create/SPACE: check the next volume, or move on to the snapshots. */
static void
wf_space_next(struct workflow *wf)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);

	if (wf->i == wf->nvols) {
		wf->i = 0;
		wf_snap_next(wf);
		return;
	}
	wf->state = WF_SPACE;
	wf_backend(wf, BACKEND_SPACE, wf_volume(vm, wf->vols[wf->i]), NULL,
	    wf_space_done);
}

/* create/BACKEND done: record the outcome for volume i. */
static void
wf_snap_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;
	const char	*kill_point = getenv(WF_KILL_ENV);

	wf->op = NULL;
	if (r->code != EVG_OK) {
		catalog_remove(wf->wv->cat, wf->cur);
		wf->cur = NULL;
		if (wf_commit(wf) != 0)
			return;
		wf_finish(wf, r->code, "%s%s", r->message, wf->ndone > 0 ?
		    " (snapshots of the volumes before it were kept)" : "");
		return;
	}
	if (kill_point != NULL && strcmp(kill_point,
	    "after-backend-create") == 0) {
		log_warnx("test hook: killing myself after the backend "
		    "created %s", wf->cur->tag);
		raise(SIGKILL);
	}
	wf->cur->state = SNAP_READY;
	wf->cur->size = r->size;
	if (wf_commit(wf) != 0)
		return;
	log_info("vm %s: snapshot '%s' (%s) of volume %s created", wf->wv->uuid,
	    wf->cur->name, wf->cur->uuid, wf->cur->volume);
	wf->done = xreallocarray(wf->done, wf->ndone + 1, sizeof *wf->done);
	wf->done[wf->ndone++] = xstrdup(wf->cur->uuid);
	wf->cur = NULL;
	wf->i++;
	wf_snap_next(wf);
}

/* create/INTENT+BACKEND: record the intent, then snapshot volume i. */
static void
wf_snap_next(struct workflow *wf)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);
	char		 uuid[UUID_STR_LEN + 1];

	if (wf->i == wf->nvols) {
		wf_finish(wf, EVG_OK, NULL);
		return;
	}
	uuid_generate_v4(uuid);
	wf->cur = catalog_add(wf->wv->cat, uuid, wf->name, wf->vols[wf->i],
	    uuid, wf->origin);
	free(wf->cur->consistency);
	wf->cur->consistency = xstrdup(wf->consistency);
	wf->cur->created = (uint64_t)time(NULL);
	wf->cur->state = SNAP_CREATING;
	if (wf_commit(wf) != 0)
		return;
	wf->state = WF_BACKEND;
	wf_backend(wf, BACKEND_CREATE, wf_volume(vm, wf->vols[wf->i]),
	    wf->cur->tag, wf_snap_done);
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

/* Start a create; see workflow.h. */
int
workflow_create(const struct workflow_params *p, workflow_done_cb cb,
    void *arg, char **cause)
{
	struct wf_vm	*wv;
	struct reg_vm	*vm;
	struct workflow	*wf;
	const char	*why, *cons;
	unsigned int	 count;
	size_t		 i, j;
	int		 rc;

	cons = p->consistency != NULL && *p->consistency != '\0' ?
	    p->consistency : "crash";
	if (strcmp(cons, "app") != 0 && strcmp(cons, "fs") != 0 &&
	    strcmp(cons, "crash") != 0) {
		xasprintf(cause, "consistency: '%s' is not app, fs or crash",
		    cons);
		return (EVG_INVALID_ARGUMENT);
	}
	if (p->name != NULL && *p->name != '\0' &&
	    !text_valid_name(p->name, NAME_MAX_CHARS, &why)) {
		xasprintf(cause, "name: %s (1-%d printable characters)", why,
		    NAME_MAX_CHARS);
		return (EVG_INVALID_ARGUMENT);
	}
	if ((rc = wf_begin(p->vm, WF_CREATE, &wv, &vm, cause)) != EVG_OK)
		return (rc);
	if (strcmp(cons, "crash") != 0) {
		xasprintf(cause, "consistency '%s' needs the guest agent to "
		    "freeze the VM's filesystems, which this host version does "
		    "not do yet; ask for --consistency crash", cons);
		return (EVG_FAILED_PRECONDITION);
	}
	if (vm->nvolumes == 0) {
		xasprintf(cause, "VM %s has no volumes", vm->name);
		return (EVG_FAILED_PRECONDITION);
	}
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
	wf = wf_new(WF_CREATE, wv, cb, arg);
	wf->nvols = p->nvolumes != 0 ? p->nvolumes : vm->nvolumes;
	wf->vols = xcalloc(wf->nvols, sizeof *wf->vols);
	for (i = 0; i < wf->nvols; i++)
		wf->vols[i] = xstrdup(p->nvolumes != 0 ?
		    wf_volume(vm, p->volumes[i])->uuid : vm->volumes[i].uuid);
	wf->consistency = xstrdup(cons);
	wf->origin = xstrdup(p->origin != NULL ? p->origin : "controller");
	if (p->name != NULL && *p->name != '\0') {
		for (i = 0; i < wf->nvols; i++) {
			if (catalog_find_name(wv->cat, wf->vols[i], p->name,
			    &count) != NULL) {
				xasprintf(cause, "name: volume '%s' already has "
				    "a snapshot named '%s'",
				    wf_volume(vm, wf->vols[i])->name, p->name);
				wf->cb = NULL;
				wf_finish(wf, EVG_ALREADY_EXISTS, NULL);
				return (EVG_ALREADY_EXISTS);
			}
		}
		wf->name = xstrdup(p->name);
	} else
		wf->name = wf_default_name(wf);
	wf_space_next(wf);
	return (EVG_OK);
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
	wf = wf_new(WF_DELETE, wv, cb, arg);
	wf->cur = cs;
	snprintf(wf->target, sizeof wf->target, "%s", cs->uuid);
	if (cs->state == SNAP_MISSING) {
		/* The backend lost it already: only the record goes. */
		wf_delete_done(&(struct backend_result){ .code = EVG_OK }, wf);
		return (EVG_OK);
	}
	cs->state = SNAP_DELETING;
	if (wf_commit(wf) != 0)
		return (EVG_OK);
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
	if (r->code != EVG_OK) {
		wf_finish(wf, r->code, "%s", r->message);
		return;
	}
	log_info("vm %s: volume %s rolled back to snapshot %s", wf->wv->uuid,
	    wf->cur->volume, wf->cur->uuid);
	wf_finish(wf, EVG_OK, NULL);
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

/* Reconcile every VM; see workflow.h. */
void
workflow_reconcile_all(void)
{
	struct reg_vm	*vm;

	TAILQ_FOREACH(vm, &wf_g.reg->vms, entry)
		workflow_reconcile_vm(vm);
}

/* Stop calling back owner; see workflow.h. */
void
workflow_forget_owner(void *owner)
{
	struct workflow	*wf;

	TAILQ_FOREACH(wf, &wf_g.all, entry)
		if (wf->arg == owner)
			wf->cb = NULL;
}

/* Cancel a workflow's backend op and finish it with code. */
static void
wf_abort(struct workflow *wf, int code, const char *why)
{
	if (wf->op != NULL) {
		backend_cancel(wf->op);
		wf->op = NULL;
	}
	wf_finish(wf, code, "%s", why);
}

/* A VM was removed; see workflow.h. */
void
workflow_vm_removed(const char *uuid)
{
	struct wf_vm	*wv;

	TAILQ_FOREACH(wv, &wf_g.vms, entry)
		if (strcasecmp(wv->uuid, uuid) == 0)
			break;
	if (wv == NULL)
		return;
	if (wv->active != NULL)
		wf_abort(wv->active, EVG_UNAVAILABLE, "the VM was removed "
		    "while the operation ran; the catalog is checked when it "
		    "is registered again");
	TAILQ_REMOVE(&wf_g.vms, wv, entry);
	catalog_free(wv->cat);
	free(wv);
}

/* Cancel everything and free the catalogs. */
void
workflow_shutdown(void)
{
	struct wf_vm	*wv;

	while ((wv = TAILQ_FIRST(&wf_g.vms)) != NULL) {
		if (wv->active != NULL) {
			wv->active->cb = NULL;
			wf_abort(wv->active, EVG_UNAVAILABLE, "shutting down");
		}
		TAILQ_REMOVE(&wf_g.vms, wv, entry);
		catalog_free(wv->cat);
		free(wv);
	}
	free(wf_g.catdir);
	wf_g.catdir = NULL;
}
