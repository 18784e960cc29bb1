/*
 * The child-process runner (see proc.h): fork and exec, collect the tails
 * of stdout and stderr through non-blocking pipes, reap through a pidfd,
 * kill the process group on timeout.  Everything runs from the event
 * loop; nothing here waits for a child except proc_shutdown(), after
 * SIGKILL.
 *
 * Each child is reaped on its own (waitid(P_PIDFD), or waitpid(pid)):
 * the process may have other children, and reaping any of those here
 * would steal their statuses.  A child's process group is signalled only
 * while the child is not reaped, or while the proc is still running (its
 * pipes held by the group), so the group id cannot have been reused.
 */
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "text.h"
#include "xmalloc.h"

#define PROC_READ_CHUNK		16384
/* Reads of what is in a pipe before it is closed regardless. */
#define PROC_DRAIN_READS	64
/* proc_describe() quotes at most this much of the output, in lines. */
#define PROC_DESCRIBE_BYTES	256
#define PROC_DESCRIBE_LINES	3

enum proc_state {
	PROC_RUNNING,		/* child alive or a pipe still open */
	PROC_FINISHING,		/* callback scheduled (ev_done active) */
	PROC_CALLING,		/* callback running; freed when it returns */
	PROC_LEFT,		/* owner gone; kept only to reap the child */
};

/*
 * The tail of one output stream.  buf holds up to size bytes (at most
 * twice max) so that dropping old bytes costs one memmove per max bytes
 * read, not one per read.
 */
struct proc_stream {
	int		 fd;
	struct event	*ev;
	char		*buf;
	size_t		 len;
	size_t		 size;
};

struct proc {
	struct event_base	*base;
	pid_t			 pid;
	int			 pidfd;		/* -1: polling waitpid() */
	char			*name;
	int			 flags;
	enum proc_state		 state;
	int			 reaped;
	int			 exited;
	int			 status;
	int			 signo;
	int			 lost;
	int			 timed_out;
	int			 still_running;
	unsigned int		 grace_ms;
	size_t			 max_output;
	struct timespec		 start;
	unsigned int		 elapsed_ms;
	struct proc_stream	 out;
	struct proc_stream	 err;
	struct event		*ev_wait;
	struct event		*ev_timeout;	/* the timeout, then the grace */
	struct event		*ev_done;
	proc_done_cb		 cb;
	void			*arg;
	TAILQ_ENTRY(proc)	 entry;
};

TAILQ_HEAD(proc_list, proc);

static struct event_base	*proc_base;
static struct proc_list		 proc_live = TAILQ_HEAD_INITIALIZER(proc_live);

static void	proc_read_cb(evutil_socket_t, short, void *);
static void	proc_timeout_cb(evutil_socket_t, short, void *);
static void	proc_done_event(evutil_socket_t, short, void *);
static void	proc_wait_cb(evutil_socket_t, short, void *);

/* Nanoseconds on the monotonic clock since start, 0 if before it. */
static long long
proc_elapsed_ns(const struct timespec *start)
{
	struct timespec	now;
	long long	ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (long long)(now.tv_sec - start->tv_sec) * 1000000000 +
	    (now.tv_nsec - start->tv_nsec);
	return (ns < 0 ? 0 : ns);
}

/* Milliseconds since start; see proc.h. */
unsigned int
proc_elapsed_ms(const struct timespec *start)
{
	return ((unsigned int)((proc_elapsed_ns(start) + 500000) / 1000000));
}

/* Microseconds since start; see proc.h. */
uint64_t
proc_elapsed_us(const struct timespec *start)
{
	return ((uint64_t)(proc_elapsed_ns(start) / 1000));
}

/* A timeval of ms milliseconds. */
static struct timeval
proc_tv(unsigned int ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return (tv);
}

