/*
 * The queue of snapshot operations waiting for their turn.  A create,
 * delete or rollback asked while its VM runs another operation, or while
 * max_parallel_ops run on the host, waits here instead of getting BUSY:
 *
 *	asked --VM idle, slot free--> started (wf_*_start)
 *	asked --VM busy or host full--> WAITING --turn--> started
 *	WAITING --queue_wait passed--> TIMEOUT     --VM removed--> UNAVAILABLE
 *	WAITING --requester gone--> dropped (no answer to give)
 *
 * Turns are first come, first served across the host: one list in arrival
 * order; a VM's requests start one at a time in their order.  A VM holds
 * at most max_queued_per_vm waiting requests (BUSY beyond, and with 0 the
 * queue is off); a create whose idempotency key is already waiting is
 * BUSY, as one that runs.  A request is checked again when its turn comes
 * (the VM, its volumes, names): what changed meanwhile is reported then.
 *
 * Ownership: the queue owns each waiter and deep copies of its request;
 * cb and arg are the requester's, called at most once.
 */
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "log.h"
#include "status.h"
#include "workflow_impl.h"
#include "xmalloc.h"

struct wf_waiter {
	enum wf_kind		 kind;
	struct workflow_params	 p;		/* strings and disks copied */
	char			**vols;		/* p.volumes' copies */
	Evg__DiskRef		**disks;	/* p.disks' copies */
	workflow_done_cb	 cb;
	void			*arg;
	struct event		*deadline;
	TAILQ_ENTRY(wf_waiter)	 entry;
};

static TAILQ_HEAD(wf_waitq, wf_waiter)	wf_waiting =
    TAILQ_HEAD_INITIALIZER(wf_waiting);
static struct event		*wf_kick_ev;

static void	wf_kick_cb(evutil_socket_t, short, void *);

/* The start function of a kind. */
static int
wf_queue_run(enum wf_kind kind, const struct workflow_params *p,
    workflow_done_cb cb, void *arg, char **cause)
{
	switch (kind) {
	case WF_CREATE:
		return (wf_create_start(p, cb, arg, cause));
	case WF_DELETE:
		return (wf_delete_start(p, cb, arg, cause));
	default:
		return (wf_rollback_start(p, cb, arg, cause));
	}
}

static char *
wf_dup(const char *s)
{
	return (s != NULL ? xstrdup(s) : NULL);
}

/* Free a waiter taken off the list. */
static void
wf_waiter_free(struct wf_waiter *w)
{
	size_t	i;

	event_free(w->deadline);
	free((char *)w->p.vm);
	free((char *)w->p.name);
	free((char *)w->p.consistency);
	free((char *)w->p.origin);
	free((char *)w->p.snapshot);
	free((char *)w->p.volume);
	free((char *)w->p.idempotency_key);
	for (i = 0; i < w->p.nvolumes; i++)
		free(w->vols[i]);
	free(w->vols);
	for (i = 0; i < w->p.ndisks; i++)
		evg__disk_ref__free_unpacked(w->disks[i], NULL);
	free(w->disks);
	free(w);
}

/* Off the list and freed; cb, if given, gets code and the message. */
static void
wf_waiter_end(struct wf_waiter *w, int code, const char *msg)
{
	workflow_done_cb	cb = w->cb;
	void			*arg = w->arg;

	TAILQ_REMOVE(&wf_waiting, w, entry);
	wf_waiter_free(w);
	if (code != EVG_OK && cb != NULL)
		cb(code, msg, NULL, 0, arg);
}

/* queue_wait passed before the request's turn came. */
static void
wf_waiter_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct wf_waiter	*w = arg;
	char			*msg;

	(void)fd;
	(void)events;
	xasprintf(&msg, "waited %u s for its turn on VM %s (queue_wait) "
	    "and did not start; nothing was done", wf_g.cf->queue_wait,
	    w->p.vm);
	events_emit("queue-timeout", w->p.vm, wf_kind_names[w->kind], NULL,
	    NULL, EVG_TIMEOUT, "%s", msg);
	wf_waiter_end(w, EVG_TIMEOUT, msg);
	free(msg);
}

/* How many requests for VM uuid wait; *key set if one has that key. */
static size_t
wf_queue_count(const char *uuid, const char *key, int *key_waits)
{
	struct wf_waiter	*w;
	size_t			 n = 0;

	*key_waits = 0;
	TAILQ_FOREACH(w, &wf_waiting, entry) {
		if (strcasecmp(w->p.vm, uuid) != 0)
			continue;
		n++;
		if (key != NULL && *key != '\0' && w->kind == WF_CREATE &&
		    w->p.idempotency_key != NULL &&
		    strcmp(w->p.idempotency_key, key) == 0)
			*key_waits = 1;
	}
	return (n);
}

