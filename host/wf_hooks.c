/*
 * The guest's hooks as a workflow step: ask the guest daemon to run the
 * hooks of a phase (pre, post, abort) and read its report.
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

/* Caps on a guest's hook text relayed in errors and events (bytes). */
#define WF_HOOK_TAIL_MAX	512
#define WF_HOOK_FIELD_MAX	256

static unsigned int	wf_hook_wait_ms(struct workflow *);

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
int
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
