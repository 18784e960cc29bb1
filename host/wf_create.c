/*
 * Snapshot create, with the guest's freeze when one is wanted, and its
 * pre-flight check.  The freeze steps talk to the guest over a session
 * (session_request()); the session is looked up by serial at every step,
 * so a guest that goes away is noticed, never dereferenced.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "jsonout.h"
#include "log.h"
#include "status.h"
#include "text.h"
#include "workflow_impl.h"
#include "xmalloc.h"

/*
 * Test hook (docs/snapshots.md): with EVG_TEST_KILL_POINT set to
 * "after-backend-create" the daemon kills itself with SIGKILL right after a
 * backend created a snapshot and before the catalog records it, to prove
 * that reconciliation lists it exactly once after a restart.
 */
#define WF_KILL_ENV	"EVG_TEST_KILL_POINT"
/* Caps on a guest's hook text relayed in errors and events (bytes). */
#define WF_HOOK_TAIL_MAX	512
#define WF_HOOK_FIELD_MAX	256

static void	wf_space_next(struct workflow *);
static void	wf_snap_next(struct workflow *);
static void	wf_thaw(struct workflow *);
static void	wf_cleanup_next(struct workflow *);
static void	wf_freeze(struct workflow *);
static void	wf_commit_all(struct workflow *);
static void	wf_freeze_lost(struct workflow *, int, const char *);
static void	wf_fail(struct workflow *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* True if two identifiers name the same disk (WWNs ignore case). */
static int
wf_id_equal(const char *k1, const char *v1, const char *k2, const char *v2)
{
	if (strcmp(k1, k2) != 0)
		return (0);
	return (strcmp(k1, "wwn") == 0 ? strcasecmp(v1, v2) == 0 :
	    strcmp(v1, v2) == 0);
}

/*
 * The volume a disk reference names: one sharing a serial, WWN or backing
 * file; failing that, one registered by PCI address only that shares it
 * (disks on one SCSI controller share its PCI address, so a PCI match
 * alone is trusted only for volumes that have nothing better).
 */
static const struct reg_volume *
wf_match_disk(const struct reg_vm *vm, const Evg__DiskRef *d)
{
	const struct reg_volume	*vol, *weak = NULL;
	size_t			 i, j, k;
	int			 pci_only;

	for (i = 0; i < vm->nvolumes; i++) {
		vol = &vm->volumes[i];
		pci_only = 1;
		for (j = 0; j < vol->ndisks; j++)
			if (strcmp(vol->disks[j].kind, "pci") != 0)
				pci_only = 0;
		for (j = 0; j < vol->ndisks; j++) {
			for (k = 0; k < d->n_ids; k++) {
				if (!wf_id_equal(vol->disks[j].kind,
				    vol->disks[j].value, d->ids[k]->kind,
				    d->ids[k]->value))
					continue;
				if (strcmp(d->ids[k]->kind, "pci") != 0)
					return (vol);
				if (pci_only && weak == NULL)
					weak = vol;
			}
		}
	}
	return (weak);
}

/* Map disk references to volume UUIDs; see workflow.h. */
int
workflow_match_disks(const char *vm_uuid, Evg__DiskRef *const *disks,
    size_t n, char ***vols, size_t *nvols, char **cause)
{
	const struct reg_vm	*vm;
	const struct reg_volume	*vol;
	size_t			 i, j;

	*vols = NULL;
	*nvols = 0;
	if ((vm = registry_find(wf_g.reg, vm_uuid)) == NULL) {
		xasprintf(cause, "no VM %s is registered", vm_uuid);
		return (EVG_NOT_FOUND);
	}
	if (n == 0) {
		xasprintf(cause, "disk: no disk given");
		return (EVG_INVALID_ARGUMENT);
	}
	for (i = 0; i < n; i++) {
		if ((vol = wf_match_disk(vm, disks[i])) == NULL) {
			xasprintf(cause, "disk %s%s%s%s is not one of VM %s's "
			    "EVE volumes", disks[i]->device,
			    disks[i]->n_ids > 0 ? " (" : "",
			    disks[i]->n_ids > 0 ? disks[i]->ids[0]->kind : "",
			    disks[i]->n_ids > 0 ? ")" : " (no identifiers)",
			    vm->name);
			for (j = 0; j < *nvols; j++)
				free((*vols)[j]);
			free(*vols);
			*vols = NULL;
			*nvols = 0;
			return (EVG_NOT_FOUND);
		}
		for (j = 0; j < *nvols; j++)
			if (strcasecmp((*vols)[j], vol->uuid) == 0)
				break;
		if (j < *nvols)
			continue;
		*vols = xreallocarray(*vols, *nvols + 1, sizeof **vols);
		(*vols)[(*nvols)++] = xstrdup(vol->uuid);
	}
	return (EVG_OK);
}

/*
 * An owned copy of a disk reference, rebuilt from its known fields (never
 * through the wire format: nothing a guest sends may fail a copy).  Freed
 * with evg__disk_ref__free_unpacked(), like an unpacked one.
 */
static Evg__DiskRef *
wf_copy_disk(const Evg__DiskRef *d)
{
	Evg__DiskRef	*c;
	size_t		 i;

	c = xmalloc(sizeof *c);
	evg__disk_ref__init(c);
	c->device = xstrdup(d->device != NULL ? d->device : "");
	c->ids = xcalloc(d->n_ids != 0 ? d->n_ids : 1, sizeof *c->ids);
	for (i = 0; i < d->n_ids; i++) {
		c->ids[i] = xmalloc(sizeof *c->ids[i]);
		evg__disk_id__init(c->ids[i]);
		c->ids[i]->kind = xstrdup(d->ids[i]->kind != NULL ?
		    d->ids[i]->kind : "");
		c->ids[i]->value = xstrdup(d->ids[i]->value != NULL ?
		    d->ids[i]->value : "");
	}
	c->n_ids = d->n_ids;
	return (c);
}

/* Disk references for a volume from its registered identifiers. */
Evg__DiskRef *
wf_volume_disk(const struct reg_volume *vol)
{
	Evg__DiskRef	 d = EVG__DISK_REF__INIT, *c;
	Evg__DiskId	*ids, **idp;
	size_t		 i;

	ids = xcalloc(vol->ndisks, sizeof *ids);
	idp = xcalloc(vol->ndisks, sizeof *idp);
	for (i = 0; i < vol->ndisks; i++) {
		evg__disk_id__init(&ids[i]);
		ids[i].kind = vol->disks[i].kind;
		ids[i].value = vol->disks[i].value;
		idp[i] = &ids[i];
	}
	d.device = (char *)"";
	d.ids = idp;
	d.n_ids = vol->ndisks;
	c = wf_copy_disk(&d);
	free(ids);
	free(idp);
	return (c);
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
static int
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
static int
wf_send(struct workflow *wf, Evg__Envelope *env, guest_reply_cb cb)
{
	return (wf_send_within(wf, env, 0, cb));
}

/*
 * The reply's status and freeze report; on a missing reply (why set) or a
 * failure, 0 with *code and *msg; NULL report if the reply carried none.
 */
static const Evg__FreezeReport *
wf_report(const Evg__Envelope *env, int *code, const char **msg)
{
	*code = EVG_OK;
	*msg = "";
	if (env == NULL || env->reply == NULL || env->reply->status == NULL) {
		*code = EVG_UNAVAILABLE;
		return (NULL);
	}
	*code = (int)env->reply->status->code;
	*msg = env->reply->status->message;
	if (*code == EVG_OK &&
	    env->reply->result_case != EVG__REPLY__RESULT_FREEZE_REPORT) {
		*code = EVG_INTERNAL;
		*msg = "the guest's reply carries no freeze report";
	}
	return (*code == EVG_OK ? env->reply->freeze_report : NULL);
}

/* A guest request failed to get an answer: why, and is it still there? */
static void
wf_guest_gone(struct workflow *wf, const char *step, const char *why)
{
	if (wf_guest(wf))
		wf_fail(wf, EVG_TIMEOUT, "%s: %s", step, why);
	else {
		/* A guest that loses its host connection thaws at once. */
		wf->frozen = 0;
		wf_fail(wf, EVG_UNAVAILABLE, "%s: the guest agent went away "
		    "(%s); nothing is kept", step, why);
	}
}

/* An event of this workflow. */
void
wf_event(struct workflow *wf, const char *kind, int code, const char *fmt,
    ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatalx("%s: vasprintf", __func__);
	va_end(ap);
	events_emit(kind, wf->wv->uuid, wf_kind_names[wf->kind],
	    wf->kind == WF_CREATE ? NULL : wf->target, wf->name, code, "%s",
	    msg);
	free(msg);
}

/* Hook timeout for the guest, and how long the host waits for it. */
static unsigned int
wf_hook_wait_ms(struct workflow *wf)
{
	return (wf->hook_timeout_ms + wf_g.cf->guest_timeout * 1000);
}

/* Ask the guest daemon to run the hooks of a phase. */
int
wf_hook(struct workflow *wf, const char *phase, guest_reply_cb cb)
{
	Evg__Envelope		 env = EVG__ENVELOPE__INIT;
	Evg__HookRequest	 hr = EVG__HOOK_REQUEST__INIT;

	if (!wf_guest(wf))
		return (GUEST_REQ_GONE);
	hr.phase = (char *)phase;
	hr.operation = (char *)(wf->kind == WF_ROLLBACK ? "rollback" :
	    "create");
	hr.snapshot_name = wf->name;
	hr.snapshot_uuid = wf->target;
	hr.disks = wf->disks;
	hr.n_disks = wf->ndisks;
	hr.timeout_ms = wf->hook_timeout_ms;
	env.body_case = EVG__ENVELOPE__BODY_HOOK;
	env.hook = &hr;
	wf_event(wf, !strcmp(phase, "pre") ? "pre-started" : "post-started",
	    0, "running the guest's %s hooks", phase);
	return (wf_send_within(wf, &env, wf_hook_wait_ms(wf), cb));
}

/*
 * Read a hook report: 1 if the phase went well; else 0 with *msg (caller
 * frees) naming the hook that failed, how, and the tail of its output.
 */
int
wf_hook_outcome(const Evg__Envelope *env, const char *why, int *exit_code,
    char **msg)
{
	const Evg__HookReport	*hr;
	const Evg__HookResult	*r;
	const char		*out;
	char			*path, *reason, *status;
	size_t			 i, len, start;

	*exit_code = -1;
	if (env == NULL) {
		xasprintf(msg, "no answer from the guest agent: %s", why);
		return (0);
	}
	if (env->reply == NULL || env->reply->status == NULL ||
	    env->reply->status->code != EVG_OK ||
	    env->reply->result_case != EVG__REPLY__RESULT_HOOK_REPORT) {
		out = env->reply != NULL && env->reply->status != NULL ?
		    env->reply->status->message : "bad reply";
		xasprintf(msg, "the guest agent could not run the hooks: %.*s",
		    (int)text_utf8_prefix(out, strlen(out), WF_HOOK_FIELD_MAX),
		    out);
		return (0);
	}
	hr = env->reply->hook_report;
	for (i = 0; i < hr->n_results; i++) {
		r = hr->results[i];
		if (strcmp(r->status, "ok") == 0 ||
		    strcmp(r->status, "skipped") == 0)
			continue;
		*exit_code = r->exit_code;
		out = r->output;
		len = strlen(out);
		while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' '))
			len--;
		/* The guest's text, capped on character boundaries. */
		start = text_utf8_suffix(out, len, WF_HOOK_TAIL_MAX);
		out += start;
		len -= start;
		path = text_cut(xstrdup(r->path), WF_HOOK_FIELD_MAX);
		if (strcmp(r->status, "failed") == 0 && r->exit_code >= 0)
			xasprintf(msg, "%s exited %d%s%.*s", path,
			    r->exit_code, len > 0 ? ": " : "", (int)len, out);
		else {
			reason = text_cut(xstrdup(*r->reason != '\0' ?
			    r->reason : "no reason given"), WF_HOOK_FIELD_MAX);
			status = text_cut(xstrdup(r->status),
			    WF_HOOK_FIELD_MAX);
			xasprintf(msg, "%s %s (%s)%s%.*s", path, status,
			    reason, len > 0 ? ": " : "", (int)len, out);
			free(reason);
			free(status);
		}
		free(path);
		return (0);
	}
	if (!hr->ok) {
		xasprintf(msg, "the guest reports the hooks failed");
		return (0);
	}
	*exit_code = 0;
	return (1);
}