/* Write s to stderr from the child; errors are ignored (nothing to do). */
static void
proc_child_write(const char *s)
{
	ssize_t	n;
	size_t	len = strlen(s);

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

/* Close every descriptor from lowfd up. */
static void
proc_child_close_from(int lowfd)
{
	long	max, fd;

	if (close_range((unsigned int)lowfd, ~0U, 0) == 0)
		return;
	if ((max = sysconf(_SC_OPEN_MAX)) == -1)
		max = 1024;
	for (fd = lowfd; fd < max; fd++)
		close((int)fd);
}

/*
 * The child after fork: killed with the parent if asked (a backend step
 * must never outlive the daemon that would catalog it), default signals,
 * own process group, the umask asked for, stdin from /dev/null, stdout
 * and stderr to the pipes, nothing else open, the cwd asked for, exec.
 * Only system calls here (the parent's heap is not ours to touch).
 */
static __attribute__((noreturn)) void
proc_child(const struct proc_spec *spec, int null, int out, int err,
    pid_t parent)
{
	struct sigaction	sa;
	sigset_t		set;
	char *const		*argv = spec->argv;
	int			sig, saved;

	if ((spec->flags & PROC_DIE_WITH_PARENT) &&
	    (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent))
		_exit(127);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	setpgid(0, 0);
	if (spec->flags & PROC_SET_UMASK)
		umask(spec->umask);

	/* Above 2 first, so that the dup2s cannot overwrite one another. */
	if ((null = fcntl(null, F_DUPFD_CLOEXEC, 3)) == -1 ||
	    (out = fcntl(out, F_DUPFD_CLOEXEC, 3)) == -1 ||
	    (err = fcntl(err, F_DUPFD_CLOEXEC, 3)) == -1)
		_exit(127);
	if (dup2(null, STDIN_FILENO) == -1 ||
	    dup2(out, STDOUT_FILENO) == -1 ||
	    dup2(err, STDERR_FILENO) == -1)
		_exit(127);
	proc_child_close_from(3);
	if (spec->cwd != NULL && chdir(spec->cwd) == -1) {
		proc_child_write("cannot change directory to ");
		proc_child_write(spec->cwd);
		proc_child_write("\n");
		_exit(127);
	}

	/* A path is named as it is, a name looked up in PATH quoted. */
	if (spec->flags & PROC_EXEC_PATH) {
		execve(argv[0], argv, spec->envp != NULL ? spec->envp :
		    environ);
		saved = errno;
		proc_child_write("cannot run ");
		proc_child_write(argv[0]);
	} else {
		if (spec->envp != NULL)
			execvpe(argv[0], argv, spec->envp);
		else
			execvp(argv[0], argv);
		saved = errno;
		proc_child_write("cannot run '");
		proc_child_write(argv[0]);
		proc_child_write("'");
	}
	proc_child_write(": ");
	proc_child_write(strerror(saved));
	proc_child_write("\n");
	_exit(127);
}

/* Remember the default base; see proc.h. */
void
proc_init(struct event_base *base)
{
	if (proc_base != NULL)
		fatalx("%s: already initialised", __func__);
	proc_base = base;
}

/* Set up one stream on the read end of its pipe. */
static void
proc_stream_open(struct proc *p, struct proc_stream *s, int fd)
{
	int	flags;

	s->fd = fd;
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		fatal("%s: fcntl", __func__);
	s->ev = event_new(p->base, fd, EV_READ | EV_PERSIST, proc_read_cb,
	    p);
	if (s->ev == NULL)
		fatalx("%s: event_new failed", __func__);
	event_add(s->ev, NULL);
}

/* Stop watching a stream and close its pipe (idempotent). */
static void
proc_stream_close(struct proc_stream *s)
{
	if (s->ev != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if (s->fd != -1) {
		close(s->fd);
		s->fd = -1;
	}
}

/* Append data to a stream's tail, dropping what is older than max bytes. */
static void
proc_stream_append(struct proc_stream *s, size_t max, const char *data,
    size_t n)
{
	size_t	keep, limit;

	if (max == 0)
		return;
	if (n >= max) {
		data += n - max;
		n = max;
		s->len = 0;
	}
	if (s->len + n > s->size) {
		limit = max > ((size_t)-1) / 2 ? max : max * 2;
		if (s->size < limit) {
			s->size = s->size * 2 > s->len + n ? s->size * 2 :
			    s->len + n;
			if (s->size > limit)
				s->size = limit;
			s->buf = xreallocarray(s->buf, s->size, 1);
		}
	}
	if (s->len + n > s->size) {
		keep = max - n;
		memmove(s->buf, s->buf + s->len - keep, keep);
		s->len = keep;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
}

/*
 * Bytes of a stream kept: max_output, and with PROC_TAIL_UTF8 the three
 * before them, so that a character the cut lands in can be seen whole.
 */
static size_t
proc_stream_keep(const struct proc *p)
{
	if (p->max_output == 0 || (p->flags & PROC_TAIL_UTF8) == 0 ||
	    p->max_output > ((size_t)-1) / 2)
		return (p->max_output);
	return (p->max_output + 3);
}

/*
 * Read once from a stream.  Returns the bytes read, 0 if none were ready,
 * or -1 once the stream reached EOF or failed (and was closed).
 */
static ssize_t
proc_stream_read(struct proc *p, struct proc_stream *s)
{
	char	buf[PROC_READ_CHUNK];
	ssize_t	n;

	n = read(s->fd, buf, sizeof buf);
	if (n > 0) {
		proc_stream_append(s, proc_stream_keep(p), buf, (size_t)n);
		return (n);
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return (0);
	if (n == -1)
		log_warn("%s: %s: pid %ld", __func__, p->name, (long)p->pid);
	proc_stream_close(s);
	return (-1);
}

/*
 * Read what is already in a pipe, then close it even if some process
 * (one that left the group, or a background one) still holds the write
 * end.
 */
static void
proc_stream_drain(struct proc *p, struct proc_stream *s)
{
	int	i;

	for (i = 0; i < PROC_DRAIN_READS && s->fd != -1; i++)
		if (proc_stream_read(p, s) <= 0)
			break;
	proc_stream_close(s);
}

/*
 * The last max bytes of a stream (begun on a character boundary with
 * PROC_TAIL_UTF8) as a new NUL-terminated string.
 */
static char *
proc_stream_take(const struct proc *p, const struct proc_stream *s,
    size_t *len)
{
	char	*str;
	size_t	 n;

	if (p->flags & PROC_TAIL_UTF8)
		n = s->len - text_utf8_suffix(s->buf, s->len, p->max_output);
	else
		n = s->len < p->max_output ? s->len : p->max_output;
	str = xmalloc(n + 1);
	if (n != 0)
		memcpy(str, s->buf + s->len - n, n);
	str[n] = '\0';
	*len = n;
	return (str);
}

/* Free a proc and everything it holds; the caller unlinked it. */
static void
proc_free(struct proc *p)
{
	proc_stream_close(&p->out);
	proc_stream_close(&p->err);
	free(p->out.buf);
	free(p->err.buf);
	if (p->ev_wait != NULL)
		event_free(p->ev_wait);
	if (p->ev_timeout != NULL)
		event_free(p->ev_timeout);
	if (p->ev_done != NULL)
		event_free(p->ev_done);
	if (p->pidfd != -1)
		close(p->pidfd);
	free(p->name);
	free(p);
}

/* SIGKILL the child's process group (and the child, should it have none). */
static void
proc_kill(struct proc *p)
{
	if (kill(-p->pid, SIGKILL) == 0 || errno != ESRCH || p->reaped)
		return;
#ifdef SYS_pidfd_send_signal
	if (p->pidfd != -1 &&
	    syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0) == 0)
		return;
#endif
	kill(p->pid, SIGKILL);
}

/*
 * Reap the child if it has exited (blocking: wait until it has).  Returns
 * 1 with the status recorded, or 0 if it is still running.
 */
static int
proc_reap(struct proc *p, int block)
{
	siginfo_t	si;
	pid_t		pid;
	int		status, options = block ? 0 : WNOHANG;

	while (p->pidfd != -1) {
		memset(&si, 0, sizeof si);
		if (waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si,
		    WEXITED | options) == 0) {
			if (si.si_pid == 0)
				return (0);
			if (si.si_code == CLD_EXITED) {
				p->exited = 1;
				p->status = si.si_status;
			} else
				p->signo = si.si_status;
			goto reaped;
		}
		if (errno == EINTR)
			continue;
		if (errno == ECHILD) {
			p->lost = 1;
			goto reaped;
		}
		/* Linux 5.3 has pidfd_open() but not P_PIDFD: use the pid. */
		break;
	}
	for (;;) {
		pid = waitpid(p->pid, &status, options);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid == 0)
			return (0);
		if (pid == -1) {
			p->lost = 1;
			goto reaped;
		}
		break;
	}
	if (WIFEXITED(status)) {
		p->exited = 1;
		p->status = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status))
		p->signo = WTERMSIG(status);
reaped:
	p->reaped = 1;
	if (p->ev_wait != NULL) {
		event_free(p->ev_wait);
		p->ev_wait = NULL;
	}
	if (p->pidfd != -1) {
		close(p->pidfd);
		p->pidfd = -1;
	}
	return (1);
}

