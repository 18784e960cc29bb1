/*
 * Snapshot hooks: plan a phase (list and check its hooks), then run them
 * one at a time from the event loop.  Each hook is one child watched on
 * its own (a pidfd, or a waitpid(pid) poll): the daemon may have other
 * children, and reaping anything else here would steal their statuses.
 *
 * A child outlives its run when the run is cancelled or a killed hook
 * does not die: it is then detached (its run pointer cleared) and frees
 * itself once reaped.  While it belongs to a run, its process group is
 * signalled only before it is reaped, so the group id cannot have been
 * reused by then.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "hooks.h"
#include "log.h"
#include "text.h"
#include "xmalloc.h"

#define HOOKS_READ_CHUNK	16384
/* Reads of what is left in the pipe once the hook has exited. */
#define HOOKS_DRAIN_READS	16
/* Most bytes of a hook's last output line quoted in a failure. */
#define HOOKS_FAILURE_LINE	200

enum hooks_state {
	HOOKS_STARTING,		/* planned; first step scheduled */
	HOOKS_RUNNING,		/* a hook is running */
	HOOKS_FINISHING,	/* callback scheduled */
	HOOKS_CALLING,		/* callback running; freed when it returns */
};

/* How a child ended, as waitid() or waitpid() told. */
struct hooks_exit {
	int	lost;		/* reaped elsewhere: nothing known */
	int	exited;
	int	code;
	int	signo;
};