/* True if a hook report says some hook ran successfully. */
static int
wf_hooks_any_ok(const Evg__Envelope *env)
{
	const Evg__HookReport	*hr;
	size_t			 i;

	if (env == NULL || env->reply == NULL ||
	    env->reply->result_case != EVG__REPLY__RESULT_HOOK_REPORT)
		return (0);
	hr = env->reply->hook_report;
	for (i = 0; i < hr->n_results; i++)
		if (strcmp(hr->results[i]->status, "ok") == 0)
			return (1);
	return (0);
}

/* create/PRE done: freeze, or stop here with nothing frozen. */
static void
wf_pre_reply(const Evg__Envelope *env, const char *why, void *arg)
{
	struct workflow	*wf = arg;
	char		*msg;
	int		 code;

	if (!wf_hook_outcome(env, why, &code, &msg)) {
		wf_event(wf, "pre-finished", code, "%s", msg);
		/* What the hooks that did succeed set up must be undone. */
		wf->pre_ok = wf_hooks_any_ok(env);
		wf_fail(wf, EVG_HOOK_FAILED, "pre hook failed, nothing was "
		    "frozen: %s", msg);
		free(msg);
		return;
	}
	wf_event(wf, "pre-finished", 0, "pre hooks finished");
	wf->pre_ok = 1;
	wf_freeze(wf);
}