/* Schedule the callback once the child is reaped and both pipes closed. */
static void
proc_check_done(struct proc *p)
{
	if (p->state != PROC_RUNNING || !p->reaped || p->out.fd != -1 ||
	    p->err.fd != -1)
		return;
	p->state = PROC_FINISHING;
	p->elapsed_ms = proc_elapsed_ms(&p->start);
	event_del(p->ev_timeout);
	event_active(p->ev_done, 0, 0);
}

/* Output is ready on one of the pipes. */
static void
proc_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct proc	*p = arg;

	(void)events;
	if (fd == p->out.fd)
		proc_stream_read(p, &p->out);
	else
		proc_stream_read(p, &p->err);
	proc_check_done(p);
}

/*
 * The time is up: kill the whole group, and stop waiting for output once
 * the child is reaped; with a grace, give it that long to die.
 */
static void
proc_kill_expired(struct proc *p)
{
	struct timeval	tv;

	p->timed_out = 1;
	proc_kill(p);
	if (p->reaped) {
		proc_stream_drain(p, &p->out);
		proc_stream_drain(p, &p->err);
		proc_check_done(p);
	} else if (p->grace_ms != 0) {
		tv = proc_tv(p->grace_ms);
		evtimer_add(p->ev_timeout, &tv);
	}
}

