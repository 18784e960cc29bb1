/* The delete workflow: INTENT -> BACKEND -> COMMIT -> DONE. */
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

static void	wf_delete_done(const struct backend_result *, void *);

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
	wf->dl.gone = snapinfo_from_cat(wf->cur, vm);
	log_info("vm %s: snapshot '%s' (%s) deleted", wf->wv->uuid,
	    wf->cur->name, wf->cur->uuid);
	catalog_remove(wf->wv->cat, wf->cur);
	wf->cur = NULL;
	if (wf_commit(wf) != 0)
		return;
	wf_finish(wf, EVG_OK, NULL);
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
	wf->dl.state = DELETE_BACKEND;
	wf_backend(wf, BACKEND_DELETE, wf_volume(vm, cs->volume), cs->tag,
	    wf_delete_done);
	return (EVG_OK);
}