/* create/POST done: the snapshot stands either way. */
static void
wf_post_reply(const Evg__Envelope *env, const char *why, void *arg)
{
	struct workflow	*wf = arg;
	char		*msg;
	int		 code;

	wf->post_done = 1;
	if (!wf_hook_outcome(env, why, &code, &msg)) {
		wf_event(wf, "post-finished", code, "%s", msg);
		wf->post_failed = msg;
	} else
		wf_event(wf, "post-finished", 0, "post hooks finished");
	wf_commit_all(wf);
}

/* create/SPACE done for volume i (check: remember the tightest). */
static void
wf_space_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);
	const struct reg_volume *vol = wf_volume(vm, wf->vols[wf->i]);
	char		 f[32], n[32], res[32];

	wf->op = NULL;
	if (r->code != EVG_OK) {
		if (wf->kind == WF_CHECK)
			wf_check_finish(wf, r->code, "%s", r->message);
		else
			wf_finish(wf, r->code, "%s", r->message);
		return;
	}
	/* A check reports the volume with the least room to spare. */
	if (wf->i == 0 || (int64_t)(r->free_bytes - r->need_bytes) <
	    (int64_t)(wf->free_bytes - wf->need_bytes)) {
		wf->free_bytes = r->free_bytes;
		wf->need_bytes = r->need_bytes;
	}
	if (r->free_bytes < r->need_bytes + wf_g.cf->space_reserve) {
		jsonout_size(f, sizeof f, r->free_bytes);
		jsonout_size(n, sizeof n, r->need_bytes);
		jsonout_size(res, sizeof res, wf_g.cf->space_reserve);
		wf->free_bytes = r->free_bytes;
		wf->need_bytes = r->need_bytes;
		if (wf->kind == WF_CHECK)
			wf_check_finish(wf, EVG_NO_SPACE, "not enough free "
			    "space on EVE storage: %s free, snapshot of volume "
			    "'%s' may need up to %s (plus a %s reserve)", f,
			    vol->name, n, res);
		else
			wf_finish(wf, EVG_NO_SPACE, "not enough free space on "
			    "EVE storage: %s free, snapshot of volume '%s' may "
			    "need up to %s (plus a %s reserve)", f, vol->name,
			    n, res);
		return;
	}
	wf->i++;
	wf_space_next(wf);
}

/* Why a create fails when the guest's lease ran out while frozen. */
static void
wf_lease_lost_message(char *buf, size_t len)
{
	snprintf(buf, len, "the guest's freeze lease ran out before the "
	    "snapshot was finished, so the snapshot is not filesystem-"
	    "consistent; nothing is kept (freeze_lease_ms is %u)",
	    wf_g.cf->freeze_lease_ms);
}

/* The workflow's renewal period: a third of the lease. */
static void
wf_renew_arm(struct workflow *wf)
{
	struct timeval	tv;
	unsigned int	ms = wf_g.cf->freeze_lease_ms / 3;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(wf->renew, &tv);
}