/* The VM's running workflow, if any (no catalog is opened). */
static struct workflow *
wf_queue_active(const char *uuid)
{
	struct wf_vm	*wv = wf_vm_find(uuid);

	return (wv != NULL ? wv->active : NULL);
}

/*
 * Queue a request of kind; 0 with *cause the waiting notice, or BUSY with
 * *cause when the VM's queue is full (or the key already waits).
 */
static int
wf_queue_add(enum wf_kind kind, const struct workflow_params *p,
    workflow_done_cb cb, void *arg, char **cause)
{
	struct wf_waiter	*w;
	struct workflow		*active;
	struct timeval		 tv = { wf_g.cf->queue_wait, 0 };
	size_t			 ahead, i;
	int			 key_waits;

	ahead = wf_queue_count(p->vm, kind == WF_CREATE ?
	    p->idempotency_key : NULL, &key_waits);
	if (key_waits) {
		xasprintf(cause, "a create with idempotency key '%s' is already "
		    "waiting for its turn on VM %s", p->idempotency_key, p->vm);
		return (EVG_BUSY);
	}
	if (ahead >= wf_g.cf->max_queued_per_vm) {
		xasprintf(cause, "VM %s is busy and %zu requests already wait "
		    "for their turn (max_queued_per_vm); try again later",
		    p->vm, ahead);
		return (EVG_BUSY);
	}
	w = xcalloc(1, sizeof *w);
	w->kind = kind;
	w->cb = cb;
	w->arg = arg;
	w->p = *p;
	w->p.vm = wf_dup(p->vm);
	w->p.name = wf_dup(p->name);
	w->p.consistency = wf_dup(p->consistency);
	w->p.origin = wf_dup(p->origin);
	w->p.snapshot = wf_dup(p->snapshot);
	w->p.volume = wf_dup(p->volume);
	w->p.idempotency_key = wf_dup(p->idempotency_key);
	w->vols = xcalloc(p->nvolumes + 1, sizeof *w->vols);
	for (i = 0; i < p->nvolumes; i++)
		w->vols[i] = xstrdup(p->volumes[i]);
	w->p.volumes = (const char *const *)w->vols;
	w->disks = xcalloc(p->ndisks + 1, sizeof *w->disks);
	for (i = 0; i < p->ndisks; i++)
		w->disks[i] = wf_copy_disk(p->disks[i]);
	w->p.disks = w->disks;
	w->deadline = evtimer_new(wf_g.base, wf_waiter_timeout, w);
	if (w->deadline == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	evtimer_add(w->deadline, &tv);
	TAILQ_INSERT_TAIL(&wf_waiting, w, entry);

	active = wf_queue_active(p->vm);
	if (active != NULL)
		xasprintf(cause, "waiting for its turn: VM %s has a snapshot %s "
		    "in progress (%zu request%s ahead in its queue)", p->vm,
		    wf_kind_names[active->kind], ahead, ahead == 1 ? "" : "s");
	else
		xasprintf(cause, "waiting for its turn: %u snapshot operations "
		    "run on this host (max_parallel_ops) (%zu request%s ahead "
		    "for this VM)", wf_g.running, ahead, ahead == 1 ? "" : "s");
	events_emit("queued", p->vm, wf_kind_names[kind], NULL, p->name,
	    0, "%s", *cause);
	log_info("vm %s: snapshot %s %s", p->vm, wf_kind_names[kind], *cause);
	return (EVG_OK);
}

/* Start (or queue) a request; see workflow.h. */
static int
wf_queue_start(enum wf_kind kind, const struct workflow_params *p,
    workflow_done_cb cb, void *arg, char **cause)
{
	int	key_waits, rc;

	/* First come, first served: no overtaking what already waits. */
	if (wf_g.cf->max_queued_per_vm > 0 && p->vm != NULL &&
	    wf_queue_count(p->vm, NULL, &key_waits) > 0)
		return (wf_queue_add(kind, p, cb, arg, cause));
	wf_g.lock_busy = 0;
	rc = wf_queue_run(kind, p, cb, arg, cause);
	if (rc == EVG_BUSY && wf_g.lock_busy &&
	    wf_g.cf->max_queued_per_vm > 0) {
		free(*cause);
		*cause = NULL;
		return (wf_queue_add(kind, p, cb, arg, cause));
	}
	return (rc);
}

int
workflow_create(const struct workflow_params *p, workflow_done_cb cb,
    void *arg, char **cause)
{
	return (wf_queue_start(WF_CREATE, p, cb, arg, cause));
}

int
workflow_delete(const struct workflow_params *p, workflow_done_cb cb,
    void *arg, char **cause)
{
	return (wf_queue_start(WF_DELETE, p, cb, arg, cause));
}

int
workflow_rollback(const struct workflow_params *p, workflow_done_cb cb,
    void *arg, char **cause)
{
	return (wf_queue_start(WF_ROLLBACK, p, cb, arg, cause));
}

/*
 * Start what waits, in order, while VMs are idle and host slots free: the
 * first waiter of each idle VM.  One that cannot start yet stays; one
 * refused now gets its answer.
 */
static void
wf_kick_cb(evutil_socket_t fd, short events, void *arg)
{
	struct wf_waiter	*w, *next, *prev;
	char			*cause;
	int			 rc;

	(void)fd;
	(void)events;
	(void)arg;
	for (w = TAILQ_FIRST(&wf_waiting); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (wf_g.running >= wf_g.cf->max_parallel_ops ||
		    wf_g.shutting_down)
			return;
		if (wf_queue_active(w->p.vm) != NULL)
			continue;
		/*
		 * Off the list first: a refusal's answer may make its owner
		 * forget it.  A start refused for the lock calls nothing
		 * back, so prev is still there to put it back after.
		 */
		prev = TAILQ_PREV(w, wf_waitq, entry);
		TAILQ_REMOVE(&wf_waiting, w, entry);
		cause = NULL;
		wf_g.lock_busy = 0;
		rc = wf_queue_run(w->kind, &w->p, w->cb, w->arg, &cause);
		if (rc == EVG_BUSY && wf_g.lock_busy) {
			/* Taken meanwhile (a scheduled rollback): wait on. */
			if (prev != NULL)
				TAILQ_INSERT_AFTER(&wf_waiting, prev, w, entry);
			else
				TAILQ_INSERT_HEAD(&wf_waiting, w, entry);
			free(cause);
			return;
		}
		if (rc != EVG_OK && w->cb != NULL)
			w->cb(rc, cause, NULL, 0, w->arg);
		free(cause);
		wf_waiter_free(w);
		/* A callback may have changed the list: start over. */
		next = TAILQ_FIRST(&wf_waiting);
	}
}

/* A workflow ended (or a slot freed): look at the queue from the loop. */
void
wf_queue_kick(void)
{
	if (TAILQ_EMPTY(&wf_waiting) || wf_g.shutting_down)
		return;
	if (wf_kick_ev == NULL && (wf_kick_ev = event_new(wf_g.base, -1, 0,
	    wf_kick_cb, NULL)) == NULL)
		fatalx("%s: event_new failed", __func__);
	event_active(wf_kick_ev, 0, 0);
}

/* The limits were reloaded; see workflow.h. */
void
workflow_limits_changed(void)
{
	wf_queue_kick();
}

/* The requester went away: its waiting requests go, unanswered. */
void
wf_queue_forget(void *owner)
{
	struct wf_waiter	*w, *next;

	for (w = TAILQ_FIRST(&wf_waiting); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->arg == owner)
			wf_waiter_end(w, EVG_OK, NULL);
	}
}

/* The VM was removed: what waits for it is answered UNAVAILABLE. */
void
wf_queue_vm_removed(const char *uuid)
{
	struct wf_waiter	*w, *next;

	for (w = TAILQ_FIRST(&wf_waiting); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (strcasecmp(w->p.vm, uuid) == 0) {
			wf_waiter_end(w, EVG_UNAVAILABLE, "the VM was removed "
			    "while the request waited for its turn; nothing "
			    "was done");
			next = TAILQ_FIRST(&wf_waiting);
		}
	}
}

/* Shutting down: every waiter goes, unanswered (connections close). */
void
wf_queue_shutdown(void)
{
	struct wf_waiter	*w;

	while ((w = TAILQ_FIRST(&wf_waiting)) != NULL)
		wf_waiter_end(w, EVG_OK, NULL);
	if (wf_kick_ev != NULL)
		event_free(wf_kick_ev);
	wf_kick_ev = NULL;
}
