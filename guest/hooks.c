/*
 * Snapshot hooks: plan a phase (list and check its hooks), then run them
 * one at a time from the event loop, each through common/proc.c (which
 * watches it on its own, so the daemon's other children are left alone).
 * This file keeps the policy: which hooks, the checks, the order, the
 * environment and what a result means.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "hooks.h"
#include "log.h"
#include "proc.h"
#include "xmalloc.h"

/* Most bytes of a hook's last output line quoted in a failure. */
#define HOOKS_FAILURE_LINE	200

enum hooks_state {
	HOOKS_STARTING,		/* planned; first step scheduled */
	HOOKS_RUNNING,		/* a hook is running */
	HOOKS_FINISHING,	/* callback scheduled */
	HOOKS_CALLING,		/* callback running; freed when it returns */
};

struct hooks_run {
	struct event_base	*base;
	enum hooks_state	 state;
	enum hooks_phase	 phase;
	char			*dir;
	char			**env;		/* NULL-terminated */
	unsigned int		 timeout_ms;
	struct timespec		 start;

	struct hook_result	*results;
	char			*pending;	/* results[i] still to run */
	size_t			 n;
	size_t			 current;	/* the running hook */
	struct proc		*child;		/* the running hook */
	int			 timed_out;
	char			*failure;

	struct event		*ev_step;
	struct event		*ev_timeout;
	hooks_done_cb		 cb;
	void			*arg;
};

static void	hooks_next(struct hooks_run *);
static void	hooks_log_result(const struct hooks_run *,
		    const struct hook_result *);

/* The phase's name. */
const char *
hooks_phase_name(enum hooks_phase phase)
{
	switch (phase) {
	case HOOKS_PHASE_PRE:
		return ("pre");
	case HOOKS_PHASE_POST:
		return ("post");
	case HOOKS_PHASE_ABORT:
		return ("abort");
	}
	return ("unknown");
}

/* The operation's name. */
const char *
hooks_operation_name(enum hooks_operation op)
{
	switch (op) {
	case HOOKS_OP_CREATE:
		return ("create");
	case HOOKS_OP_ROLLBACK:
		return ("rollback");
	}
	return ("unknown");
}

/* The status's name. */
const char *
hooks_status_name(enum hook_status status)
{
	switch (status) {
	case HOOK_OK:
		return ("ok");
	case HOOK_FAILED:
		return ("failed");
	case HOOK_SKIPPED:
		return ("skipped");
	case HOOK_REFUSED:
		return ("refused");
	case HOOK_TIMEOUT:
		return ("timeout");
	case HOOK_NOT_RUN:
		return ("not-run");
	}
	return ("unknown");
}

/* Bound a timeout the host asked for; see hooks.h. */
unsigned int
hooks_timeout_clamp(unsigned int ms)
{
	if (ms == 0)
		return (HOOKS_TIMEOUT_DEFAULT_MS);
	if (ms < HOOKS_TIMEOUT_MIN_MS)
		return (HOOKS_TIMEOUT_MIN_MS);
	if (ms > HOOKS_TIMEOUT_MAX_MS)
		return (HOOKS_TIMEOUT_MAX_MS);
	return (ms);
}

/* True if s holds a control character. */
static int
hooks_has_control(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return (1);
	}
	return (0);
}

/*
 * Check a hook (want_dir 0) or a hooks directory (want_dir 1).  Returns
 * HOOK_OK if it may be used, HOOK_SKIPPED if it does not exist, or
 * HOOK_REFUSED with *reason (caller frees).  A symlink is judged by its
 * target; a dangling one is refused, since someone meant a hook there.
 */
static enum hook_status
hooks_check(const char *path, int want_dir, char **reason)
{
	struct stat	st;
	mode_t		perm;

	*reason = NULL;
	if (stat(path, &st) == -1) {
		if (errno == ENOENT && lstat(path, &st) == -1)
			return (HOOK_SKIPPED);
		if (errno == ENOENT)
			*reason = xstrdup("dangling symbolic link");
		else
			xasprintf(reason, "cannot stat: %s", strerror(errno));
		return (HOOK_REFUSED);
	}
	perm = st.st_mode & 07777;
	if (want_dir && !S_ISDIR(st.st_mode))
		*reason = xstrdup("not a directory");
	else if (!want_dir && !S_ISREG(st.st_mode))
		*reason = xstrdup("not a regular file");
	else if (st.st_uid != 0)
		xasprintf(reason, "owned by uid %lu, must be root",
		    (unsigned long)st.st_uid);
	else if ((perm & (S_IWGRP | S_IWOTH)) != 0)
		xasprintf(reason, "writable by group or others (mode %04o)",
		    (unsigned int)perm);
	else if (!want_dir && (perm & S_IXUSR) == 0)
		xasprintf(reason, "not executable by its owner (mode %04o)",
		    (unsigned int)perm);
	return (*reason == NULL ? HOOK_OK : HOOK_REFUSED);
}