/* A renewal answer: a refused or missing one means the lease is gone. */
static void
wf_renew_reply(const Evg__Envelope *env, const char *why, void *arg)
{
	struct workflow	*wf = arg;
	int		 code = EVG_UNAVAILABLE;
	char		 msg[256];

	if (env != NULL && env->reply != NULL && env->reply->status != NULL)
		code = (int)env->reply->status->code;
	if (code != EVG_OK) {
		log_warnx("vm %s: freeze lease renewal failed: %s", wf->wv->uuid,
		    env != NULL && env->reply != NULL &&
		    env->reply->status != NULL ? env->reply->status->message :
		    why);
		wf->lease_lost = 1;
		/* Refused as run out: the guest thawed; fail now. */
		if (code == EVG_FAILED_PRECONDITION && wf->state == WF_BACKEND) {
			wf_lease_lost_message(msg, sizeof msg);
			wf_freeze_lost(wf, EVG_TIMEOUT, msg);
		}
		return;
	}
	if (wf->state == WF_BACKEND)
		wf_renew_arm(wf);
}

/* Timer: renew the guest's freeze lease while the backend works. */
static void
wf_renew_cb(evutil_socket_t fd, short events, void *arg)
{
	struct workflow		*wf = arg;
	Evg__Envelope		 env = EVG__ENVELOPE__INIT;
	Evg__FreezeRenewRequest	 rr = EVG__FREEZE_RENEW_REQUEST__INIT;

	(void)fd;
	(void)events;
	rr.lease_ms = wf_g.cf->freeze_lease_ms;
	env.body_case = EVG__ENVELOPE__BODY_FREEZE_RENEW;
	env.freeze_renew = &rr;
	if (wf_send(wf, &env, wf_renew_reply) != 0)
		wf->lease_lost = 1;
}

/*
 * The freeze report a VERIFY step got, or NULL after failing the workflow
 * (no answer, or an error) with step named in the message.
 */
static const Evg__FreezeReport *
wf_verify_report(struct workflow *wf, const Evg__Envelope *env,
    const char *why, const char *step)
{
	const Evg__FreezeReport	*fr;
	const char		*msg;
	int			 code;

	if (env == NULL) {
		wf_guest_gone(wf, step, why);
		return (NULL);
	}
	if ((fr = wf_report(env, &code, &msg)) == NULL)
		wf_fail(wf, code, "%s: %s", step, msg);
	return (fr);
}

/* Ask the guest for its freeze state (VERIFY); then cb. */
static void
wf_verify(struct workflow *wf, guest_reply_cb cb, const char *step)
{
	Evg__Envelope			env = EVG__ENVELOPE__INIT;
	Evg__FreezeStatusRequest	st = EVG__FREEZE_STATUS_REQUEST__INIT;

	wf->state = WF_VERIFY;
	env.body_case = EVG__ENVELOPE__BODY_FREEZE_STATUS;
	env.freeze_status = &st;
	if (wf_send(wf, &env, cb) != 0)
		wf_guest_gone(wf, step, "not connected");
}

/* create/VERIFY: the guest confirms what is frozen; snapshot now. */
static void
wf_verify_frozen(const Evg__Envelope *env, const char *why, void *arg)
{
	struct workflow			*wf = arg;
	const Evg__FreezeReport		*fr;

	if ((fr = wf_verify_report(wf, env, why, "checking the freeze")) ==
	    NULL)
		return;
	if (wf->frozen_count > 0 && !fr->frozen) {
		wf_fail(wf, EVG_FREEZE_FAILED, "the guest reports its "
		    "filesystems are not frozen any more (did the lease run "
		    "out?)");
		return;
	}
	wf->renew = evtimer_new(wf_g.base, wf_renew_cb, wf);
	wf_renew_arm(wf);
	wf->i = 0;
	wf_snap_next(wf);
}

/* create/FREEZE: the guest froze (or could not). */
static void
wf_freeze_reply(const Evg__Envelope *env, const char *why, void *arg)
{
	struct workflow			*wf = arg;
	const Evg__FreezeReport		*fr;
	const char			*msg;
	size_t				 i;
	int				 code;

	if (env == NULL) {
		wf->frozen = 1;
		wf_guest_gone(wf, "freezing the guest's filesystems", why);
		return;
	}
	if ((fr = wf_report(env, &code, &msg)) == NULL) {
		wf_fail(wf, code, "the guest could not freeze its "
		    "filesystems: %s", msg);
		return;
	}
	wf->frozen = 1;
	wf->frozen_count = fr->frozen_count;
	wf->record = xcalloc(1, sizeof *wf->record);
	for (i = 0; i < fr->n_mounts; i++)
		catalog_add_mount(wf->record, fr->mounts[i]->mountpoint,
		    fr->mounts[i]->fstype, fr->mounts[i]->device,
		    fr->mounts[i]->action, fr->mounts[i]->reason);
	if (wf->consistency == NULL) {
		/* Guest-triggered: the level is what the freeze achieved. */
		wf->consistency = xstrdup(fr->frozen_count > 0 ? "fs" :
		    "crash");
	} else if (fr->frozen_count == 0) {
		wf_fail(wf, EVG_FAILED_PRECONDITION, "consistency '%s' was "
		    "asked for, but no filesystem on the volumes could be "
		    "frozen (%zu mounts, all skipped)", wf->consistency,
		    fr->n_mounts);
		return;
	}
	wf_event(wf, "frozen", 0, "guest froze %u filesystems (%zu mounts "
	    "on the disks)", fr->frozen_count, fr->n_mounts);
	wf_verify(wf, wf_verify_frozen, "checking the freeze");
}