/* The timeout ran out, or after it the grace. */
static void
proc_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct proc	*p = arg;

	(void)fd;
	(void)events;
	if (p->state != PROC_RUNNING)
		return;
	if (!p->timed_out) {
		log_warnx("%s: %s: pid %ld timed out after %u ms; killing its "
		    "process group", __func__, p->name, (long)p->pid,
		    proc_elapsed_ms(&p->start));
		proc_kill_expired(p);
		return;
	}
	if (p->reaped)
		return;
	log_warnx("%s: %s: pid %ld still running %u ms after SIGKILL; "
	    "leaving it", __func__, p->name, (long)p->pid, p->grace_ms);
	p->still_running = 1;
	proc_stream_close(&p->out);
	proc_stream_close(&p->err);
	p->state = PROC_FINISHING;
	p->elapsed_ms = proc_elapsed_ms(&p->start);
	event_active(p->ev_done, 0, 0);
}

/* Act as if the timeout ran out; see proc.h. */
void
proc_expire(struct proc *p)
{
	if (p == NULL || p->state != PROC_RUNNING || p->timed_out)
		return;
	event_del(p->ev_timeout);
	proc_kill_expired(p);
}

/* Run the callback with the result, then free the proc or leave it. */
static void
proc_done_event(evutil_socket_t fd, short events, void *arg)
{
	struct proc		*p = arg;
	struct proc_result	 r;

	(void)fd;
	(void)events;
	memset(&r, 0, sizeof r);
	if (!p->still_running) {
		r.exited = p->exited;
		r.status = p->status;
		r.signo = p->signo;
		r.lost = p->lost;
	} else {
		r.signo = SIGKILL;
		r.still_running = 1;
	}
	r.timed_out = p->timed_out;
	r.out = proc_stream_take(p, &p->out, &r.out_len);
	r.err = proc_stream_take(p, &p->err, &r.err_len);
	r.elapsed_ms = p->elapsed_ms;
	log_debug("%s: %s: pid %ld done after %u ms (%s %d%s%s%s)",
	    __func__, p->name, (long)p->pid, r.elapsed_ms,
	    r.exited ? "exit" : "signal", r.exited ? r.status : r.signo,
	    r.timed_out ? ", timed out" : "", r.lost ? ", status lost" : "",
	    r.still_running ? ", still running" : "");

	/* Unlinked first: the callback may spawn, cancel or shut down. */
	TAILQ_REMOVE(&proc_live, p, entry);
	p->state = PROC_CALLING;
	p->cb(&r, p->arg);
	free(r.out);
	free(r.err);
	if (p->reaped) {
		proc_free(p);
		return;
	}
	/* Left behind: reaped from the loop whenever it dies. */
	p->state = PROC_LEFT;
	p->cb = NULL;
	p->arg = NULL;
	TAILQ_INSERT_TAIL(&proc_live, p, entry);
}