struct hooks_child {
	struct hooks_run	*run;		/* NULL once detached */
	pid_t			 pid;		/* also its process group */
	int			 pidfd;		/* -1: polling waitpid() */
	int			 outfd;		/* -1 once closed */
	struct event		*ev_out;
	struct event		*ev_wait;
	char			*buf;		/* output tail */
	size_t			 len;
	struct timespec		 start;
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
	struct hooks_child	*child;
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
static void	hooks_child_wait_cb(evutil_socket_t, short, void *);

/* Milliseconds on the monotonic clock since start, rounded. */
static unsigned int
hooks_elapsed(const struct timespec *start)
{
	struct timespec	now;
	long long	ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = ((long long)(now.tv_sec - start->tv_sec) * 1000000000 +
	    (now.tv_nsec - start->tv_nsec) + 500000) / 1000000;
	return (ms < 0 ? 0 : (unsigned int)ms);
}

/* A timeval of ms milliseconds. */
static struct timeval
hooks_tv(unsigned int ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return (tv);
}

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

/* Append n bytes of output to a child's tail, dropping what is too old. */
static void
hooks_child_append(struct hooks_child *c, const char *data, size_t n)
{
	size_t	keep;

	if (n >= HOOKS_OUTPUT_TAIL) {
		memcpy(c->buf, data + n - HOOKS_OUTPUT_TAIL, HOOKS_OUTPUT_TAIL);
		c->len = HOOKS_OUTPUT_TAIL;
		return;
	}
	/* buf holds twice the tail: one memmove per tail's worth read. */
	if (c->len + n > 2 * HOOKS_OUTPUT_TAIL) {
		keep = HOOKS_OUTPUT_TAIL - n;
		memmove(c->buf, c->buf + c->len - keep, keep);
		c->len = keep;
	}
	memcpy(c->buf + c->len, data, n);
	c->len += n;
}

/* Stop reading a child's output and close the pipe (idempotent). */
static void
hooks_child_close_output(struct hooks_child *c)
{
	if (c->ev_out != NULL) {
		event_free(c->ev_out);
		c->ev_out = NULL;
	}
	if (c->outfd != -1) {
		close(c->outfd);
		c->outfd = -1;
	}
}

/*
 * Read once from a child's output.  Returns 1 if bytes were read, 0 if
 * none were ready, -1 once the pipe reached EOF or failed (and was closed).
 */
static int
hooks_child_read(struct hooks_child *c)
{
	char	buf[HOOKS_READ_CHUNK];
	ssize_t	n;

	n = read(c->outfd, buf, sizeof buf);
	if (n > 0) {
		hooks_child_append(c, buf, (size_t)n);
		return (1);
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return (0);
	if (n == -1)
		log_warn("%s: pid %ld", __func__, (long)c->pid);
	hooks_child_close_output(c);
	return (-1);
}

/* Output is ready on a child's pipe. */
static void
hooks_child_output_cb(evutil_socket_t fd, short events, void *arg)
{
	struct hooks_child	*c = arg;

	(void)fd;
	(void)events;
	hooks_child_read(c);
}

/*
 * Once the hook exited: read what it left in the pipe, then close it even
 * if a background process it started still holds the write end.
 */
static void
hooks_child_drain(struct hooks_child *c)
{
	int	i;

	for (i = 0; i < HOOKS_DRAIN_READS && c->outfd != -1; i++) {
		if (hooks_child_read(c) <= 0)
			break;
	}
	hooks_child_close_output(c);
}

/* SIGKILL a child's process group (or the child, should it have none). */
static void
hooks_child_kill(struct hooks_child *c)
{
	if (kill(-c->pid, SIGKILL) == -1 && errno == ESRCH)
		kill(c->pid, SIGKILL);
}

/* Free a child that was reaped (or is being abandoned). */
static void
hooks_child_free(struct hooks_child *c)
{
	hooks_child_close_output(c);
	if (c->ev_wait != NULL)
		event_free(c->ev_wait);
	if (c->pidfd != -1)
		close(c->pidfd);
	free(c->buf);
	free(c);
}

/* Let a killed child go: it frees itself once reaped. */
static void
hooks_child_detach(struct hooks_child *c)
{
	c->run = NULL;
	hooks_child_close_output(c);
}

/*
 * Reap a child if it has exited.  Returns 1 with *e filled, or 0 if it is
 * still running.
 */
static int
hooks_child_reap(struct hooks_child *c, struct hooks_exit *e)
{
	siginfo_t	si;
	pid_t		pid;
	int		status;

	memset(e, 0, sizeof *e);
	while (c->pidfd != -1) {
		memset(&si, 0, sizeof si);
		if (waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si,
		    WEXITED | WNOHANG) == 0) {
			if (si.si_pid == 0)
				return (0);
			if (si.si_code == CLD_EXITED) {
				e->exited = 1;
				e->code = si.si_status;
			} else
				e->signo = si.si_status;
			return (1);
		}
		if (errno == EINTR)
			continue;
		if (errno == ECHILD) {
			e->lost = 1;
			return (1);
		}
		/* Linux 5.3 has pidfd_open() but not P_PIDFD: use the pid. */
		break;
	}
	for (;;) {
		pid = waitpid(c->pid, &status, WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid == 0)
			return (0);
		if (pid == -1) {
			e->lost = 1;
			return (1);
		}
		break;
	}
	if (WIFEXITED(status)) {
		e->exited = 1;
		e->code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status))
		e->signo = WTERMSIG(status);
	return (1);
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

/*
 * The running hook's child ended (or, with still_running, was killed and
 * would not die): record its result and go on with the phase.
 */
static void
hooks_child_done(struct hooks_child *c, const struct hooks_exit *e,
    int still_running)
{
	struct hooks_run	*run = c->run;
	struct hook_result	*r = &run->results[run->current];
	size_t			 n;

	if (!still_running)
		hooks_child_drain(c);
	/* The tail never begins inside a UTF-8 sequence. */
	n = c->len - text_utf8_suffix(c->buf, c->len, HOOKS_OUTPUT_TAIL);
	free(r->output);
	r->output = xmalloc(n + 1);
	memcpy(r->output, c->buf + c->len - n, n);
	r->output[n] = '\0';
	r->output_len = n;
	r->elapsed_ms = hooks_elapsed(&c->start);
	run->child = NULL;

	if (still_running) {
		r->status = HOOK_TIMEOUT;
		r->signo = SIGKILL;
		xasprintf(&r->reason, "timed out after %u ms; still running "
		    "%u ms after SIGKILL", run->timeout_ms,
		    HOOKS_KILL_GRACE_MS);
		hooks_child_detach(c);
	} else {
		if (e->exited)
			r->exit_code = e->code;
		r->signo = e->signo;
		if (run->timed_out) {
			r->status = HOOK_TIMEOUT;
			xasprintf(&r->reason, "timed out after %u ms",
			    run->timeout_ms);
		} else if (e->lost) {
			r->status = HOOK_FAILED;
			r->reason = xstrdup("exit status lost (the process "
			    "was reaped elsewhere)");
		} else if (e->exited && e->code == 0)
			r->status = HOOK_OK;
		else if (e->exited) {
			r->status = HOOK_FAILED;
			xasprintf(&r->reason, "exit %d", e->code);
		} else {
			r->status = HOOK_FAILED;
			xasprintf(&r->reason, "killed by signal %d (%s)",
			    e->signo, strsignal(e->signo));
		}
		hooks_child_free(c);
	}
	hooks_log_result(run, r);
	hooks_next(run);
}

/* A child may have exited (pidfd readable, or the poll timer fired). */
static void
hooks_child_wait_cb(evutil_socket_t fd, short events, void *arg)
{
	struct hooks_child	*c = arg;
	struct hooks_exit	 e;

	(void)fd;
	(void)events;
	if (hooks_child_reap(c, &e) == 0)
		return;
	if (c->run == NULL) {
		log_debug("%s: detached hook pid %ld reaped", __func__,
		    (long)c->pid);
		hooks_child_free(c);
		return;
	}
	hooks_child_done(c, &e, 0);
}

/* Write s to stderr from the child; errors are ignored (nothing to do). */
static void
hooks_child_write(const char *s)
{
	size_t	len = strlen(s);
	ssize_t	n;

	while (len > 0) {
		n = write(STDERR_FILENO, s, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

/*
 * The child after fork: default signals, own process group, cwd "/",
 * stdin from /dev/null, stdout and stderr to the pipe, nothing else
 * open, exec.  Only system calls here: the parent's heap is not ours.
 */
static __attribute__((noreturn)) void
hooks_child_exec(const char *path, char *const env[], int null, int out)
{
	struct sigaction	 sa;
	sigset_t		 set;
	char			*argv[2];
	int			 sig, fd, saved;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	setpgid(0, 0);
	umask(022);

	/* Above 2 first, so that the dup2s cannot overwrite one another. */
	if ((null = fcntl(null, F_DUPFD_CLOEXEC, 3)) == -1 ||
	    (out = fcntl(out, F_DUPFD_CLOEXEC, 3)) == -1)
		_exit(127);
	if (dup2(null, STDIN_FILENO) == -1 || dup2(out, STDOUT_FILENO) == -1 ||
	    dup2(out, STDERR_FILENO) == -1)
		_exit(127);
	if (close_range(3, ~0U, 0) == -1) {
		for (fd = 3; fd < 1024; fd++)
			close(fd);
	}
	if (chdir("/") == -1) {
		hooks_child_write("cannot change directory to /\n");
		_exit(127);
	}

	argv[0] = (char *)path;
	argv[1] = NULL;
	execve(path, argv, env);
	saved = errno;
	hooks_child_write("cannot run ");
	hooks_child_write(path);
	hooks_child_write(": ");
	hooks_child_write(strerror(saved));
	hooks_child_write("\n");
	_exit(127);
}

/* Watch a new child: a pidfd if the kernel has them, else a poll. */
static void
hooks_child_watch(struct hooks_child *c, struct event_base *base)
{
	struct timeval	tv;

	c->pidfd = -1;
#ifdef SYS_pidfd_open
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
#endif
	if (c->pidfd != -1) {
		c->ev_wait = event_new(base, c->pidfd, EV_READ | EV_PERSIST,
		    hooks_child_wait_cb, c);
		if (c->ev_wait == NULL)
			fatalx("%s: event_new failed", __func__);
		event_add(c->ev_wait, NULL);
		return;
	}
	log_debug("%s: no pidfd (%s); polling pid %ld", __func__,
	    strerror(errno), (long)c->pid);
	c->ev_wait = event_new(base, -1, EV_PERSIST, hooks_child_wait_cb, c);
	if (c->ev_wait == NULL)
		fatalx("%s: event_new failed", __func__);
	tv = hooks_tv(HOOKS_POLL_MS);
	event_add(c->ev_wait, &tv);
}

/*
 * Start the hook at path.  Returns the child, or NULL with *reason when
 * it could not be started.
 */
static struct hooks_child *
hooks_spawn(struct hooks_run *run, const char *path, char **reason)
{
	struct hooks_child	*c;
	sigset_t		 all, old;
	int			 p[2] = { -1, -1 }, null, flags, saved;
	pid_t			 pid;

	if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		xasprintf(reason, "cannot open /dev/null: %s", strerror(errno));
		return (NULL);
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		xasprintf(reason, "cannot make a pipe: %s", strerror(errno));
		close(null);
		return (NULL);
	}
	/* Only the read end: the hook writes to a blocking pipe. */
	if ((flags = fcntl(p[0], F_GETFL)) == -1 ||
	    fcntl(p[0], F_SETFL, flags | O_NONBLOCK) == -1)
		fatal("%s: fcntl", __func__);

	/* No handler may run in the child before it resets them all. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		hooks_child_exec(path, run->env, null, p[1]);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(null);
	close(p[1]);
	if (pid == -1) {
		xasprintf(reason, "cannot fork: %s", strerror(saved));
		close(p[0]);
		return (NULL);
	}
	/* Also here, so that a kill right after this finds the group. */
	setpgid(pid, pid);

	c = xcalloc(1, sizeof *c);
	c->run = run;
	c->pid = pid;
	c->outfd = p[0];
	c->buf = xmalloc(2 * HOOKS_OUTPUT_TAIL);
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	c->ev_out = event_new(run->base, c->outfd, EV_READ | EV_PERSIST,
	    hooks_child_output_cb, c);
	if (c->ev_out == NULL)
		fatalx("%s: event_new failed", __func__);
	event_add(c->ev_out, NULL);
	hooks_child_watch(c, run->base);
	log_debug("%s: %s phase: %s: pid %ld", __func__,
	    hooks_phase_name(run->phase), path, (long)pid);
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
	    run->failure == NULL ? "ok" : "failed", hooks_elapsed(&run->start));
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

/* Free a run and what it owns; a child still attached is detached. */
static void
hooks_run_free(struct hooks_run *run)
{
	size_t	i;

	if (run->child != NULL) {
		hooks_child_detach(run->child);
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
	res.elapsed_ms = hooks_elapsed(&run->start);
	run->state = HOOKS_CALLING;
	run->cb(&res, run->arg);
	hooks_run_free(run);
}

/*
 * The phase's time ran out: kill the running hook's group and wait a
 * little for it to die; if the grace runs out too, leave it behind.
 */
static void
hooks_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct hooks_run	*run = arg;
	struct timeval		 tv;

	(void)fd;
	(void)events;
	if (run->state == HOOKS_FINISHING || run->state == HOOKS_CALLING)
		return;
	if (!run->timed_out) {
		run->timed_out = 1;
		if (run->child == NULL)
			return;
		log_warnx("hooks: %s phase timed out after %u ms; killing the "
		    "process group of pid %ld", hooks_phase_name(run->phase),
		    run->timeout_ms, (long)run->child->pid);
		hooks_child_kill(run->child);
		tv = hooks_tv(HOOKS_KILL_GRACE_MS);
		evtimer_add(run->ev_timeout, &tv);
		return;
	}
	if (run->child != NULL) {
		log_warnx("hooks: pid %ld still running after SIGKILL; leaving "
		    "it", (long)run->child->pid);
		hooks_child_done(run->child, NULL, 1);
	}
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
	tv = hooks_tv(run->timeout_ms);
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
		    (long)run->child->pid);
		hooks_child_kill(run->child);
	}
	hooks_run_free(run);
}