/* create/FREEZE: ask the guest to freeze the target disks. */
static void
wf_freeze(struct workflow *wf)
{
	Evg__Envelope		env = EVG__ENVELOPE__INIT;
	Evg__FreezeRequest	fr = EVG__FREEZE_REQUEST__INIT;
	int			rc;

	wf->state = WF_FREEZE;
	fr.disks = wf->disks;
	fr.n_disks = wf->ndisks;
	fr.lease_ms = wf_g.cf->freeze_lease_ms;
	env.body_case = EVG__ENVELOPE__BODY_FREEZE;
	env.freeze = &fr;
	rc = wf_send(wf, &env, wf_freeze_reply);
	if (rc == GUEST_REQ_TOO_BIG)
		wf_fail(wf, EVG_INVALID_ARGUMENT, "the disks named do not fit "
		    "in one freeze request (%zu disks over the guest frame "
		    "cap); nothing was frozen", wf->ndisks);
	else if (rc != 0)
		wf_fail(wf, EVG_UNAVAILABLE, "the guest agent is not connected "
		    "any more; nothing was frozen");
}

/* create/SPACE: check the next volume, or move on. */
static void
wf_space_next(struct workflow *wf)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);

	if (wf->i == wf->nvols) {
		if (wf->kind == WF_CHECK) {
			wf_check_finish(wf, EVG_OK, NULL);
			return;
		}
		wf->i = 0;
		if (wf->guest != 0 && wf->app) {
			wf->state = WF_PRE;
			if (wf_hook(wf, "pre", wf_pre_reply) != 0)
				wf_fail(wf, EVG_UNAVAILABLE, "the guest agent "
				    "went away before the pre hooks");
		} else if (wf->guest != 0)
			wf_freeze(wf);
		else
			wf_snap_next(wf);
		return;
	}
	wf->state = WF_SPACE;
	wf_backend(wf, BACKEND_SPACE, wf_volume(vm, wf->vols[wf->i]), NULL,
	    wf_space_done);
}

/* COMMIT: every snapshot is made and the guest thawed: record them. */
static void
wf_commit_all(struct workflow *wf)
{
	struct cat_snap	*cs;
	size_t		 i;

	for (i = 0; i < wf->ndone; i++) {
		if ((cs = catalog_find(wf->wv->cat, wf->done[i])) == NULL)
			continue;
		cs->state = SNAP_READY;
		cs->freeze_ms = wf->freeze_ms;
		if (wf->idem_key != NULL)
			cs->idem_key = xstrdup(wf->idem_key);
		log_info("vm %s: snapshot '%s' (%s) of volume %s created, %s",
		    wf->wv->uuid, cs->name, cs->uuid, cs->volume,
		    cs->consistency);
	}
	if (wf_commit(wf) != 0)
		return;
	wf_event(wf, "committed", 0, "%zu snapshot%s recorded, consistency %s",
	    wf->ndone, wf->ndone == 1 ? "" : "s", wf->consistency);
	if (wf->post_failed != NULL) {
		wf_finish(wf, EVG_HOOK_FAILED, "the snapshot was taken and kept "
		    "(%s), but the post hook failed: %s", wf->ndone > 0 ?
		    wf->done[0] : "", wf->post_failed);
		return;
	}
	wf_finish(wf, EVG_OK, NULL);
}

/* create/VERIFY after thaw: nothing may still be frozen. */
static void
wf_verify_thawed(const Evg__Envelope *env, const char *why, void *arg)
{
	struct workflow		*wf = arg;
	const Evg__FreezeReport	*fr;

	if ((fr = wf_verify_report(wf, env, why, "checking the thaw")) == NULL)
		return;
	if (fr->frozen) {
		wf->frozen = 1;
		wf_fail(wf, EVG_FREEZE_FAILED, "the guest still reports frozen "
		    "filesystems after the thaw");
		return;
	}
	if (wf->app) {
		wf->state = WF_POST;
		if (wf_hook(wf, "post", wf_post_reply) != 0) {
			wf->post_failed = xstrdup("the guest agent went away "
			    "before the post hooks");
			wf_commit_all(wf);
		}
		return;
	}
	wf_commit_all(wf);
}

/* create/THAW: the guest thawed. */
static void
wf_thaw_reply(const Evg__Envelope *env, const char *why, void *arg)
{
	struct workflow			*wf = arg;
	const Evg__FreezeReport		*fr;
	const char			*msg;
	int				 code;

	if (env == NULL) {
		wf_guest_gone(wf, "thawing the guest's filesystems", why);
		return;
	}
	if ((fr = wf_report(env, &code, &msg)) == NULL) {
		if (code == EVG_FAILED_PRECONDITION) {
			/* The lease ran out before the thaw: not trusted. */
			wf->frozen = 0;
			wf_fail(wf, EVG_TIMEOUT, "the guest's freeze lease ran "
			    "out before the snapshot was finished (%s); nothing "
			    "is kept", msg);
			return;
		}
		wf_fail(wf, code, "the guest could not thaw its "
		    "filesystems: %s", msg);
		return;
	}
	wf->frozen = 0;
	wf->freeze_ms = fr->duration_ms;
	wf_event(wf, "thawed", 0, "guest thawed after %u ms",
	    fr->duration_ms);
	wf_verify(wf, wf_verify_thawed, "checking the thaw");
}

