/*
 * The reconcile workflow (catalog check): LIST (each volume) -> settle
 * the groups a crash left half-made -> [REDELETE] -> COMMIT -> DONE, at start, when a known VM is registered
 * again, and every reconcile_retry seconds while entries are unfinished.
 */
#include <sys/stat.h>

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

static void	wf_redelete_done(const struct backend_result *, void *);
static void	wf_redelete_next(struct workflow *);
static void	wf_list_done(const struct backend_result *, void *);
static void	wf_list_next(struct workflow *);
static void	workflow_reconcile_vm(struct reg_vm *);
static int	wf_unfinished(const struct catalog *);
static void	wf_retry_arm(void);
static void	wf_retry_cb(evutil_socket_t, short, void *);

/* reconcile/REDELETE done: the interrupted delete is finished. */
static void
wf_redelete_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;

	wf->op = NULL;
	if (r->code != EVG_OK && wf->cur->group_size > 1) {
		/* Never a partial group listed as ready: retried later. */
		log_warnx("vm %s: finishing the delete of snapshot %s (group "
		    "%s) failed: %s; it stays listed as deleting and is "
		    "deleted again every %u s", wf->wv->uuid, wf->cur->uuid,
		    wf->cur->group, r->message, wf_g.cf->reconcile_retry);
	} else if (r->code != EVG_OK) {
		log_warnx("vm %s: finishing the delete of snapshot %s failed: "
		    "%s; it is listed as ready again", wf->wv->uuid,
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

/*
 * reconcile/REDELETE: delete again the next entry left deleting (an
 * interrupted delete, or a member of a group a crash left half-made) on
 * a volume the VM has, each once per check; then finish.
 */
static void
wf_redelete_next(struct workflow *wf)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);
	struct cat_snap	*cs;

	TAILQ_FOREACH(cs, &wf->wv->cat->snaps, entry) {
		if (cs->state == SNAP_DELETING && cs->checked && cs->seen &&
		    !cs->tried && wf_volume(vm, cs->volume) != NULL) {
			cs->tried = 1;
			wf->cur = cs;
			wf->rc.state = RECONCILE_REDELETE;
			wf_backend(wf, BACKEND_DELETE, wf_volume(vm,
			    cs->volume), cs->tag, wf_redelete_done);
			return;
		}
	}
	wf_finish(wf, EVG_OK, NULL);
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
	wf->i++;
	wf_list_next(wf);
}

/* reconcile/LIST: list the next volume; after the last, settle groups. */
static void
wf_list_next(struct workflow *wf)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);

	if (wf->i == wf->nvols) {
		if (catalog_settle_groups(wf->wv->cat) != 0 &&
		    wf_commit(wf) != 0)
			return;
		wf_redelete_next(wf);
		return;
	}
	wf->rc.state = RECONCILE_LIST;
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
	struct cat_snap	*cs;
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
	TAILQ_FOREACH(cs, &wv->cat->snaps, entry)
		cs->checked = cs->seen = cs->tried = 0;
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
		/* An unplug the guest had not done: look again. */
		if (wv->active == NULL && wv->cat != NULL &&
		    wv->cat->online != NULL) {
			wv->online_checked = 0;
			wf_run_pending(wv);
		}
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
