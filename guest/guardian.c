/*
 * The freeze guardian (see guardian.h): a double-forked process that
 * thaws a plan's filesystems when its owner dies, stalls past the lease,
 * or hands over.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <linux/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guardian.h"
#include "xmalloc.h"

/* Messages from the owner: one byte of op, four of milliseconds. */
#define GUARDIAN_RENEW		'R'
#define GUARDIAN_RELEASE	'X'
#define GUARDIAN_MSG_LEN	5
/* Thaw retries: first after 10 ms, doubling up to once a second. */
#define GUARDIAN_RETRY_MIN_MS	10
#define GUARDIAN_RETRY_MAX_MS	1000

struct guardian {
	int	 wfd;		/* the owner's end of the socket pair */
	pid_t	 pid;
};

static volatile sig_atomic_t	guardian_term;

/* SIGTERM in the guardian: thaw and go. */
static void
guardian_sigterm(int sig)
{
	(void)sig;
	guardian_term = 1;
}

/* Milliseconds on the monotonic clock. */
static int64_t
guardian_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * Thaw every descriptor, last frozen first, until each one thawed or says
 * it is not frozen (EINVAL), retrying the others with a growing pause.
 */
static void
guardian_thaw_all(const int *fds, unsigned char *done, size_t n)
{
	struct timespec	 pause;
	size_t		 i, left = n;
	long		 ms = GUARDIAN_RETRY_MIN_MS;

	for (;;) {
		for (i = n; i > 0; i--) {
			if (done[i - 1])
				continue;
			if (ioctl(fds[i - 1], FITHAW, 0) == 0 ||
			    errno == EINVAL || errno == EBADF) {
				done[i - 1] = 1;
				left--;
			}
		}
		if (left == 0)
			break;
		pause.tv_sec = ms / 1000;
		pause.tv_nsec = (ms % 1000) * 1000000;
		nanosleep(&pause, NULL);
		if ((ms *= 2) > GUARDIAN_RETRY_MAX_MS)
			ms = GUARDIAN_RETRY_MAX_MS;
	}
}

/* Close descriptors lo..hi; one by one where close_range() is missing. */
static void
guardian_close_range(int lo, int hi)
{
	int	fd;

	if (close_range((unsigned int)lo, (unsigned int)hi, 0) == 0)
		return;
	for (fd = lo; fd <= hi; fd++)
		close(fd);
}

/* Compare ints, for qsort. */
static int
guardian_cmp_int(const void *a, const void *b)
{
	int	x = *(const int *)a, y = *(const int *)b;

	return (x < y ? -1 : x > y);
}

/*
 * In the guardian: stdio to /dev/null, every descriptor closed but the
 * socket and the mount points, so it holds nothing of the owner's.
 */
static void
guardian_close_others(int *rfd, int *fds, size_t n)
{
	int	*keep, null, prev = 2, fd;
	size_t	 i;
	long	 max;

	/* An owner started with stdio closed: move ours above 2 first. */
	for (i = 0; i <= n; i++) {
		fd = i < n ? fds[i] : *rfd;
		if (fd > STDERR_FILENO || (fd = fcntl(fd, F_DUPFD, 3)) == -1)
			continue;
		if (i < n)
			fds[i] = fd;
		else
			*rfd = fd;
	}
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if ((keep = malloc((n + 1) * sizeof *keep)) == NULL)
		return;
	memcpy(keep, fds, n * sizeof *keep);
	keep[n] = *rfd;
	qsort(keep, n + 1, sizeof *keep, guardian_cmp_int);
	for (i = 0; i <= n; i++) {
		if (keep[i] > prev + 1)
			guardian_close_range(prev + 1, keep[i] - 1);
		prev = keep[i];
	}
	if ((max = sysconf(_SC_OPEN_MAX)) == -1 || max > INT_MAX)
		max = 65536;
	guardian_close_range(prev + 1, (int)max);
	free(keep);
}

/*
 * The guardian itself: wait for a message, end-of-file or the deadline;
 * thaw on anything but a release.  Never returns.
 */
