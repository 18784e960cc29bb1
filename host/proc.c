/*
 * Asynchronous child processes: fork and exec, collect the tail of stdout
 * and stderr through non-blocking pipes, reap on SIGCHLD, kill the process
 * group on timeout.  Everything runs from the event loop; nothing here
 * waits for a child except proc_shutdown(), after SIGKILL.
 */
#include <sys/prctl.h>
#include <sys/queue.h>
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
#include "xmalloc.h"

#define PROC_READ_CHUNK		16384
/* Reads after a kill before a pipe some escaped process holds is closed. */
#define PROC_DRAIN_READS	64
/* proc_describe() quotes at most this much of the output, in lines. */
#define PROC_DESCRIBE_BYTES	256
#define PROC_DESCRIBE_LINES	3

enum proc_state {
	PROC_RUNNING,		/* child alive or a pipe still open */
	PROC_FINISHING,		/* callback scheduled (ev_done active) */
	PROC_CALLING,		/* callback running; freed when it returns */
	PROC_CANCELLED,		/* owner gone; kept only to reap the child */
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
	pid_t			 pid;
	char			*name;
	enum proc_state		 state;
	int			 reaped;
	int			 wstatus;
	int			 timed_out;
	size_t			 max_output;
	struct timespec		 start;
	unsigned int		 elapsed_ms;
	struct proc_stream	 out;
	struct proc_stream	 err;
	struct event		*ev_timeout;
	struct event		*ev_done;
	proc_done_cb		 cb;
	void			*arg;
	TAILQ_ENTRY(proc)	 entry;
};

TAILQ_HEAD(proc_list, proc);

static struct event_base	*proc_base;
static struct event		*proc_ev_chld;
static struct proc_list		 proc_live = TAILQ_HEAD_INITIALIZER(proc_live);

static void	proc_read_cb(evutil_socket_t, short, void *);
static void	proc_timeout_cb(evutil_socket_t, short, void *);
static void	proc_done_event(evutil_socket_t, short, void *);
static void	proc_chld_cb(evutil_socket_t, short, void *);