/* create/THAW: every volume is snapshotted; let the guest go. */
static void
wf_thaw(struct workflow *wf)
{
	Evg__Envelope		env = EVG__ENVELOPE__INIT;
	Evg__ThawRequest	th = EVG__THAW_REQUEST__INIT;
	char			msg[256];

	evtimer_del(wf->renew);
	if (wf->lease_lost) {
		wf_lease_lost_message(msg, sizeof msg);
		wf_fail(wf, EVG_TIMEOUT, "%s", msg);
		return;
	}
	wf->state = WF_THAW;
	env.body_case = EVG__ENVELOPE__BODY_THAW;
	env.thaw = &th;
	if (wf_send(wf, &env, wf_thaw_reply) != 0) {
		wf->frozen = 0;
		wf_fail(wf, EVG_UNAVAILABLE, "the guest agent went away while "
		    "its filesystems were frozen; nothing is kept");
	}
}

/* create/BACKEND done for volume i. */
static void
wf_snap_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;
	const char	*kill_point = getenv(WF_KILL_ENV);

	wf->op = NULL;
	if (r->code != EVG_OK) {
		catalog_remove(wf->wv->cat, wf->cur);
		wf->cur = NULL;
		wf_fail(wf, r->code, "%s", r->message);
		return;
	}
	if (kill_point != NULL && strcmp(kill_point,
	    "after-backend-create") == 0) {
		log_warnx("test hook: killing myself after the backend "
		    "created %s", wf->cur->tag);
		raise(SIGKILL);
	}
	wf->cur->size = r->size;
	events_emit("backend-done", wf->wv->uuid, "create", wf->cur->uuid,
	    wf->name, 0, "backend snapshot of volume %s made", wf->cur->volume);
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
	char		 uuid[UUID_STR_LEN + 1], *cause;
	size_t		 j;
	int		 code;

	if (wf->i == wf->nvols) {
		if (wf->guest != 0)
			wf_thaw(wf);
		else
			wf_commit_all(wf);
		return;
	}
	uuid_generate_v4(uuid);
	wf->cur = catalog_add(wf->wv->cat, uuid, wf->name, wf->vols[wf->i],
	    uuid, wf->origin);
	free(wf->cur->consistency);
	wf->cur->consistency = xstrdup(wf->consistency);
	wf->cur->created = (uint64_t)time(NULL);
	wf->cur->state = SNAP_CREATING;
	/* The record goes in with the intent: a crash keeps it too. */
	for (j = 0; wf->record != NULL && j < wf->record->nmounts; j++)
		catalog_add_mount(wf->cur, wf->record->mounts[j].mountpoint,
		    wf->record->mounts[j].fstype, wf->record->mounts[j].device,
		    wf->record->mounts[j].action, wf->record->mounts[j].reason);
	if (catalog_commit(wf->wv->cat, &cause) != 0) {
		code = status_of_write_error(errno);
		catalog_remove(wf->wv->cat, wf->cur);
		wf->cur = NULL;
		wf_fail(wf, code, "cannot write the snapshot catalog: %s",
		    cause);
		free(cause);
		return;
	}
	wf->state = WF_BACKEND;
	wf_backend(wf, BACKEND_CREATE, wf_volume(vm, wf->vols[wf->i]),
	    wf->cur->tag, wf_snap_done);
}

/* CLEANUP: a snapshot the failed create made is deleted (or left). */
static void
wf_cleanup_done(const struct backend_result *r, void *arg)
{
	struct workflow	*wf = arg;

	wf->op = NULL;
	if (r->code != EVG_OK) {
		/* Kept as a delete to finish: the retry timer does it. */
		log_warnx("vm %s: could not delete snapshot %s made by the "
		    "failed create: %s; it stays in the catalog as deleting "
		    "and is deleted again every %u s", wf->wv->uuid,
		    wf->cur->tag, r->message, wf_g.cf->reconcile_retry);
		wf->cur->state = SNAP_DELETING;
	} else
		catalog_remove(wf->wv->cat, wf->cur);
	wf->cur = NULL;
	wf_cleanup_next(wf);
}

/* CLEANUP: delete the next snapshot the failed create made, or finish. */
static void
wf_cleanup_next(struct workflow *wf)
{
	struct reg_vm	*vm = registry_find(wf_g.reg, wf->wv->uuid);
	struct cat_snap	*cs;
	char		*uuid;

	wf->state = WF_CLEANUP;
	while (wf->ndone > 0) {
		uuid = wf->done[--wf->ndone];
		cs = catalog_find(wf->wv->cat, uuid);
		free(uuid);
		if (cs == NULL)
			continue;
		wf->cur = cs;
		wf_backend(wf, BACKEND_DELETE, wf_volume(vm, cs->volume),
		    cs->tag, wf_cleanup_done);
		return;
	}
	if (wf_commit(wf) != 0)
		return;
	wf_event(wf, "failed", wf->fail_code, "%s", wf->fail_msg);
	wf_finish(wf, wf->fail_code, "%s", wf->fail_msg);
}

/* The abort hooks ran (or could not): clean up. */
static void
wf_fail_post(const Evg__Envelope *env, const char *why, void *arg)
{
	struct workflow	*wf = arg;
	char		*msg;
	int		 code;

	wf->post_done = 1;
	if (!wf_hook_outcome(env, why, &code, &msg)) {
		wf_event(wf, "post-finished", code, "abort hooks: %s", msg);
		free(msg);
	} else
		wf_event(wf, "post-finished", 0, "abort hooks finished");
	wf_cleanup_next(wf);
}

/* After the thaw of a failure: post hooks with phase abort, if pre ran. */
static void
wf_fail_abort_hooks(struct workflow *wf)
{
	if (wf->pre_ok && !wf->post_done) {
		wf->state = WF_POST;
		if (wf_hook(wf, "abort", wf_fail_post) == 0)
			return;
	}
	wf_cleanup_next(wf);
}