/* Append a result for path; pending if it is to run.  Takes reason. */
static struct hook_result *
hooks_add(struct hooks_run *run, const char *path, enum hook_status status,
    char *reason, int pending)
{
	struct hook_result	*r;

	run->results = xreallocarray(run->results, run->n + 1,
	    sizeof *run->results);
	run->pending = xreallocarray(run->pending, run->n + 1, 1);
	r = &run->results[run->n];
	memset(r, 0, sizeof *r);
	r->path = xstrdup(path);
	r->status = status;
	r->exit_code = -1;
	r->output = xstrdup("");
	r->reason = reason;
	run->pending[run->n] = pending;
	run->n++;
	if (status == HOOK_REFUSED)
		hooks_log_result(run, r);
	return (r);
}

/* Plan one hook file: pending if it passes the checks. */
static void
hooks_plan_file(struct hooks_run *run, const char *path)
{
	enum hook_status	 status;
	char			*reason;

	status = hooks_check(path, 0, &reason);
	if (status == HOOK_SKIPPED)
		reason = xstrdup("not present");
	hooks_add(run, path, status == HOOK_OK ? HOOK_NOT_RUN : status,
	    reason, status == HOOK_OK);
}

/* True for a name in pre.d or post.d that is a hook, not a leftover. */
static int
hooks_name_ok(const char *name)
{
	size_t	len = strlen(name);

	if (len == 0 || name[0] == '.' || name[len - 1] == '~')
		return (0);
	return (strstr(name, ".dpkg-") == NULL);
}

/* qsort: names in strcmp() order. */
static int
hooks_name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/*
 * Plan the hooks in directory path, in name order or reversed.  A missing
 * directory is one SKIPPED result, a refused or unreadable one one
 * REFUSED result.
 */