/* Milliseconds on the monotonic clock since start, rounded. */
static unsigned int
proc_elapsed(const struct timespec *start)
{
	struct timespec	now;
	long long	ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = ((long long)(now.tv_sec - start->tv_sec) * 1000000000 +
	    (now.tv_nsec - start->tv_nsec) + 500000) / 1000000;
	return (ms < 0 ? 0 : (unsigned int)ms);
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
 * The child after fork: own process group, default signals, killed when
 * the daemon dies (a backend step must never outlive the daemon that
 * would catalog it), stdin from /dev/null, stdout and stderr to the
 * pipes, nothing else open, exec.  Only system calls here (the parent's
 * heap is not ours to touch).
 */
static __attribute__((noreturn)) void
proc_child(char *const argv[], int null, int out, int err, pid_t parent)
{
	struct sigaction	sa;
	sigset_t		set;
	int			sig, saved;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(127);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	setpgid(0, 0);

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

	execvp(argv[0], argv);
	saved = errno;
	proc_child_write("cannot run '");
	proc_child_write(argv[0]);
	proc_child_write("': ");
	proc_child_write(strerror(saved));
	proc_child_write("\n");
	_exit(127);
}

/* Install the SIGCHLD event; see proc.h. */
void
proc_init(struct event_base *base)
{
	if (proc_base != NULL)
		fatalx("%s: already initialised", __func__);
	proc_base = base;
	proc_ev_chld = evsignal_new(base, SIGCHLD, proc_chld_cb, NULL);
	if (proc_ev_chld == NULL || evsignal_add(proc_ev_chld, NULL) == -1)
		fatalx("%s: cannot watch SIGCHLD", __func__);
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
	s->ev = event_new(proc_base, fd, EV_READ | EV_PERSIST, proc_read_cb,
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
		proc_stream_append(s, p->max_output, buf, (size_t)n);
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
 * After a kill: read what is already in a pipe, then close it even if some
 * process that left the group still holds the write end.
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

/* The last max bytes of a stream as a new NUL-terminated string. */
static char *
proc_stream_take(const struct proc_stream *s, size_t max, size_t *len)
{
	char	*str;
	size_t	 n = s->len < max ? s->len : max;

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
	if (p->ev_timeout != NULL)
		event_free(p->ev_timeout);
	if (p->ev_done != NULL)
		event_free(p->ev_done);
	free(p->name);
	free(p);
}

/* SIGKILL the child's process group (and the child, should it have none). */
static void
proc_kill(struct proc *p)
{
	if (kill(-p->pid, SIGKILL) == -1 && errno == ESRCH && !p->reaped)
		kill(p->pid, SIGKILL);
}

/* Schedule the callback once the child is reaped and both pipes closed. */
static void
proc_check_done(struct proc *p)
{
	if (p->state != PROC_RUNNING || !p->reaped || p->out.fd != -1 ||
	    p->err.fd != -1)
		return;
	p->state = PROC_FINISHING;
	p->elapsed_ms = proc_elapsed(&p->start);
	if (p->ev_timeout != NULL)
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

/* The time is up: kill the whole group and stop waiting for output. */
static void
proc_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct proc	*p = arg;

	(void)fd;
	(void)events;
	if (p->state != PROC_RUNNING)
		return;
	log_warnx("%s: %s: pid %ld timed out after %u ms; killing its "
	    "process group", __func__, p->name, (long)p->pid,
	    proc_elapsed(&p->start));
	p->timed_out = 1;
	proc_kill(p);
	if (p->reaped) {
		proc_stream_drain(p, &p->out);
		proc_stream_drain(p, &p->err);
		proc_check_done(p);
	}
}

/* Run the callback with the result, then free the proc. */
static void
proc_done_event(evutil_socket_t fd, short events, void *arg)
{
	struct proc		*p = arg;
	struct proc_result	 r;

	(void)fd;
	(void)events;
	memset(&r, 0, sizeof r);
	if (WIFEXITED(p->wstatus)) {
		r.exited = 1;
		r.status = WEXITSTATUS(p->wstatus);
	} else if (WIFSIGNALED(p->wstatus))
		r.signo = WTERMSIG(p->wstatus);
	r.timed_out = p->timed_out;
	r.out = proc_stream_take(&p->out, p->max_output, &r.out_len);
	r.err = proc_stream_take(&p->err, p->max_output, &r.err_len);
	r.elapsed_ms = p->elapsed_ms;
	log_debug("%s: %s: pid %ld done after %u ms (status 0x%x%s)",
	    __func__, p->name, (long)p->pid, r.elapsed_ms, p->wstatus,
	    r.timed_out ? ", timed out" : "");

	/* Unlinked first: the callback may spawn, cancel or shut down. */
	TAILQ_REMOVE(&proc_live, p, entry);
	p->state = PROC_CALLING;
	p->cb(&r, p->arg);
	free(r.out);
	free(r.err);
	proc_free(p);
}

/* Record a reaped child and finish it, or forget it if cancelled. */
static void
proc_reaped(struct proc *p, int wstatus)
{
	p->reaped = 1;
	p->wstatus = wstatus;
	if (p->state == PROC_CANCELLED) {
		TAILQ_REMOVE(&proc_live, p, entry);
		proc_free(p);
		return;
	}
	if (p->timed_out) {
		proc_stream_drain(p, &p->out);
		proc_stream_drain(p, &p->err);
	}
	proc_check_done(p);
}

/* SIGCHLD: reap every child that exited and match it to its proc. */
static void
proc_chld_cb(evutil_socket_t sig, short events, void *arg)
{
	struct proc	*p;
	pid_t		 pid;
	int		 wstatus;

	(void)sig;
	(void)events;
	(void)arg;
	for (;;) {
		pid = waitpid(-1, &wstatus, WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		TAILQ_FOREACH(p, &proc_live, entry)
			if (p->pid == pid && !p->reaped)
				break;
		if (p == NULL)
			log_debug("%s: reaped unknown child %ld", __func__,
			    (long)pid);
		else
			proc_reaped(p, wstatus);
	}
}

/* Start a child; see proc.h. */
struct proc *
proc_spawn(char *const argv[], unsigned int timeout_ms, size_t max_output,
    proc_done_cb cb, void *arg, char **cause)
{
	struct proc	*p;
	struct timeval	 tv;
	sigset_t	 all, old;
	int		 outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int		 null = -1, saved;
	pid_t		 pid, parent;

	if (proc_base == NULL)
		fatalx("%s: proc_init() was not called", __func__);
	if (argv == NULL || argv[0] == NULL || *argv[0] == '\0') {
		xasprintf(cause, "no program to run");
		return (NULL);
	}
	if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		xasprintf(cause, "/dev/null: %s", strerror(errno));
		goto fail;
	}
	if (pipe2(outp, O_CLOEXEC) == -1 || pipe2(errp, O_CLOEXEC) == -1) {
		xasprintf(cause, "pipe: %s", strerror(errno));
		goto fail;
	}

	/* No handler may run in the child before it resets them all. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	parent = getpid();
	pid = fork();
	if (pid == 0)
		proc_child(argv, null, outp[1], errp[1], parent);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		xasprintf(cause, "cannot run '%s': fork: %s", argv[0],
		    strerror(saved));
		goto fail;
	}
	/* Also here, so that a kill right after this return finds the group. */
	setpgid(pid, pid);
	close(null);
	close(outp[1]);
	close(errp[1]);

	p = xcalloc(1, sizeof *p);
	p->pid = pid;
	p->name = xstrdup(argv[0]);
	p->state = PROC_RUNNING;
	p->max_output = max_output;
	p->cb = cb;
	p->arg = arg;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	proc_stream_open(p, &p->out, outp[0]);
	proc_stream_open(p, &p->err, errp[0]);
	p->ev_done = event_new(proc_base, -1, 0, proc_done_event, p);
	if (p->ev_done == NULL)
		fatalx("%s: event_new failed", __func__);
	if (timeout_ms != 0) {
		p->ev_timeout = evtimer_new(proc_base, proc_timeout_cb, p);
		if (p->ev_timeout == NULL)
			fatalx("%s: evtimer_new failed", __func__);
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		/* From now, not from when this loop iteration began. */
		event_base_update_cache_time(proc_base);
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

/* Kill a child and forget its owner; see proc.h. */
void
proc_cancel(struct proc *p)
{
	if (p == NULL || p->state == PROC_CALLING ||
	    p->state == PROC_CANCELLED)
		return;
	/* Once finishing, the group is gone or not ours to signal. */
	if (p->state == PROC_RUNNING)
		proc_kill(p);
	log_debug("%s: %s: pid %ld", __func__, p->name, (long)p->pid);
	if (p->reaped) {
		TAILQ_REMOVE(&proc_live, p, entry);
		proc_free(p);
		return;
	}
	/* The zombie is reaped by proc_chld_cb(), which then frees this. */
	p->state = PROC_CANCELLED;
	proc_stream_close(&p->out);
	proc_stream_close(&p->err);
	if (p->ev_timeout != NULL) {
		event_free(p->ev_timeout);
		p->ev_timeout = NULL;
	}
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
		if (!p->reaped) {
			/* SIGKILL cannot be caught: this wait is short. */
			while (waitpid(p->pid, NULL, 0) == -1 && errno == EINTR)
				;
		}
		proc_free(p);
	}
	if (proc_ev_chld != NULL) {
		event_free(proc_ev_chld);
		proc_ev_chld = NULL;
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
