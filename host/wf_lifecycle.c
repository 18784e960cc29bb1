/*
 * A VM's life as pillar reports it, seen from the images: `starting` is
 * the barrier before QEMU opens them (a scheduled rollback is applied and
 * an offline operation finishes first), `running` is refused while an
 * offline operation still holds them, and `vm update` waits for no
 * operation at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "status.h"
#include "workflow_impl.h"
#include "xmalloc.h"

/* What the VM's running operation is, for BUSY messages. */
static void
wf_describe_active(const struct workflow *wf, const struct reg_vm *vm,
    char *buf, size_t len)
{
	const struct reg_volume	*vol = NULL;

	if (wf->cur != NULL)
		vol = wf_volume(vm, wf->cur->volume);
	else if (wf->nvols > 0 && wf->i < wf->nvols)
		vol = wf_volume(vm, wf->vols[wf->i]);
	snprintf(buf, len, "a snapshot %s%s%s%s", wf_kind_names[wf->kind],
	    vol != NULL ? " (volume '" : "", vol != NULL ? vol->name : "",
	    vol != NULL ? "')" : "");
}

/* Answer a waiting `starting` call now, if nothing holds the images. */
void
wf_settled(struct wf_vm *wv)
{
	workflow_done_cb	 cb = wv->start_cb;
	char			*msg = wv->start_msg;
	int			 code = wv->start_code;

	if (cb == NULL || wv->active != NULL ||
	    wv->cat->pending_rollback[0] != '\0')
		return;
	wv->start_cb = NULL;
	wv->start_msg = NULL;
	wv->start_code = EVG_OK;
	cb(code, msg, NULL, 0, wv->start_arg);
	free(msg);
}

/* A scheduled rollback ended; see workflow_impl.h. */
void
wf_starting_outcome(struct wf_vm *wv, int code, const char *msg)
{
	if (wv->start_cb == NULL || code == EVG_OK)
		return;
	wv->start_code = code;
	free(wv->start_msg);
	xasprintf(&wv->start_msg, "the scheduled rollback failed, so the VM "
	    "must not start: %s", msg != NULL ? msg : "");
}

/* `starting`; see workflow.h. */
int
workflow_vm_starting(struct reg_vm *vm, workflow_done_cb cb, void *arg,
    int *waiting, char **cause)
{
	struct wf_vm	*wv;

	*waiting = 0;
	if ((wv = wf_vm_get(vm->uuid, cause)) == NULL)
		return (EVG_INTERNAL);
	if (wv->start_cb != NULL) {
		xasprintf(cause, "VM %s: another `starting` call is already "
		    "waiting for its images", vm->name);
		return (EVG_BUSY);
	}
	if (wv->active == NULL && wv->cat->pending_rollback[0] == '\0')
		return (EVG_OK);
	wv->start_cb = cb;
	wv->start_arg = arg;
	wv->start_code = EVG_OK;
	*waiting = 1;
	if (wv->active == NULL)
		wf_run_pending(wv);
	if (wv->active != NULL)
		log_info("vm %s: start waits for %s", vm->uuid,
		    wv->cat->pending_rollback[0] != '\0' ?
		    "the scheduled rollback" : "the running operation");
	wf_settled(wv);
	return (EVG_OK);
}

/* Whether an operation holds the VM; see workflow.h. */
int
workflow_vm_idle(const struct reg_vm *vm, int offline_only, char **cause)
{
	struct wf_vm	*wv;
	char		 what[160];

	if ((wv = wf_vm_find(vm->uuid)) == NULL)
		return (EVG_OK);
	if (wv->start_cb != NULL) {
		xasprintf(cause, "VM %s: a `starting` call still waits for its "
		    "images (a scheduled rollback or an offline operation)",
		    vm->name);
		return (EVG_BUSY);
	}
	if (wv->active == NULL || (offline_only && vm->state != VM_STOPPED))
		return (EVG_OK);
	wf_describe_active(wv->active, vm, what, sizeof what);
	if (offline_only)
		xasprintf(cause, "VM %s: %s holds its images offline "
		    "(qemu-img or zfs runs on them); QEMU must not start until "
		    "it is done", vm->name, what);
	else
		xasprintf(cause, "VM %s: %s is in progress; try again when it "
		    "is done", vm->name, what);
	return (EVG_BUSY);
}
