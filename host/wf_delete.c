/*
 * The delete workflow, over a group's members (wf_group.c):
 *
 *   INTENT (every member marked deleting, one catalog write) ->
 *   BACKEND (member i) -> ... -> COMMIT -> DONE
 *
 * A backend failure at member i stops there: the members not yet deleted
 * are ready again, those deleted stay deleted, and the group left is
 * partial (its entries keep their group_size).  A crash in between is
 * finished by the catalog check: an entry marked deleting is deleted again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "status.h"
#include "workflow_impl.h"
#include "xmalloc.h"

static void	wf_delete_next(struct workflow *);

/* Stop at member i with code: the rest is ready again. */
static void
wf_delete_stop(struct workflow *wf, int code, const char *msg)
{
	const struct reg_volume	*vol;
	size_t			 j, deleted = wf->i;

	for (j = wf->i; j < wf->mem.n; j++)
		if (wf->mem.m[j]->state == SNAP_DELETING)
			wf->mem.m[j]->state = SNAP_READY;
	if (wf_commit(wf) != 0)
		return;
	vol = wf_volume(registry_find(wf_g.reg, wf->wv->uuid),
	    wf->mem.m[wf->i]->volume);
	if (wf->mem.n == 1)
		wf_finish(wf, code, "%s", msg);
	else
		wf_finish(wf, code, "deleting snapshot group '%s': volume "
		    "'%s': %s (%zu of its %zu members were deleted%s)",
		    wf->name, vol != NULL ? vol->name : wf->mem.m[wf->i]->volume,
		    msg, deleted, wf->mem.n, deleted > 0 ?
		    "; the group is partial now" : "; nothing changed");
}

/* delete/BACKEND done for member i. */
static void
wf_delete_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;

	wf->op = NULL;
	if (r->code != EVG_OK) {
		wf_delete_stop(wf, r->code, r->message);
		return;
	}
	wf_out_add(wf, wf->cur, NULL);
	log_info("vm %s: snapshot '%s' (%s, group %s) deleted", wf->wv->uuid,
	    wf->cur->name, wf->cur->uuid, wf->cur->group);
	catalog_remove(wf->wv->cat, wf->cur);
	wf->mem.m[wf->i] = wf->cur = NULL;
	wf->i++;
	wf_delete_next(wf);
}

/* delete/BACKEND: the next member, or COMMIT. */
static void
wf_delete_next(struct workflow *wf)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);

	if (wf->i == wf->mem.n) {
		if (wf_commit(wf) != 0)
			return;
		wf_finish(wf, EVG_OK, NULL);
		return;
	}
	wf->cur = wf->mem.m[wf->i];
	if (wf->cur->state == SNAP_MISSING) {
		/* The backend lost it already: only the record goes. */
		wf_delete_done(&(struct backend_result){ .code = EVG_OK }, wf);
		return;
	}
	wf->dl.state = DELETE_BACKEND;
	wf_backend(wf, BACKEND_DELETE, wf_volume(vm, wf->cur->volume),
	    wf->cur->tag, wf_delete_done);
}

/* Start a delete; see workflow.h. */
int
wf_delete_start(const struct workflow_params *p, workflow_done_cb cb,
    void *arg, char **cause)
{
	struct wf_vm		*wv;
	struct reg_vm		*vm;
	struct workflow		*wf;
	struct wf_members	 mem;
	struct cat_snap		*cs;
	char			*why;
	size_t			 i;
	int			 rc;

	if ((rc = wf_begin(p->vm, WF_DELETE, &wv, &vm, cause)) != EVG_OK)
		return (rc);
	if ((rc = wf_resolve_group(wv, vm, p->snapshot, NULL, 0, p->member,
	    &mem, cause)) != EVG_OK)
		return (rc);
	for (i = 0; i < mem.n; i++) {
		cs = mem.m[i];
		if (cs->state == SNAP_CREATING || cs->state == SNAP_DELETING) {
			xasprintf(cause, "snapshot %s is %s; the host is still "
			    "finishing that", cs->uuid,
			    snap_state_name(cs->state));
			return (EVG_FAILED_PRECONDITION);
		}
		if (strcasecmp(wv->cat->pending_rollback, cs->group) == 0 ||
		    strcasecmp(wv->cat->pending_rollback, cs->uuid) == 0) {
			xasprintf(cause, "a rollback to snapshot %s is "
			    "scheduled for when the VM stops; it cannot be "
			    "deleted before", p->snapshot);
			return (EVG_FAILED_PRECONDITION);
		}
	}
	wf = wf_new(WF_DELETE, wv, cb, arg);
	wf->mem = mem;
	wf->name = xstrdup(mem.m[0]->name);
	snprintf(wf->target, sizeof wf->target, "%s", mem.n == 1 ?
	    mem.m[0]->uuid : mem.group);
	wf->dl.state = DELETE_INTENT;
	for (i = 0; i < mem.n; i++)
		if (mem.m[i]->state == SNAP_READY)
			mem.m[i]->state = SNAP_DELETING;
	if (catalog_commit(wv->cat, &why) != 0) {
		/* Nothing happened: the entries are as they were. */
		for (i = 0; i < mem.n; i++)
			if (mem.m[i]->state == SNAP_DELETING)
				mem.m[i]->state = SNAP_READY;
		wf_commit_failed(wf, why);
		return (EVG_OK);
	}
	wf->i = 0;
	wf_delete_next(wf);
	return (EVG_OK);
}