/* The child may have exited (pidfd readable, or the poll timer fired). */
static void
proc_wait_cb(evutil_socket_t fd, short events, void *arg)
{
	struct proc	*p = arg;

	(void)fd;
	(void)events;
	if (p->reaped || proc_reap(p, 0) == 0)
		return;
	if (p->state == PROC_LEFT) {
		log_debug("%s: %s: left-behind pid %ld reaped", __func__,
		    p->name, (long)p->pid);
		TAILQ_REMOVE(&proc_live, p, entry);
		proc_free(p);
		return;
	}
	if (p->state != PROC_RUNNING)
		return;
	if (p->timed_out || (p->flags & PROC_EXIT_ONLY)) {
		proc_stream_drain(p, &p->out);
		proc_stream_drain(p, &p->err);
	}
	proc_check_done(p);
}

/* Watch a new child: a pidfd if the kernel has them, else a poll. */
static void
proc_watch(struct proc *p)
{
	struct timeval	tv;

	p->pidfd = -1;
#ifdef SYS_pidfd_open
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
#endif
	if (p->pidfd != -1) {
		p->ev_wait = event_new(p->base, p->pidfd, EV_READ | EV_PERSIST,
		    proc_wait_cb, p);
		if (p->ev_wait == NULL)
			fatalx("%s: event_new failed", __func__);
		event_add(p->ev_wait, NULL);
		return;
	}
	log_debug("%s: no pidfd (%s); polling pid %ld", __func__,
	    strerror(errno), (long)p->pid);
	p->ev_wait = event_new(p->base, -1, EV_PERSIST, proc_wait_cb, p);
	if (p->ev_wait == NULL)
		fatalx("%s: event_new failed", __func__);
	tv = proc_tv(PROC_POLL_MS);
	event_add(p->ev_wait, &tv);
}

