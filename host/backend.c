/*
 * Backend dispatch (through backend_kinds[]), op lifecycle and the step
 * machinery.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_impl.h"
#include "backend_kind.h"
#include "jsonout.h"
#include "log.h"
#include "status.h"
#include "xmalloc.h"

/*
 * Test hook (docs/snapshots.md): EVG_TEST_BACKEND_DELAY_MS delays the
 * result of every backend create, so tests can see an operation in
 * progress (BUSY, a guest frozen during the snapshot).
 */
#define BACKEND_DELAY_ENV	"EVG_TEST_BACKEND_DELAY_MS"
/* Output kept from a backend command: a listing of 4096 snapshots fits. */
#define BACKEND_MAX_OUTPUT	(4 * 1024 * 1024)

int	(*backend_fake_start)(struct backend_op *);

static const char *backend_verb_names[] = {
	[BACKEND_CREATE] = "create",
	[BACKEND_DELETE] = "delete",
	[BACKEND_ROLLBACK] = "rollback",
	[BACKEND_LIST] = "list",
	[BACKEND_SPACE] = "space",
};

/* Name of a verb for messages. */
const char *
backend_verb_name(enum backend_verb v)
{
	return (backend_verb_names[v]);
}

/* Free what a result holds; see backend_impl.h. */
void
backend_result_clear(struct backend_result *res)
{
	size_t	i;

	for (i = 0; i < res->nsnaps; i++) {
		free(res->snaps[i].tag);
		free(res->snaps[i].uuid);
		free(res->snaps[i].name);
	}
	free(res->snaps);
	free(res->message);
	free(res->where);
	memset(res, 0, sizeof *res);
}

/* Free an op and its result. */
static void
backend_op_free(struct backend_op *op)
{
	backend_result_clear(&op->res);
	if (op->ev_done != NULL)
		event_free(op->ev_done);
	if (op->ev_ready != NULL)
		event_free(op->ev_ready);
	free(op->vol.name);
	free(op->vol.backend);
	free(op->vol.locator);
	free(op->vol.node);
	free(op->tag);
	free(op->uuid);
	free(op->name);
	free(op->qmp_path);
	free(op->impl);
	free(op);
}

/* Deliver the result from the loop, then free the op. */
static void
backend_done_cb(evutil_socket_t fd, short events, void *arg)
{
	struct backend_op	*op = arg;

	(void)fd;
	(void)events;
	op->cb(&op->res, op->arg);
	backend_op_free(op);
}

/* Finish; see backend_impl.h. */
void
backend_finish(struct backend_op *op, int code, const char *fmt, ...)
{
	va_list		 ap;
	struct timeval	 tv = { 0, 0 };
	const char	*delay;
	long		 ms;

	if (op->finished)
		return;
	op->finished = 1;
	op->res.call_us = proc_elapsed_us(&op->t_go);
	if (op->ev_ready != NULL)
		event_del(op->ev_ready);
	op->res.code = code;
	if (fmt != NULL) {
		va_start(ap, fmt);
		xvasprintf(&op->res.message, fmt, ap);
		va_end(ap);
	}
	op->ev_done = evtimer_new(op->env.base, backend_done_cb, op);
	if (op->ev_done == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	if (op->req.verb == BACKEND_CREATE &&
	    (delay = getenv(BACKEND_DELAY_ENV)) != NULL &&
	    (ms = strtol(delay, NULL, 10)) > 0) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(op->ev_done, &tv);
		return;
	}
	/* In this loop pass: a snapshot's result is awaited by a thaw. */
	event_active(op->ev_done, EV_TIMEOUT, 0);
}

/* A child finished: hand its result to the current step. */
static void
backend_proc_done(const struct proc_result *r, void *arg)
{
	struct backend_op	*op = arg;

	op->proc = NULL;
	op->proc_step(op, r);
}

/* Run a child; see backend_impl.h. */
void
backend_run(struct backend_op *op, char *const argv[], backend_proc_step step)
{
	char	*cause;

	op->proc_step = step;
	log_debug("backend: %s %s", argv[0], argv[1] != NULL ? argv[1] : "");
	op->proc = proc_spawn(argv, op->env.cf->backend_timeout * 1000,
	    BACKEND_MAX_OUTPUT, backend_proc_done, op, &cause);
	if (op->proc == NULL) {
		backend_finish(op, EVG_BACKEND_ERROR, "%s", cause);
		free(cause);
	}
}

/* QMP finished: hand its outcome to the current step. */
static void
backend_qmp_done(int code, const char *msg, json_object *ret, void *arg)
{
	struct backend_op	*op = arg;

	op->qmp = NULL;
	op->qmp_step(op, code, msg, ret);
}

/* Run a QMP command; see backend_impl.h. */
void
backend_qmp(struct backend_op *op, const char *cmd, json_object *args,
    backend_qmp_step step)
{
	char	*cause;

	op->qmp_step = step;
	op->qmp = qmp_execute(op->env.base, op->qmp_path, cmd, args,
	    op->env.cf->qmp_timeout * 1000, backend_qmp_done, op, &cause);
	if (op->qmp == NULL) {
		backend_finish(op, EVG_UNAVAILABLE, "%s", cause);
		free(cause);
	}
}

/* The prepared QMP command is negotiated: the op is ready. */
static void
backend_qmp_ready(void *arg)
{
	struct backend_op	*op = arg;

	event_active(op->ev_ready, 0, 0);
}

