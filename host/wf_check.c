/* The pre-flight check of a guest-triggered create: SPACE -> DONE. */
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

/* Finish a check: the verdict and what it found, to its requester. */
void
wf_check_finish(struct workflow *wf, int code, const char *fmt, ...)
{
	struct reg_vm		 *vm = registry_find(wf_g.reg, wf->wv->uuid);
	Evg__CheckResult	  cr = EVG__CHECK_RESULT__INIT;
	va_list			  ap;
	char			 *msg = NULL;
	size_t			  i;

	if (fmt != NULL) {
		va_start(ap, fmt);
		xvasprintf(&msg, fmt, ap);
		va_end(ap);
	}
	if (code == EVG_OK && wf->wv->active != NULL) {
		code = EVG_BUSY;
		xasprintf(&msg, "a snapshot %s is in progress for this VM",
		    wf_kind_names[wf->wv->active->kind]);
	}
	cr.code = (uint32_t)code;
	cr.message = msg != NULL ? msg : (char *)"a snapshot would go ahead";
	cr.free_bytes = wf->free_bytes;
	cr.need_bytes = wf->need_bytes;
	cr.reserve_bytes = wf_g.cf->space_reserve;
	if (vm != NULL) {
		cr.online_rollback_why = (char *)wf_online_volumes_refusal(
		    wf->wv, vm, wf->vols, wf->nvols);
		cr.online_rollback = cr.online_rollback_why == NULL;
		if (cr.online_rollback_why == NULL)
			cr.online_rollback_why = (char *)"";
	}
	cr.volumes = xcalloc(wf->nvols, sizeof *cr.volumes);
	for (i = 0; vm != NULL && i < wf->nvols; i++) {
		cr.volumes[i] = xmalloc(sizeof *cr.volumes[i]);
		evg__volume__init(cr.volumes[i]);
		cr.volumes[i]->uuid = wf->vols[i];
		cr.volumes[i]->name = wf_volume(vm, wf->vols[i])->name;
		cr.volumes[i]->backend = wf_volume(vm, wf->vols[i])->backend;
		cr.n_volumes++;
	}
	if (wf->check_cb != NULL)
		wf->check_cb(EVG_OK, NULL, &cr, wf->arg);
	for (i = 0; i < cr.n_volumes; i++)
		free(cr.volumes[i]);
	free(cr.volumes);
	free(msg);
	wf_release(wf);
}

/* Start a pre-flight check; see workflow.h. */
int
workflow_check(const struct workflow_params *p, workflow_check_cb cb,
    void *arg, char **cause)
{
	struct wf_vm	*wv;
	struct reg_vm	*vm;
	struct workflow	*wf;
	char		**vols;
	size_t		 nvols;
	int		 rc;

	if ((rc = wf_begin(p->vm, WF_CHECK, &wv, &vm, cause)) != EVG_OK)
		return (rc);
	if ((rc = workflow_match_disks(vm->uuid, p->disks, p->ndisks, &vols,
	    &nvols, cause)) != EVG_OK)
		return (rc);
	wf = wf_new(WF_CHECK, wv, NULL, arg);
	wf->check_cb = cb;
	wf->vols = vols;
	wf->nvols = nvols;
	wf_space_next(wf);
	return (EVG_OK);
}