/* Start a child; see proc.h. */
struct proc *
proc_start(const struct proc_spec *spec, proc_done_cb cb, void *arg,
    char **cause)
{
	struct event_base	*base = spec->base;
	struct proc		*p;
	struct timeval		 tv;
	sigset_t		 all, old;
	int			 outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int			 null = -1, merge, saved;
	pid_t			 pid, parent;

	if (base == NULL && (base = proc_base) == NULL)
		fatalx("%s: proc_init() was not called", __func__);
	if (spec->argv == NULL || spec->argv[0] == NULL ||
	    *spec->argv[0] == '\0') {
		xasprintf(cause, "no program to run");
		return (NULL);
	}
	merge = (spec->flags & PROC_MERGE_OUTPUT) != 0;
	if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		xasprintf(cause, "/dev/null: %s", strerror(errno));
		goto fail;
	}
	if (pipe2(outp, O_CLOEXEC) == -1 ||
	    (!merge && pipe2(errp, O_CLOEXEC) == -1)) {
		xasprintf(cause, "pipe: %s", strerror(errno));
		goto fail;
	}

	/* No handler may run in the child before it resets them all. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	parent = getpid();
	pid = fork();
	if (pid == 0)
		proc_child(spec, null, outp[1], merge ? outp[1] : errp[1],
		    parent);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		xasprintf(cause, "cannot run '%s': fork: %s", spec->argv[0],
		    strerror(saved));
		goto fail;
	}
	/* Also here, so that a kill right after this return finds the group. */
	setpgid(pid, pid);
	close(null);
	close(outp[1]);
	if (!merge)
		close(errp[1]);

	p = xcalloc(1, sizeof *p);
	p->base = base;
	p->pid = pid;
	p->name = xstrdup(spec->argv[0]);
	p->flags = spec->flags;
	p->state = PROC_RUNNING;
	p->grace_ms = spec->grace_ms;
	p->max_output = spec->max_output;
	p->cb = cb;
	p->arg = arg;
	p->out.fd = p->err.fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	proc_stream_open(p, &p->out, outp[0]);
	if (!merge)
		proc_stream_open(p, &p->err, errp[0]);
	proc_watch(p);
	p->ev_done = event_new(base, -1, 0, proc_done_event, p);
	p->ev_timeout = evtimer_new(base, proc_timeout_cb, p);
	if (p->ev_done == NULL || p->ev_timeout == NULL)
		fatalx("%s: event_new failed", __func__);
	if (spec->timeout_ms != 0) {
		tv = proc_tv(spec->timeout_ms);
		/* From now, not from when this loop iteration began. */
		event_base_update_cache_time(base);
		evtimer_add(p->ev_timeout, &tv);
	}
	TAILQ_INSERT_TAIL(&proc_live, p, entry);
	log_debug("%s: %s: pid %ld", __func__, p->name, (long)pid);
	return (p);

fail:
	if (null != -1)
		close(null);
	if (outp[0] != -1) {
		close(outp[0]);
		close(outp[1]);
	}
	if (errp[0] != -1) {
		close(errp[0]);
		close(errp[1]);
	}
	return (NULL);
}

/* Start a backend's child; see proc.h. */
struct proc *
proc_spawn(char *const argv[], unsigned int timeout_ms, size_t max_output,
    proc_done_cb cb, void *arg, char **cause)
{
	struct proc_spec	spec = {
		.argv = argv,
		.timeout_ms = timeout_ms,
		.max_output = max_output,
		.flags = PROC_DIE_WITH_PARENT,
	};

	return (proc_start(&spec, cb, arg, cause));
}

/* The child's pid; see proc.h. */
pid_t
proc_pid(const struct proc *p)
{
	return (p->pid);
}

/* Kill a child and forget its owner; see proc.h. */
void
proc_cancel(struct proc *p)
{
	if (p == NULL || p->state == PROC_CALLING || p->state == PROC_LEFT)
		return;
	/* Once finishing, the group is gone or not ours to signal. */
	if (p->state == PROC_RUNNING || !p->reaped)
		proc_kill(p);
	log_debug("%s: %s: pid %ld", __func__, p->name, (long)p->pid);
	if (p->reaped) {
		TAILQ_REMOVE(&proc_live, p, entry);
		proc_free(p);
		return;
	}
	/* The zombie is reaped by proc_wait_cb(), which then frees this. */
	p->state = PROC_LEFT;
	proc_stream_close(&p->out);
	proc_stream_close(&p->err);
	event_free(p->ev_timeout);
	p->ev_timeout = NULL;
	event_free(p->ev_done);
	p->ev_done = NULL;
	p->cb = NULL;
	p->arg = NULL;
}