static void
hooks_plan_dir(struct hooks_run *run, const char *path, int reverse)
{
	enum hook_status	  status;
	struct dirent		 *de;
	DIR			 *d;
	char			**names = NULL, *reason, *file;
	size_t			  n = 0, i;

	status = hooks_check(path, 1, &reason);
	if (status == HOOK_SKIPPED) {
		hooks_add(run, path, HOOK_SKIPPED, xstrdup("not present"), 0);
		return;
	}
	if (status == HOOK_REFUSED) {
		hooks_add(run, path, HOOK_REFUSED, reason, 0);
		return;
	}
	if ((d = opendir(path)) == NULL) {
		xasprintf(&reason, "cannot open: %s", strerror(errno));
		hooks_add(run, path, HOOK_REFUSED, reason, 0);
		return;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (!hooks_name_ok(de->d_name))
			continue;
		if (n == HOOKS_MAX_ENTRIES) {
			xasprintf(&reason, "more than %d entries",
			    HOOKS_MAX_ENTRIES);
			goto fail;
		}
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = xstrdup(de->d_name);
	}
	if (errno != 0) {
		xasprintf(&reason, "cannot read: %s", strerror(errno));
		goto fail;
	}
	closedir(d);
	if (n != 0)
		qsort(names, n, sizeof *names, hooks_name_cmp);
	for (i = 0; i < n; i++) {
		xasprintf(&file, "%s/%s", path, names[reverse ? n - 1 - i : i]);
		hooks_plan_file(run, file);
		free(file);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return;

fail:
	closedir(d);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	hooks_add(run, path, HOOK_REFUSED, reason, 0);
}

/* Mark every hook still pending NOT_RUN with why. */
static void
hooks_drop_pending(struct hooks_run *run, const char *why)
{
	size_t	i;

	for (i = 0; i < run->n; i++) {
		if (!run->pending[i])
			continue;
		run->pending[i] = 0;
		run->results[i].status = HOOK_NOT_RUN;
		free(run->results[i].reason);
		xasprintf(&run->results[i].reason, "not run: %s", why);
	}
}

/* List and check the phase's hooks, in the order they run. */
static void
hooks_plan(struct hooks_run *run)
{
	enum hook_status	 status;
	char			*reason, *path;

	status = hooks_check(run->dir, 1, &reason);
	if (status == HOOK_REFUSED) {
		hooks_add(run, run->dir, HOOK_REFUSED, reason, 0);
		return;
	}
	if (run->phase == HOOKS_PHASE_PRE) {
		xasprintf(&path, "%s/pre.sh", run->dir);
		hooks_plan_file(run, path);
		free(path);
		xasprintf(&path, "%s/pre.d", run->dir);
		hooks_plan_dir(run, path, 0);
		free(path);
	} else {
		xasprintf(&path, "%s/post.d", run->dir);
		hooks_plan_dir(run, path, 1);
		free(path);
		xasprintf(&path, "%s/post.sh", run->dir);
		hooks_plan_file(run, path);
		free(path);
	}
}

/* Build the hooks' environment; see hooks.h. */
static char **
hooks_env(const struct hooks_params *p, unsigned int timeout_ms)
{
	char	**env, *disks = NULL, *old;
	size_t	  i;
	time_t	  deadline;

	for (i = 0; i < p->ndisks; i++) {
		old = disks;
		if (old == NULL)
			disks = xstrdup(p->disks[i]);
		else {
			xasprintf(&disks, "%s %s", old, p->disks[i]);
			free(old);
		}
	}
	deadline = time(NULL) + (time_t)((timeout_ms + 999) / 1000);

	env = xcalloc(8, sizeof *env);
	xasprintf(&env[0], "PATH=%s", HOOKS_PATH);
	xasprintf(&env[1], "EVE_SNAPSHOT_PHASE=%s", hooks_phase_name(p->phase));
	xasprintf(&env[2], "EVE_SNAPSHOT_OPERATION=%s",
	    hooks_operation_name(p->operation));
	xasprintf(&env[3], "EVE_SNAPSHOT_NAME=%s",
	    p->name != NULL ? p->name : "");
	xasprintf(&env[4], "EVE_SNAPSHOT_UUID=%s",
	    p->uuid != NULL ? p->uuid : "");
	xasprintf(&env[5], "EVE_SNAPSHOT_DISKS=%s", disks != NULL ? disks : "");
	xasprintf(&env[6], "EVE_SNAPSHOT_DEADLINE=%lld", (long long)deadline);
	env[7] = NULL;
	free(disks);
	return (env);
}

/* Check the caller's params.  Returns 0, or -1 with *cause. */
static int
hooks_params_check(const struct hooks_params *p, char **cause)
{
	const char	*d;
	size_t		 i;

	if (p->dir != NULL && p->dir[0] != '/') {
		xasprintf(cause, "hooks dir '%s' is not an absolute path",
		    p->dir);
		return (-1);
	}
	if (p->phase != HOOKS_PHASE_PRE && p->phase != HOOKS_PHASE_POST &&
	    p->phase != HOOKS_PHASE_ABORT) {
		xasprintf(cause, "unknown hooks phase %d", (int)p->phase);
		return (-1);
	}
	if (p->operation != HOOKS_OP_CREATE &&
	    p->operation != HOOKS_OP_ROLLBACK) {
		xasprintf(cause, "unknown snapshot operation %d",
		    (int)p->operation);
		return (-1);
	}
	if ((p->name != NULL && (strlen(p->name) > HOOKS_MAX_VALUE ||
	    hooks_has_control(p->name))) ||
	    (p->uuid != NULL && (strlen(p->uuid) > HOOKS_MAX_VALUE ||
	    hooks_has_control(p->uuid)))) {
		xasprintf(cause, "snapshot name or UUID too long or holding "
		    "control characters");
		return (-1);
	}
	if (p->ndisks != 0 && p->disks == NULL) {
		xasprintf(cause, "%zu disks but no list", p->ndisks);
		return (-1);
	}
	if (p->ndisks > HOOKS_MAX_DISKS) {
		xasprintf(cause, "too many disks (%zu, at most %d)", p->ndisks,
		    HOOKS_MAX_DISKS);
		return (-1);
	}
	for (i = 0; i < p->ndisks; i++) {
		d = p->disks[i];
		if (d == NULL || d[0] != '/' || strlen(d) > HOOKS_MAX_VALUE ||
		    hooks_has_control(d) || strchr(d, ' ') != NULL) {
			xasprintf(cause, "disk %zu is not an absolute device "
			    "path without white space", i + 1);
			return (-1);
		}
	}
	return (0);
}

/* The last non-blank line of out, control characters as '?'; caller frees. */
static char *
hooks_last_line(const char *out, size_t len)
{
	size_t	end = len, b, i;
	char	*line;

	while (end > 0 && (out[end - 1] == '\n' || out[end - 1] == '\r' ||
	    out[end - 1] == ' ' || out[end - 1] == '\t'))
		end--;
	for (b = end; b > 0 && out[b - 1] != '\n'; b--)
		;
	if (end - b > HOOKS_FAILURE_LINE)
		b = end - HOOKS_FAILURE_LINE;
	line = xstrndup(out + b, end - b);
	for (i = 0; line[i] != '\0'; i++) {
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	}
	return (line);
}

/* Log a finished hook's result. */
static void
hooks_log_result(const struct hooks_run *run, const struct hook_result *r)
{
	char	path[512], why[512];

	log_escape(path, sizeof path, r->path, strlen(r->path));
	if (r->reason == NULL)
		log_escape(why, sizeof why, "", 0);
	else
		log_escape(why, sizeof why, r->reason, strlen(r->reason));
	if (r->status == HOOK_OK || r->status == HOOK_SKIPPED)
		log_info("hooks: %s: %s: %s%s%s (%u ms)",
		    hooks_phase_name(run->phase), path,
		    hooks_status_name(r->status), r->reason != NULL ? ", " : "",
		    why, r->elapsed_ms);
	else
		log_warnx("hooks: %s: %s: %s: %s (%u ms)",
		    hooks_phase_name(run->phase), path,
		    hooks_status_name(r->status), why, r->elapsed_ms);
}

/* The running hook ended (or was killed and would not die): go on. */
static void
hooks_child_done(const struct proc_result *pr, void *arg)
{
	struct hooks_run	*run = arg;
	struct hook_result	*r = &run->results[run->current];

	free(r->output);
	r->output = xmalloc(pr->out_len + 1);
	memcpy(r->output, pr->out, pr->out_len + 1);
	r->output_len = pr->out_len;
	r->elapsed_ms = pr->elapsed_ms;
	run->child = NULL;

	if (pr->exited)
		r->exit_code = pr->status;
	r->signo = pr->signo;
	if (pr->still_running) {
		r->status = HOOK_TIMEOUT;
		xasprintf(&r->reason, "timed out after %u ms; still running "
		    "%u ms after SIGKILL", run->timeout_ms,
		    HOOKS_KILL_GRACE_MS);
	} else if (run->timed_out) {
		r->status = HOOK_TIMEOUT;
		xasprintf(&r->reason, "timed out after %u ms", run->timeout_ms);
	} else if (pr->lost) {
		r->status = HOOK_FAILED;
		r->reason = xstrdup("exit status lost (the process was reaped "
		    "elsewhere)");
	} else if (pr->exited && pr->status == 0)
		r->status = HOOK_OK;
	else if (pr->exited) {
		r->status = HOOK_FAILED;
		xasprintf(&r->reason, "exit %d", pr->status);
	} else {
		r->status = HOOK_FAILED;
		xasprintf(&r->reason, "killed by signal %d (%s)", pr->signo,
		    strsignal(pr->signo));
	}
	hooks_log_result(run, r);
	hooks_next(run);
}

/*
 * Start the hook at path: executed as it is (no shell), cwd "/", umask
 * 022, only the run's environment, stdout and stderr merged, done when
 * it exits (what it left in the background is neither waited for nor
 * killed).  Returns the child, or NULL with *reason.
 */
static struct proc *
hooks_spawn(struct hooks_run *run, const char *path, char **reason)
{
	char			*argv[2] = { (char *)path, NULL };
	struct proc_spec	 spec = {
		.base = run->base,
		.argv = argv,
		.envp = run->env,
		.cwd = "/",
		.umask = 022,
		.grace_ms = HOOKS_KILL_GRACE_MS,
		.max_output = HOOKS_OUTPUT_TAIL,
		.flags = PROC_MERGE_OUTPUT | PROC_EXIT_ONLY | PROC_TAIL_UTF8 |
		    PROC_EXEC_PATH | PROC_SET_UMASK,
	};
	struct proc		*c;

	if ((c = proc_start(&spec, hooks_child_done, run, reason)) == NULL)
		return (NULL);
	log_debug("%s: %s phase: %s: pid %ld", __func__,
	    hooks_phase_name(run->phase), path, (long)proc_pid(c));
	return (c);
}

/* True if a result fails the phase. */
static int
hooks_failed(const struct hook_result *r)
{
	return (r->status == HOOK_FAILED || r->status == HOOK_REFUSED ||
	    r->status == HOOK_TIMEOUT);
}

/*
 * In "pre", the first hook that failed, which stops the phase; else NULL.
 * A hook refused while planning stops it before anything runs: pre.sh
 * must not prepare applications for a snapshot the rest of the phase
 * will not let happen.
 */
static struct hook_result *
hooks_stopped_at(struct hooks_run *run)
{
	size_t	i;

	if (run->phase != HOOKS_PHASE_PRE)
		return (NULL);
	for (i = 0; i < run->n; i++) {
		if (hooks_failed(&run->results[i]))
			return (&run->results[i]);
	}
	return (NULL);
}

/* Whole phase over: settle the result and schedule the callback. */
static void
hooks_finish(struct hooks_run *run)
{
	const struct hook_result	*r;
	char				*line;
	size_t				 i;

	for (i = 0; i < run->n && run->failure == NULL; i++) {
		r = &run->results[i];
		if (!hooks_failed(r))
			continue;
		line = hooks_last_line(r->output, r->output_len);
		if (r->status == HOOK_REFUSED)
			xasprintf(&run->failure, "%s refused: %s", r->path,
			    r->reason);
		else if (*line != '\0')
			xasprintf(&run->failure, "%s: %s: %s", r->path,
			    r->reason, line);
		else
			xasprintf(&run->failure, "%s: %s", r->path, r->reason);
		free(line);
	}
	/* Even if no hook had started yet, a phase out of time failed. */
	if (run->failure == NULL && run->timed_out)
		xasprintf(&run->failure, "the %s phase timed out after %u ms",
		    hooks_phase_name(run->phase), run->timeout_ms);
	log_info("hooks: %s phase %s after %u ms", hooks_phase_name(run->phase),
	    run->failure == NULL ? "ok" : "failed", proc_elapsed_ms(&run->start));
	run->state = HOOKS_FINISHING;
	event_del(run->ev_timeout);
	event_active(run->ev_step, 0, 0);
}

/*
 * Start the next pending hook, settling those that can no longer run; when
 * none is left (or the phase stopped), finish.
 */
static void
hooks_next(struct hooks_run *run)
{
	struct hook_result	*r;
	enum hook_status	 status;
	char			*reason, *why;
	size_t			 i;

	for (;;) {
		if (run->timed_out) {
			hooks_drop_pending(run, "the phase timed out");
			break;
		}
		if ((r = hooks_stopped_at(run)) != NULL) {
			xasprintf(&why, "the phase stopped at %s", r->path);
			hooks_drop_pending(run, why);
			free(why);
			break;
		}
		for (i = 0; i < run->n && !run->pending[i]; i++)
			;
		if (i == run->n)
			break;
		run->pending[i] = 0;
		r = &run->results[i];
		/* Checked again: the file may have changed since planning. */
		status = hooks_check(r->path, 0, &reason);
		if (status == HOOK_SKIPPED) {
			r->status = HOOK_SKIPPED;
			r->reason = xstrdup("not present");
			hooks_log_result(run, r);
			continue;
		}
		if (status == HOOK_REFUSED) {
			r->status = HOOK_REFUSED;
			r->reason = reason;
			hooks_log_result(run, r);
			continue;
		}
		run->current = i;
		if ((run->child = hooks_spawn(run, r->path, &reason)) == NULL) {
			r->status = HOOK_FAILED;
			r->reason = reason;
			hooks_log_result(run, r);
			continue;
		}
		run->state = HOOKS_RUNNING;
		return;
	}
	hooks_finish(run);
}

/* Free a run and what it owns; a hook still running is killed. */
static void
hooks_run_free(struct hooks_run *run)
{
	size_t	i;

	if (run->child != NULL) {
		proc_cancel(run->child);
		run->child = NULL;
	}
	for (i = 0; i < run->n; i++) {
		free(run->results[i].path);
		free(run->results[i].output);
		free(run->results[i].reason);
	}
	free(run->results);
	free(run->pending);
	for (i = 0; run->env[i] != NULL; i++)
		free(run->env[i]);
	free(run->env);
	free(run->dir);
	free(run->failure);
	event_free(run->ev_step);
	event_free(run->ev_timeout);
	free(run);
}

/* The step event: start the phase, or hand the result over. */
static void
hooks_step_cb(evutil_socket_t fd, short events, void *arg)
{
	struct hooks_run	*run = arg;
	struct hooks_result	 res;

	(void)fd;
	(void)events;
	if (run->state == HOOKS_STARTING) {
		hooks_next(run);
		return;
	}
	if (run->state != HOOKS_FINISHING)
		return;
	memset(&res, 0, sizeof res);
	res.phase = run->phase;
	res.ok = (run->failure == NULL);
	res.failure = run->failure;
	res.hooks = run->results;
	res.nhooks = run->n;
	res.elapsed_ms = proc_elapsed_ms(&run->start);
	run->state = HOOKS_CALLING;
	run->cb(&res, run->arg);
	hooks_run_free(run);
}

/*
 * The phase's time ran out: kill the running hook's group; the runner
 * gives it HOOKS_KILL_GRACE_MS to die before it is left behind.
 */
static void
hooks_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct hooks_run	*run = arg;

	(void)fd;
	(void)events;
	if (run->state == HOOKS_FINISHING || run->state == HOOKS_CALLING ||
	    run->timed_out)
		return;
	run->timed_out = 1;
	if (run->child == NULL)
		return;
	log_warnx("hooks: %s phase timed out after %u ms; killing the process "
	    "group of pid %ld", hooks_phase_name(run->phase), run->timeout_ms,
	    (long)proc_pid(run->child));
	proc_expire(run->child);
}