static __attribute__((noreturn)) void
guardian_main(int rfd, int *fds, unsigned char *done, size_t n)
{
	struct sigaction	sa;
	struct pollfd		pfd;
	unsigned char		msg[GUARDIAN_MSG_LEN];
	int64_t			deadline, now;
	uint32_t		ms;
	ssize_t			got;
	sigset_t		none;
	int			rc, sig;

	setsid();
	/* The owner's handlers (libevent's) are not ours: defaults first. */
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sa.sa_handler = guardian_sigterm;
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	guardian_close_others(&rfd, fds, n);
	/* Nothing of it may wait on a frozen disk to be paged in. */
	mlockall(MCL_CURRENT | MCL_FUTURE);

	/* No deadline until the first renewal (the freeze is in place). */
	deadline = -1;
	pfd.fd = rfd;
	pfd.events = POLLIN;
	for (;;) {
		if (guardian_term)
			break;
		now = guardian_now_ms();
		/* At the deadline, a message already sent still counts. */
		rc = poll(&pfd, 1, deadline == -1 ? -1 : deadline <= now ? 0 :
		    (int)(deadline - now));
		if (rc == 0 && deadline != -1 && guardian_now_ms() >= deadline)
			break;
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == 0)
			continue;
		if (rc == -1)
			break;
		got = read(rfd, msg, sizeof msg);
		if (got == -1 && errno == EINTR)
			continue;
		if (got != GUARDIAN_MSG_LEN)
			break;		/* end-of-file: the owner is gone */
		if (msg[0] == GUARDIAN_RELEASE)
			_exit(0);
		if (msg[0] != GUARDIAN_RENEW)
			break;
		memcpy(&ms, msg + 1, sizeof ms);
		deadline = guardian_now_ms() + freeze_lease_clamp(ms);
	}
	guardian_thaw_all(fds, done, n);
	_exit(0);
}

/* Start a guardian; see guardian.h. */
struct guardian *
guardian_start(const struct freeze_plan *plan, char **cause)
{
	const struct freeze_entry	*e;
	struct guardian			*g = NULL;
	int				*fds, p[2] = { -1, -1 };
	int				 r[2] = { -1, -1 }, status;
	unsigned char			*done;
	size_t				 i, n = 0;
	pid_t				 mid, gpid = -1;
	sigset_t			 all, old;

	fds = xcalloc(freeze_plan_count(plan) + 1, sizeof *fds);
	/* Allocated here: the guardian must not fail to thaw for memory. */
	done = xcalloc(freeze_plan_count(plan) + 1, 1);
	for (i = 0; i < freeze_plan_count(plan); i++) {
		e = freeze_plan_entry(plan, i);
		if (freeze_entry_action(e) != FREEZE_ACTION_FREEZE)
			continue;
		if ((fds[n] = freeze_entry_open(e, cause)) == -1)
			goto out;
		n++;
	}
	/* A socket pair, not a pipe: a write to a gone guardian is EPIPE,
	 * never SIGPIPE (MSG_NOSIGNAL). */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) == -1 ||
	    pipe2(r, O_CLOEXEC) == -1) {
		xasprintf(cause, "freeze guardian: socketpair: %s",
		    strerror(errno));
		goto out;
	}
	/* No handler of the owner's may run in the children. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((mid = fork()) == -1) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		xasprintf(cause, "freeze guardian: fork: %s", strerror(errno));
		goto out;
	}
	if (mid == 0) {
		/* The middle child: fork the guardian, tell its pid, go. */
		close(p[1]);
		close(r[0]);
		gpid = fork();
		if (gpid == 0) {
			close(r[1]);
			guardian_main(p[0], fds, done, n);
		}
		if (write(r[1], &gpid, sizeof gpid) != sizeof gpid)
			_exit(1);
		_exit(gpid == -1);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[0]);
	p[0] = -1;
	close(r[1]);
	r[1] = -1;
	while (waitpid(mid, &status, 0) == -1 && errno == EINTR)
		;
	if (read(r[0], &gpid, sizeof gpid) != sizeof gpid || gpid <= 0) {
		xasprintf(cause, "freeze guardian: it could not be started");
		goto out;
	}
	g = xcalloc(1, sizeof *g);
	g->wfd = p[1];
	g->pid = gpid;
	p[1] = -1;
out:
	for (i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	free(done);
	if (p[0] != -1)
		close(p[0]);
	if (p[1] != -1)
		close(p[1]);
	if (r[0] != -1)
		close(r[0]);
	if (r[1] != -1)
		close(r[1]);
	return (g);
}

/* Send one message; -1 if the guardian is gone. */
static int
guardian_send(struct guardian *g, unsigned char op, uint32_t ms)
{
	unsigned char	msg[GUARDIAN_MSG_LEN];
	ssize_t		n;

	msg[0] = op;
	memcpy(msg + 1, &ms, sizeof ms);
	do
		n = send(g->wfd, msg, sizeof msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	return (n == (ssize_t)sizeof msg ? 0 : -1);
}

/* Push the deadline; see guardian.h. */
int
guardian_renew(struct guardian *g, unsigned int lease_ms)
{
	return (guardian_send(g, GUARDIAN_RENEW, lease_ms));
}

/* End untouched; see guardian.h. */
void
guardian_release(struct guardian *g)
{
	if (g == NULL)
		return;
	guardian_send(g, GUARDIAN_RELEASE, 0);
	close(g->wfd);
	free(g);
}

/* Thaw now, with retries; see guardian.h. */
void
guardian_handover(struct guardian *g)
{
	if (g == NULL)
		return;
	/* Its end-of-file is the signal to thaw. */
	close(g->wfd);
	free(g);
}

/* The guardian's pid. */
long
guardian_pid(const struct guardian *g)
{
	return ((long)g->pid);
}