/* Any thaw answer during a failure: go on with abort hooks, cleanup. */
static void
wf_fail_thawed(const Evg__Envelope *env, const char *why, void *arg)
{
	struct workflow	*wf = arg;

	if (env != NULL && env->reply != NULL && env->reply->status != NULL &&
	    env->reply->status->code == EVG_OK)
		wf_event(wf, "thawed", 0, "guest thawed after the failure");
	else
		wf_event(wf, "thawed", EVG_UNAVAILABLE, "no thaw confirmed "
		    "(%s); the guest's lease thaws it", why != NULL ? why :
		    "refused");
	wf->frozen = 0;
	wf_fail_abort_hooks(wf);
}

/* Fail a create: thaw if frozen, delete what was made, report. */
static void
wf_fail(struct workflow *wf, int code, const char *fmt, ...)
{
	Evg__Envelope		env = EVG__ENVELOPE__INIT;
	Evg__ThawRequest	th = EVG__THAW_REQUEST__INIT;
	va_list			ap;

	if (wf->fail_msg != NULL)
		return;
	wf->fail_code = code;
	va_start(ap, fmt);
	if (vasprintf(&wf->fail_msg, fmt, ap) == -1)
		fatalx("%s: vasprintf", __func__);
	va_end(ap);
	if (wf->renew != NULL)
		evtimer_del(wf->renew);
	if (wf->frozen) {
		wf->state = WF_THAW;
		env.body_case = EVG__ENVELOPE__BODY_THAW;
		env.thaw = &th;
		if (wf_send(wf, &env, wf_fail_thawed) == 0)
			return;
		wf->frozen = 0;
	}
	wf_fail_abort_hooks(wf);
}

/*
 * BACKEND -> failure: the freezing guest is gone, so the snapshot being
 * made is no longer filesystem-consistent.  Cancel the backend step, have
 * the cleanup delete what it may have made, and fail now.
 */
static void
wf_freeze_lost(struct workflow *wf, int code, const char *why)
{
	if (wf->op != NULL) {
		backend_cancel(wf->op);
		wf->op = NULL;
	}
	if (wf->cur != NULL) {
		/* It may exist in the backend: the cleanup deletes it. */
		wf->done = xreallocarray(wf->done, wf->ndone + 1,
		    sizeof *wf->done);
		wf->done[wf->ndone++] = xstrdup(wf->cur->uuid);
		wf->cur = NULL;
	}
	wf->frozen = 0;
	wf_fail(wf, code, "%s", why);
}

