/*
 * The host side of the freeze protocol, for a create with a guest:
 *
 *   FREEZE (the reply says what is frozen) -> [lease renewed every
 *   lease/3 while the backend works] -> THAW (the reply says nothing is)
 *   any failure while frozen -> failure THAW (answered or not)
 *
 * Each reply carries the guest's freeze state as it is after the request
 * (FreezeReport.frozen, frozen_count): that is the check that the guest is
 * frozen before the snapshot and thawed after it, with no status round
 * trip of its own while the guest waits.
 *
 * Every request goes over the workflow's guest link by session serial, so
 * a guest that goes away is noticed, never dereferenced.  The create
 * workflow goes on from wf_create_frozen() and wf_create_thawed().
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

static void	wf_fail_thawed(const Evg__Envelope *, const char *, void *);

static const Evg__FreezeReport	*wf_report(const Evg__Envelope *, int *,
	    const char **);
static void	wf_guest_gone(struct workflow *, const char *, const char *);
static void	wf_lease_lost_message(char *, size_t);
static void	wf_renew_arm(struct workflow *);
static void	wf_renew_reply(const Evg__Envelope *, const char *, void *);
static void	wf_renew_cb(evutil_socket_t, short, void *);
static void	wf_freeze_reply(const Evg__Envelope *, const char *, void *);
static void	wf_thaw_reply(const Evg__Envelope *, const char *, void *);

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
		wf->cr.fz.frozen = 0;
		wf->cr.fz.state = FREEZE_OVER;
		wf_fail(wf, EVG_UNAVAILABLE, "%s: the guest agent went away "
		    "(%s); nothing is kept", step, why);
	}
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
	evtimer_add(wf->cr.fz.renew, &tv);
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
		wf->cr.fz.lease_lost = 1;
		/* Refused as run out: the guest thawed; fail now. */
		if (code == EVG_FAILED_PRECONDITION &&
		    wf->cr.fz.state == FREEZE_HELD) {
			wf_lease_lost_message(msg, sizeof msg);
			wf_freeze_lost(wf, EVG_TIMEOUT, msg);
		}
		return;
	}
	if (wf->cr.fz.state == FREEZE_HELD)
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
		wf->cr.fz.lease_lost = 1;
}

/* create/FREEZE: the guest froze (or could not). */
static void
wf_freeze_reply(const Evg__Envelope *env, const char *why, void *arg)
{
	struct workflow			*wf = arg;
	const Evg__FreezeReport		*fr;
	const char			*msg;
	size_t				 i;
	int				 code, went;

	if (env == NULL) {
		wf->cr.fz.frozen = 1;
		wf_guest_gone(wf, "freezing the guest's filesystems", why);
		return;
	}
	if ((fr = wf_report(env, &code, &msg)) == NULL) {
		wf_fail(wf, code, "the guest could not freeze its "
		    "filesystems: %s", msg);
		return;
	}
	wf->cr.fz.frozen = 1;
	wf->cr.fz.frozen_count = fr->frozen_count;
	if (wf->cr.consistency == NULL) {
		/* Guest-triggered: the level is what the freeze achieved. */
		wf->cr.consistency = xstrdup(fr->frozen_count > 0 ? "fs" :
		    "crash");
	} else if (fr->frozen_count == 0) {
		wf_fail(wf, EVG_FAILED_PRECONDITION, "consistency '%s' was "
		    "asked for, but no filesystem on the volumes could be "
		    "frozen (%zu mounts, all skipped)", wf->cr.consistency,
		    fr->n_mounts);
		return;
	}
	if (fr->frozen_count > 0 && !fr->frozen) {
		wf_fail(wf, EVG_FREEZE_FAILED, "the guest reports its "
		    "filesystems are not frozen any more (did the lease run "
		    "out?)");
		return;
	}
	wf->cr.fz.renew = evtimer_new(wf_g.base, wf_renew_cb, wf);
	wf_renew_arm(wf);
	wf->cr.fz.state = FREEZE_HELD;
	/* The snapshot first: what follows waits, the frozen guest not. */
	went = wf_create_go(wf) == 0;
	wf->cr.fz.record = xcalloc(1, sizeof *wf->cr.fz.record);
	for (i = 0; i < fr->n_mounts; i++)
		catalog_add_mount(wf->cr.fz.record, fr->mounts[i]->mountpoint,
		    fr->mounts[i]->fstype, fr->mounts[i]->device,
		    fr->mounts[i]->action, fr->mounts[i]->reason);
	wf_event(wf, "frozen", 0, "guest froze %u filesystems (%zu mounts "
	    "on the disks)", fr->frozen_count, fr->n_mounts);
	if (!went)
		wf_create_frozen(wf);
}