/* Start a phase; see hooks.h. */
struct hooks_run *
hooks_run_start(struct event_base *base, const struct hooks_params *p,
    hooks_done_cb cb, void *arg, char **cause)
{
	struct hooks_run	*run;
	struct timeval		 tv;
	char			 dir[512];

	if (hooks_params_check(p, cause) == -1)
		return (NULL);
	run = xcalloc(1, sizeof *run);
	run->base = base;
	run->state = HOOKS_STARTING;
	run->phase = p->phase;
	run->dir = xstrdup(p->dir != NULL ? p->dir : HOOKS_DIR_DEFAULT);
	run->timeout_ms = p->timeout_ms == 0 ? HOOKS_TIMEOUT_DEFAULT_MS :
	    p->timeout_ms;
	if (run->timeout_ms > HOOKS_TIMEOUT_MAX_MS)
		run->timeout_ms = HOOKS_TIMEOUT_MAX_MS;
	run->env = hooks_env(p, run->timeout_ms);
	run->cb = cb;
	run->arg = arg;
	clock_gettime(CLOCK_MONOTONIC, &run->start);

	run->ev_step = event_new(base, -1, 0, hooks_step_cb, run);
	run->ev_timeout = evtimer_new(base, hooks_timeout_cb, run);
	if (run->ev_step == NULL || run->ev_timeout == NULL)
		fatalx("%s: event_new failed", __func__);
	/* From now, not from when this loop iteration began. */
	event_base_update_cache_time(base);
	tv.tv_sec = run->timeout_ms / 1000;
	tv.tv_usec = (run->timeout_ms % 1000) * 1000;
	evtimer_add(run->ev_timeout, &tv);

	hooks_plan(run);
	log_info("hooks: %s phase (%s) in %s: %zu entries, timeout %u ms",
	    hooks_phase_name(run->phase), hooks_operation_name(p->operation),
	    log_escape(dir, sizeof dir, run->dir, strlen(run->dir)), run->n,
	    run->timeout_ms);
	event_active(run->ev_step, 0, 0);
	return (run);
}

/* Cancel a run; see hooks.h. */
void
hooks_run_cancel(struct hooks_run *run)
{
	if (run == NULL || run->state == HOOKS_CALLING)
		return;
	if (run->child != NULL) {
		log_info("hooks: %s phase cancelled; killing the process group "
		    "of pid %ld", hooks_phase_name(run->phase),
		    (long)proc_pid(run->child));
	}
	hooks_run_free(run);
}