/* Run (or prepare) the op's action over QMP; see backend_impl.h. */
void
backend_qmp_action(struct backend_op *op, const char *cmd, json_object *args,
    backend_qmp_step step)
{
	char	*cause;

	if (!op->held) {
		backend_qmp(op, cmd, args, step);
		return;
	}
	op->qmp_step = step;
	op->qmp = qmp_prepare(op->env.base, op->qmp_path, cmd, args,
	    op->env.cf->qmp_timeout * 1000, backend_qmp_ready,
	    backend_qmp_done, op, &cause);
	if (op->qmp == NULL) {
		backend_finish(op, EVG_UNAVAILABLE, "%s", cause);
		free(cause);
	}
}

/* Append a snapshot to a LIST result; see backend_impl.h. */
void
backend_result_add(struct backend_result *res, const char *tag,
    const char *uuid, const char *name, uint64_t created, uint64_t size)
{
	struct backend_snap	*s;

	res->snaps = xreallocarray(res->snaps, res->nsnaps + 1,
	    sizeof *res->snaps);
	s = &res->snaps[res->nsnaps++];
	s->tag = xstrdup(tag);
	s->uuid = uuid != NULL ? xstrdup(uuid) : NULL;
	s->name = name != NULL ? xstrdup(name) : NULL;
	/* Out of range is unknown (0): it must survive the catalog. */
	s->created = created <= JSONOUT_TIME_MAX ? created : 0;
	s->size = size <= INT64_MAX ? size : 0;
}

/* Copy an optional string. */
static char *
backend_dup(const char *s)
{
	return (s != NULL ? xstrdup(s) : NULL);
}

/* A new op with copies of what req names. */
static struct backend_op *
backend_op_new(const struct backend_env *env, const struct backend_req *req,
    backend_cb cb, void *arg)
{
	struct backend_op	*op;

	op = xcalloc(1, sizeof *op);
	op->env = *env;
	op->req = *req;
	op->cb = cb;
	op->arg = arg;
	op->vol.name = xstrdup(req->vol->name);
	op->vol.backend = xstrdup(req->vol->backend);
	op->vol.locator = xstrdup(req->vol->locator);
	op->vol.node = backend_dup(req->vol->node);
	snprintf(op->vol.uuid, sizeof op->vol.uuid, "%s", req->vol->uuid);
	op->tag = backend_dup(req->tag);
	op->uuid = backend_dup(req->uuid);
	op->name = backend_dup(req->name);
	op->qmp_path = backend_dup(req->qmp);
	op->req.vol = &op->vol;
	op->req.tag = op->tag;
	op->req.uuid = op->uuid;
	op->req.name = op->name;
	op->req.qmp = op->qmp_path;
	clock_gettime(CLOCK_MONOTONIC, &op->t_go);
	return (op);
}

/* Hand the op to its backend's start function. */
static void
backend_dispatch(struct backend_op *op)
{
	const struct backend_kind	*kind;

	if (backend_fake_start != NULL)
		backend_fake_start(op);
	else if ((kind = backend_kind_find(op->vol.backend)) != NULL)
		kind->start(op);
	else
		backend_finish(op, EVG_UNSUPPORTED, "unknown backend '%s'",
		    op->vol.backend);
}

/* Start an op; see backend.h. */
struct backend_op *
backend_start(const struct backend_env *env, const struct backend_req *req,
    backend_cb cb, void *arg)
{
	struct backend_op	*op;

	op = backend_op_new(env, req, cb, arg);
	backend_dispatch(op);
	return (op);
}

/* The prepared op is ready: tell its owner, from the loop. */
static void
backend_ready_event(evutil_socket_t fd, short events, void *arg)
{
	struct backend_op	*op = arg;

	(void)fd;
	(void)events;
	op->ready(op->arg);
}

/* Start an op that waits for backend_go(); see backend.h. */
struct backend_op *
backend_prepare(const struct backend_env *env, const struct backend_req *req,
    backend_ready_cb ready, backend_cb cb, void *arg)
{
	const struct backend_kind	*kind;
	struct backend_op		*op;

	op = backend_op_new(env, req, cb, arg);
	op->held = 1;
	op->ready = ready;
	op->ev_ready = event_new(env->base, -1, 0, backend_ready_event, op);
	if (op->ev_ready == NULL)
		fatalx("%s: event_new failed", __func__);
	kind = backend_fake_start == NULL ? backend_kind_find(op->vol.backend) :
	    NULL;
	if (kind != NULL && kind->prepares != NULL && kind->prepares(op)) {
		backend_dispatch(op);
		return (op);
	}
	/* Nothing to do ahead: ready now, the backend starts at go. */
	op->deferred = 1;
	event_active(op->ev_ready, 0, 0);
	return (op);
}

/* The prepared op's action: now; see backend.h. */
void
backend_go(struct backend_op *op)
{
	if (!op->held)
		return;
	op->held = 0;
	event_del(op->ev_ready);
	clock_gettime(CLOCK_MONOTONIC, &op->t_go);
	if (op->deferred)
		backend_dispatch(op);
	else if (op->qmp != NULL)
		qmp_go(op->qmp);
}

/* Cancel an op; its callback never runs. */
void
backend_cancel(struct backend_op *op)
{
	if (op == NULL)
		return;
	if (op->proc != NULL)
		proc_cancel(op->proc);
	if (op->qmp != NULL)
		qmp_cancel(op->qmp);
	backend_op_free(op);
}