/* A guest session went away; see workflow.h. */
void
workflow_guest_gone(uint64_t serial)
{
	struct workflow	*wf, *next;

	for (wf = TAILQ_FIRST(&wf_g.all); wf != NULL; wf = next) {
		next = TAILQ_NEXT(wf, entry);
		if (wf->kind == WF_CREATE && wf->guest == serial &&
		    wf->state == WF_BACKEND && wf->fail_msg == NULL)
			wf_freeze_lost(wf, EVG_UNAVAILABLE, "the guest agent went "
			    "away while its filesystems were frozen; nothing is "
			    "kept");
	}
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

/* The volumes a create works on: named, from disks, or all. */
static int
wf_create_volumes(const struct workflow_params *p, const struct reg_vm *vm,
    char ***vols, size_t *nvols, char **cause)
{
	size_t	i, j;

	if (p->ndisks > 0)
		return (workflow_match_disks(vm->uuid, p->disks, p->ndisks,
		    vols, nvols, cause));
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
	*nvols = p->nvolumes != 0 ? p->nvolumes : vm->nvolumes;
	*vols = xcalloc(*nvols, sizeof **vols);
	for (i = 0; i < *nvols; i++)
		(*vols)[i] = xstrdup(p->nvolumes != 0 ?
		    wf_volume(vm, p->volumes[i])->uuid : vm->volumes[i].uuid);
	return (EVG_OK);
}

/* Free a volume list. */
static void
wf_free_vols(char **vols, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(vols[i]);
	free(vols);
}

/*
 * A create whose idempotency key was seen: 1 (with *rc) when it is
 * answered here - the earlier request's snapshots, or BUSY while it runs.
 */
static int
wf_idempotent(const struct workflow_params *p, workflow_done_cb cb, void *arg,
    char **cause, int *rc)
{
	struct reg_vm	 *vm;
	struct wf_vm	 *wv;
	struct cat_snap	 *cs;
	struct workflow	 *wf;
	Evg__Snapshot	**list = NULL;
	size_t		  n = 0;

	if (!uuid_valid(p->vm) || (vm = registry_find(wf_g.reg, p->vm)) ==
	    NULL || (wv = wf_vm_get(vm->uuid, cause)) == NULL) {
		free(*cause);
		*cause = NULL;
		return (0);
	}
	TAILQ_FOREACH(wf, &wf_g.all, entry) {
		if (wf->wv == wv && wf->idem_key != NULL &&
		    strcmp(wf->idem_key, p->idempotency_key) == 0) {
			xasprintf(cause, "the request with idempotency key "
			    "'%s' is still in progress", p->idempotency_key);
			*rc = EVG_BUSY;
			return (1);
		}
	}
	TAILQ_FOREACH(cs, &wv->cat->snaps, entry) {
		if (cs->idem_key == NULL ||
		    strcmp(cs->idem_key, p->idempotency_key) != 0)
			continue;
		list = xreallocarray(list, n + 1, sizeof *list);
		list[n++] = snapinfo_from_cat(cs, vm);
	}
	if (n == 0)
		return (0);
	log_info("vm %s: create with idempotency key '%s' was done before; "
	    "answering with its %zu snapshot(s)", vm->uuid,
	    p->idempotency_key, n);
	cb(EVG_OK, NULL, list, n, arg);
	snapinfo_free_list(list, n);
	*rc = EVG_OK;
	return (1);
}

/* Start a create; see workflow.h. */
int
workflow_create(const struct workflow_params *p, workflow_done_cb cb,
    void *arg, char **cause)
{
	struct wf_vm	*wv;
	struct reg_vm	*vm;
	struct workflow	*wf;
	uint64_t	 guest = 0;
	const char	*why, *cons = NULL;
	char		**vols;
	unsigned int	 count;
	size_t		 i, nvols;
	int		 rc, stopped = 0, daemon = 0;

	if (p->ndisks == 0) {
		cons = p->consistency != NULL && *p->consistency != '\0' ?
		    p->consistency : "crash";
		if (strcmp(cons, "app") != 0 && strcmp(cons, "fs") != 0 &&
		    strcmp(cons, "crash") != 0) {
			xasprintf(cause, "consistency: '%s' is not app, fs or "
			    "crash", cons);
			return (EVG_INVALID_ARGUMENT);
		}
	}
	if (p->name != NULL && *p->name != '\0' &&
	    !text_valid_name(p->name, NAME_MAX_CHARS, &why)) {
		xasprintf(cause, "name: %s (1-%d printable characters)", why,
		    NAME_MAX_CHARS);
		return (EVG_INVALID_ARGUMENT);
	}
	if (p->idempotency_key != NULL && *p->idempotency_key != '\0' &&
	    wf_idempotent(p, cb, arg, cause, &rc))
		return (rc);
	if ((rc = wf_begin(p->vm, WF_CREATE, &wv, &vm, cause)) != EVG_OK)
		return (rc);
	if (vm->nvolumes == 0) {
		xasprintf(cause, "VM %s has no volumes", vm->name);
		return (EVG_FAILED_PRECONDITION);
	}
	if (p->ndisks == 0 && cons != NULL && strcmp(cons, "crash") != 0 &&
	    vm->state != VM_RUNNING) {
		/* A stopped VM has no guest to ask: its disks are at rest. */
		stopped = 1;
	} else if (p->ndisks > 0 || (cons != NULL &&
	    strcmp(cons, "crash") != 0)) {
		/* A guest asking is running, whatever pillar last said. */
		guest = wf_g.link->freeze_channel(wf_g.link->ctx, vm,
		    p->requester, &daemon);
		if (guest == 0) {
			xasprintf(cause, "consistency '%s' needs the guest "
			    "agent daemon in VM %s, and none is connected",
			    cons, vm->name);
			return (EVG_FAILED_PRECONDITION);
		}
	}
	if ((rc = wf_create_volumes(p, vm, &vols, &nvols, cause)) != EVG_OK)
		return (rc);
	if (p->name != NULL && *p->name != '\0') {
		for (i = 0; i < nvols; i++) {
			if (catalog_find_name(wv->cat, vols[i], p->name,
			    &count) != NULL) {
				xasprintf(cause, "name: volume '%s' already has "
				    "a snapshot named '%s'",
				    wf_volume(vm, vols[i])->name, p->name);
				wf_free_vols(vols, nvols);
				return (EVG_ALREADY_EXISTS);
			}
		}
	}
	wf = wf_new(WF_CREATE, wv, cb, arg);
	wf->vols = vols;
	wf->nvols = nvols;
	wf->consistency = stopped ? xstrdup("crash") : cons != NULL ?
	    xstrdup(cons) : NULL;
	wf->app = guest != 0 && cons != NULL && strcmp(cons, "app") == 0;
	wf->hook_timeout_ms = p->hook_timeout_ms == 0 ? HOOK_TIMEOUT_DEFAULT_MS :
	    p->hook_timeout_ms < HOOK_TIMEOUT_MIN_MS ? HOOK_TIMEOUT_MIN_MS :
	    p->hook_timeout_ms > HOOK_TIMEOUT_MAX_MS ? HOOK_TIMEOUT_MAX_MS :
	    p->hook_timeout_ms;
	if (p->idempotency_key != NULL && *p->idempotency_key != '\0')
		wf->idem_key = xstrdup(p->idempotency_key);
	wf->origin = xstrdup(p->origin != NULL ? p->origin : "controller");
	wf->name = p->name != NULL && *p->name != '\0' ? xstrdup(p->name) :
	    wf_default_name(wf);
	if (guest != 0) {
		log_info("vm %s: snapshot '%s': the guest freezes over %s",
		    vm->uuid, wf->name, daemon ? "its daemon's session" :
		    "the requesting connection");
		wf->guest = guest;
		if (p->ndisks > 0) {
			wf->ndisks = p->ndisks;
			wf->disks = xcalloc(p->ndisks, sizeof *wf->disks);
			for (i = 0; i < p->ndisks; i++)
				wf->disks[i] = wf_copy_disk(p->disks[i]);
		} else {
			wf->ndisks = nvols;
			wf->disks = xcalloc(nvols, sizeof *wf->disks);
			for (i = 0; i < nvols; i++)
				wf->disks[i] = wf_volume_disk(wf_volume(vm,
				    vols[i]));
		}
	}
	if (stopped)
		wf_event(wf, "started", 0, "VM is stopped: no guest steps, "
		    "recorded as crash (asked for %s)", cons);
	else
		wf_event(wf, "started", 0, "%s snapshot of %zu volume%s",
		    wf->consistency != NULL ? wf->consistency : "guest-triggered",
		    nvols, nvols == 1 ? "" : "s");
	wf_space_next(wf);
	return (EVG_OK);
}

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
		if (vasprintf(&msg, fmt, ap) == -1)
			fatalx("%s: vasprintf", __func__);
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