/* create/FREEZE: ask the guest to freeze the target disks. */
void
wf_freeze(struct workflow *wf)
{
	Evg__Envelope		env = EVG__ENVELOPE__INIT;
	Evg__FreezeRequest	fr = EVG__FREEZE_REQUEST__INIT;
	int			rc;

	wf->cr.state = CREATE_FREEZE;
	wf->cr.fz.state = FREEZE_FREEZING;
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
			wf->cr.fz.frozen = 0;
			wf->cr.fz.state = FREEZE_OVER;
			wf_fail(wf, EVG_TIMEOUT, "the guest's freeze lease ran "
			    "out before the snapshot was finished (%s); nothing "
			    "is kept", msg);
			return;
		}
		wf_fail(wf, code, "the guest could not thaw its "
		    "filesystems: %s", msg);
		return;
	}
	if (fr->frozen) {
		wf_fail(wf, EVG_FREEZE_FAILED, "the guest still reports frozen "
		    "filesystems after the thaw");
		return;
	}
	wf->cr.fz.frozen = 0;
	wf->cr.fz.freeze_ms = fr->duration_ms;
	wf->cr.fz.state = FREEZE_OVER;
	wf_event(wf, "thawed", 0, "guest thawed after %u ms",
	    fr->duration_ms);
	wf_create_thawed(wf);
}

/* create/THAW: the thaw request, if it can go; see workflow_impl.h. */
int
wf_thaw_send(struct workflow *wf)
{
	Evg__Envelope		env = EVG__ENVELOPE__INIT;
	Evg__ThawRequest	th = EVG__THAW_REQUEST__INIT;

	evtimer_del(wf->cr.fz.renew);
	if (wf->cr.fz.lease_lost)
		return (-1);
	wf->cr.state = CREATE_THAW;
	wf->cr.fz.state = FREEZE_THAWING;
	env.body_case = EVG__ENVELOPE__BODY_THAW;
	env.thaw = &th;
	return (wf_send(wf, &env, wf_thaw_reply) != 0 ? -1 : 0);
}

/* create/THAW: every volume is snapshotted; let the guest go. */
void
wf_thaw(struct workflow *wf)
{
	char	msg[256];

	if (wf_thaw_send(wf) == 0)
		return;
	if (wf->cr.fz.lease_lost) {
		wf_lease_lost_message(msg, sizeof msg);
		wf_fail(wf, EVG_TIMEOUT, "%s", msg);
		return;
	}
	wf->cr.fz.frozen = 0;
	wf->cr.fz.state = FREEZE_OVER;
	wf_fail(wf, EVG_UNAVAILABLE, "the guest agent went away while "
	    "its filesystems were frozen; nothing is kept");
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
	wf->cr.fz.frozen = 0;
	wf->cr.fz.state = FREEZE_OVER;
	wf_fail_abort_hooks(wf);
}

/*
 * A create failed: thaw the guest if it may be frozen.  1 when a thaw
 * request went out (wf_fail_abort_hooks() follows its answer), 0 when
 * there is nothing to thaw or no guest to ask.
 */
int
wf_freeze_abort(struct workflow *wf)
{
	Evg__Envelope		env = EVG__ENVELOPE__INIT;
	Evg__ThawRequest	th = EVG__THAW_REQUEST__INIT;

	if (wf->cr.fz.renew != NULL)
		evtimer_del(wf->cr.fz.renew);
	if (!wf->cr.fz.frozen)
		return (0);
	/* A renewal answered from now on renews nothing. */
	wf->cr.state = CREATE_THAW;
	wf->cr.fz.state = FREEZE_FAIL_THAWING;
	env.body_case = EVG__ENVELOPE__BODY_THAW;
	env.thaw = &th;
	if (wf_send(wf, &env, wf_fail_thawed) == 0)
		return (1);
	wf->cr.fz.frozen = 0;
	wf->cr.fz.state = FREEZE_OVER;
	return (0);
}