/* Kill every remaining child, wait for each, free all; see proc.h. */
void
proc_shutdown(void)
{
	struct proc	*p;

	while ((p = TAILQ_FIRST(&proc_live)) != NULL) {
		TAILQ_REMOVE(&proc_live, p, entry);
		if (p->state == PROC_RUNNING || !p->reaped)
			proc_kill(p);
		/* SIGKILL cannot be caught: this wait is short... */
		if (!p->reaped && !p->still_running)
			proc_reap(p, 1);
		/* ...unless it already proved it is not. */
		proc_free(p);
	}
	proc_base = NULL;
}

/* True for the blanks trimmed around each quoted line. */
static int
proc_describe_blank(char c)
{
	return (c == ' ' || c == '\t' || c == '\r');
}

/*
 * Copy the last non-blank lines of out (at most PROC_DESCRIBE_LINES lines
 * and PROC_DESCRIBE_BYTES bytes of them) into buf as one line: lines
 * trimmed and joined with "; ", control characters as '?', "..." where a
 * line was cut.  Returns the length written (0: nothing worth quoting).
 */
static size_t
proc_describe_tail(const char *out, size_t len, char *buf, size_t size)
{
	const char	*line[PROC_DESCRIBE_LINES];
	size_t		 llen[PROC_DESCRIBE_LINES], b, s, e, end = len;
	size_t		 total = 0, n = 0, i;
	int		 nl = 0, cut = 0;

	while (nl < PROC_DESCRIBE_LINES && total < PROC_DESCRIBE_BYTES) {
		for (b = end; b > 0 && out[b - 1] != '\n'; b--)
			;
		for (s = b, e = end; s < e && proc_describe_blank(out[s]); s++)
			;
		while (e > s && proc_describe_blank(out[e - 1]))
			e--;
		if (e > s) {
			if (e - s > PROC_DESCRIBE_BYTES - total) {
				s = e - (PROC_DESCRIBE_BYTES - total);
				/* Never begin inside a UTF-8 sequence. */
				while (s < e &&
				    ((unsigned char)out[s] & 0xc0) == 0x80)
					s++;
				cut = 1;
			}
			line[nl] = out + s;
			llen[nl] = e - s;
			total += e - s;
			nl++;
		}
		if (b == 0 || cut)
			break;
		end = b - 1;
	}
	if (cut && n + 3 < size) {
		memcpy(buf, "...", 3);
		n = 3;
	}
	while (nl-- > 0) {
		for (i = 0; i < llen[nl] && n + 3 < size; i++) {
			if ((unsigned char)line[nl][i] < 0x20 ||
			    line[nl][i] == 0x7f)
				buf[n++] = '?';
			else
				buf[n++] = line[nl][i];
		}
		if (nl > 0 && n + 3 < size) {
			buf[n++] = ';';
			buf[n++] = ' ';
		}
	}
	buf[n] = '\0';
	return (n);
}

/* Summarise a result for an error message; see proc.h. */
char *
proc_describe(const struct proc_result *r)
{
	char	 head[64], tail[PROC_DESCRIBE_BYTES + 64], *s;
	size_t	 n = 0;

	/* What a hung child printed rarely says why it hung. */
	if (r->timed_out) {
		xasprintf(&s, "timed out after %u ms", r->elapsed_ms);
		return (s);
	}
	if (r->exited)
		snprintf(head, sizeof head, "exit %d", r->status);
	else if (r->signo != 0)
		snprintf(head, sizeof head, "killed by signal %d", r->signo);
	else
		snprintf(head, sizeof head, "failed");
	if (r->err != NULL)
		n = proc_describe_tail(r->err, r->err_len, tail, sizeof tail);
	if (n == 0 && r->out != NULL)
		n = proc_describe_tail(r->out, r->out_len, tail, sizeof tail);
	if (n == 0)
		return (xstrdup(head));
	xasprintf(&s, "%s: %s", head, tail);
	return (s);
}
