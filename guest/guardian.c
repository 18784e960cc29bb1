/*
 * The freeze guardian (see guardian.h): this program run again (or, where
 * that cannot be, a double-forked copy) that is handed the descriptors of
 * a freeze over a socket pair and thaws them when its owner dies, stalls
 * past the lease, or hands over.
 *
 * The socket is SOCK_SEQPACKET: each message is one op byte and four bytes
 * of argument, a hold carrying its descriptors (SCM_RIGHTS, at most
 * GUARDIAN_FDS_PER_MSG a message).  The guardian reads them in order, so
 * a hold sent before a freeze, then an end-of-file, always reaches it as
 * "hold these, then thaw them".
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <linux/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guardian.h"
#include "memlock.h"
#include "xmalloc.h"

/* Messages from the owner: one byte of op, four of argument. */
#define GUARDIAN_HOLD		'H'	/* count; descriptors attached */
#define GUARDIAN_RENEW		'R'	/* milliseconds */
#define GUARDIAN_IDLE		'I'	/* drop all, untouched */
#define GUARDIAN_MSG_LEN	5
/* Descriptors in one hold message (the kernel's SCM_MAX_FD is 253). */
#define GUARDIAN_FDS_PER_MSG	250
/*
 * How long a message may wait for room in the guardian's queue (one just
 * started may still be loading); a live guardian reads at once.
 */
#define GUARDIAN_SEND_MS	5000
/*
 * Most descriptors one guardian holds: room kept in its bss, so that it
 * never allocates to hold one (touched only as far as used).  An owner
 * gets no more open at once anyway under the usual RLIMIT_NOFILE.
 */
#define GUARDIAN_MAX_HOLD	4096
/* The socket's descriptor in a guardian that runs the program again. */
#define GUARDIAN_FD		3
/* What runs again: this very program, even if its file was replaced. */
#define GUARDIAN_EXE		"/proc/self/exe"
/* Thaw retries: first after 10 ms, doubling up to once a second. */
#define GUARDIAN_RETRY_MIN_MS	10
#define GUARDIAN_RETRY_MAX_MS	1000
/* Children remembered for guardian_reap(). */
#define GUARDIAN_CHILDREN	16

struct guardian {
	int	 wfd;		/* the owner's end of the socket pair */
	pid_t	 pid;
};


static volatile sig_atomic_t	guardian_term;
/* The program's arguments, for running it again (see guardian_init()). */
static char			**guardian_argv;
/* Guardians started as this process's children, not yet reaped. */
static pid_t			 guardian_children[GUARDIAN_CHILDREN];
/* In a guardian: what it holds. */
static int			 guardian_held[GUARDIAN_MAX_HOLD];
static unsigned char		 guardian_done[GUARDIAN_MAX_HOLD];
static size_t			 guardian_nheld;

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

	for (i = 0; i < n; i++)
		done[i] = 0;
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

	if (lo > hi)
		return;
	if (close_range((unsigned int)lo, (unsigned int)hi, 0) == 0)
		return;
	for (fd = lo; fd <= hi; fd++)
		close(fd);
}

/*
 * In the guardian: stdio to /dev/null, every descriptor closed but the
 * socket, so that it holds nothing of the owner's.
 */
static void
guardian_close_others(int *sock)
{
	int	null, fd;
	long	max;

	/* An owner started with stdio closed: move the socket above 2. */
	if (*sock <= STDERR_FILENO &&
	    (fd = fcntl(*sock, F_DUPFD, STDERR_FILENO + 1)) != -1)
		*sock = fd;
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if ((max = sysconf(_SC_OPEN_MAX)) == -1 || max > INT_MAX)
		max = 65536;
	guardian_close_range(STDERR_FILENO + 1, *sock - 1);
	guardian_close_range(*sock + 1, (int)max);
}

/* Close what is held, untouched. */
static void
guardian_drop(void)
{
	size_t	i;

	for (i = 0; i < guardian_nheld; i++)
		close(guardian_held[i]);
	guardian_nheld = 0;
}

/*
 * Read one message into msg, keeping the descriptors of a hold.  Returns
 * GUARDIAN_MSG_LEN, 0 at end-of-file, or -1 (errno EINTR: try again;
 * anything else: give up, thaw).  Descriptors that cannot be kept (the
 * owner broke the protocol) are thawed at once, as they would be later.
 */
static ssize_t
guardian_recv(int sock, unsigned char *msg)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) *
				    GUARDIAN_FDS_PER_MSG)];
	}			 cbuf;
	struct cmsghdr		*cm;
	struct msghdr		 m;
	struct iovec		 iov;
	int			 fds[GUARDIAN_FDS_PER_MSG];
	unsigned char		 done[GUARDIAN_FDS_PER_MSG];
	uint32_t		 count = 0;
	size_t			 n = 0, k;
	ssize_t			 got;

	memset(&m, 0, sizeof m);
	iov.iov_base = msg;
	iov.iov_len = GUARDIAN_MSG_LEN;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cbuf.buf;
	m.msg_controllen = sizeof cbuf.buf;
	if ((got = recvmsg(sock, &m, MSG_CMSG_CLOEXEC)) <= 0)
		return (got);
	for (cm = CMSG_FIRSTHDR(&m); cm != NULL; cm = CMSG_NXTHDR(&m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (k > GUARDIAN_FDS_PER_MSG - n)
			k = GUARDIAN_FDS_PER_MSG - n;
		memcpy(fds + n, CMSG_DATA(cm), k * sizeof(int));
		n += k;
	}
	if (got == GUARDIAN_MSG_LEN)
		memcpy(&count, msg + 1, sizeof count);
	if (got != GUARDIAN_MSG_LEN || (m.msg_flags & MSG_CTRUNC) ||
	    (n != 0 && msg[0] != GUARDIAN_HOLD) ||
	    (msg[0] == GUARDIAN_HOLD && count != n) ||
	    n > GUARDIAN_MAX_HOLD - guardian_nheld) {
		guardian_thaw_all(fds, done, n);
		for (k = 0; k < n; k++)
			close(fds[k]);
		errno = EPROTO;
		return (-1);
	}
	memcpy(guardian_held + guardian_nheld, fds, n * sizeof *fds);
	guardian_nheld += n;
	return (got);
}

/*
 * The guardian itself: wait for a message, end-of-file or the deadline;
 * thaw what it holds on anything but a renewal, a hold or going idle.
 * Never returns.
 */
static __attribute__((noreturn)) void
guardian_main(int sock)
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
	guardian_close_others(&sock);
	/* Nothing of it may wait on a frozen disk to be paged in. */
	memlock_process(MEMLOCK_ONFAULT);
	/*
	 * SCHED_BATCH: a message wakes it without preempting the owner.  The
	 * lease's first renewal is sent while the guest is frozen, just
	 * before the owner answers the freeze; as a normal task the guardian
	 * would take the owner's CPU first (tens of microseconds of the
	 * frozen window).  It keeps its fair share of the CPU: an owner's
	 * death or a lease's end is acted on at once on an idle CPU, and
	 * otherwise within the running task's slice.
	 */
	(void)sched_setscheduler(0, SCHED_BATCH, &(struct sched_param){ 0 });

	/* No deadline until the first renewal (the freeze is in place). */
	deadline = -1;
	pfd.fd = sock;
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
		got = guardian_recv(sock, msg);
		if (got == -1 && errno == EINTR)
			continue;
		if (got != GUARDIAN_MSG_LEN)
			break;		/* end-of-file: the owner is gone */
		if (msg[0] == GUARDIAN_HOLD)
			continue;
		if (msg[0] == GUARDIAN_IDLE) {
			guardian_drop();
			deadline = -1;
			continue;
		}
		if (msg[0] != GUARDIAN_RENEW)
			break;
		memcpy(&ms, msg + 1, sizeof ms);
		deadline = guardian_now_ms() + freeze_lease_clamp(ms);
	}
	/* No renewal counts any more: the owner's next one fails at once. */
	close(sock);
	guardian_thaw_all(guardian_held, guardian_done, guardian_nheld);
	_exit(0);
}

/*
 * Before main(): remember the program's arguments (glibc hands them to
 * constructors), and if this process was started as a guardian, be one.
 * EVG_FREEZE_GUARDIAN must name GUARDIAN_FD, and that must be a Unix
 * SOCK_SEQPACKET socket; otherwise the variable is dropped and the program
 * runs as usual.
 */
static void __attribute__((constructor))
guardian_init(int argc, char **argv, char **envp)
{
	const char	*v = NULL;
	char		**copy, *p;
	struct stat	 st;
	socklen_t	 len;
	size_t		 size, vlen = strlen(GUARDIAN_ENV);
	int		 i, type, domain;

	if (argc > 0 && argv != NULL) {
		size = (size_t)(argc + 1) * sizeof *copy;
		for (i = 0; i < argc; i++)
			size += strlen(argv[i]) + 1;
		if ((copy = malloc(size)) != NULL) {
			p = (char *)(copy + argc + 1);
			for (i = 0; i < argc; i++) {
				copy[i] = p;
				memcpy(p, argv[i], strlen(argv[i]) + 1);
				p += strlen(argv[i]) + 1;
			}
			copy[argc] = NULL;
			guardian_argv = copy;
		}
	}
	for (i = 0; envp != NULL && envp[i] != NULL; i++) {
		if (strncmp(envp[i], GUARDIAN_ENV, vlen) == 0 &&
		    envp[i][vlen] == '=')
			v = envp[i] + vlen + 1;
	}
	if (v == NULL)
		return;
	len = sizeof type;
	if (strcmp(v, "3") == 0 && fstat(GUARDIAN_FD, &st) == 0 &&
	    S_ISSOCK(st.st_mode) && getsockopt(GUARDIAN_FD, SOL_SOCKET,
	    SO_TYPE, &type, &len) == 0 && type == SOCK_SEQPACKET &&
	    (len = sizeof domain, getsockopt(GUARDIAN_FD, SOL_SOCKET,
	    SO_DOMAIN, &domain, &len)) == 0 && domain == AF_UNIX)
		guardian_main(GUARDIAN_FD);
	unsetenv(GUARDIAN_ENV);
}

/* Remember a child guardian for guardian_reap(). */
static void
guardian_track(pid_t pid)
{
	size_t	i;

	for (i = 0; i < GUARDIAN_CHILDREN; i++) {
		if (guardian_children[i] == 0) {
			guardian_children[i] = pid;
			return;
		}
	}
	/* Too many alive (each retrying a thaw): its zombie waits for us. */
}

/* Reap exited guardians; see guardian.h. */
void
guardian_reap(void)
{
	size_t	i;
	pid_t	r;

	for (i = 0; i < GUARDIAN_CHILDREN; i++) {
		if (guardian_children[i] == 0)
			continue;
		r = waitpid(guardian_children[i], NULL, WNOHANG);
		if (r == guardian_children[i] || (r == -1 && errno == ECHILD))
			guardian_children[i] = 0;
	}
}

/*
 * Run this program again as a guardian on socket cs (above GUARDIAN_FD,
 * close-on-exec).  Returns 0 with *pid, or an errno value.
 */
static int
guardian_exec(int cs, pid_t *pid)
{
	static char			*fallback[] = {
		(char *)"eve-guest-agent", NULL
	};
	extern char			**environ;
	posix_spawn_file_actions_t	  fa;
	posix_spawnattr_t		  at;
	sigset_t			  all, none;
	char				**envp, var[sizeof GUARDIAN_ENV + 8];
	size_t				  i, n = 0, vlen = strlen(GUARDIAN_ENV);
	int				  rc;

	for (i = 0; environ != NULL && environ[i] != NULL; i++)
		;
	envp = xcalloc(i + 2, sizeof *envp);
	for (i = 0; environ != NULL && environ[i] != NULL; i++) {
		if (strncmp(environ[i], GUARDIAN_ENV, vlen) != 0 ||
		    environ[i][vlen] != '=')
			envp[n++] = environ[i];
	}
	memcpy(var, GUARDIAN_ENV "=3", sizeof GUARDIAN_ENV + 2);
	envp[n] = var;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	sigfillset(&all);
	sigemptyset(&none);
	if ((rc = posix_spawn_file_actions_adddup2(&fa, cs, GUARDIAN_FD)) ||
	    (rc = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO,
	    "/dev/null", O_RDWR, 0)) ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, STDIN_FILENO,
	    STDOUT_FILENO)) ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, STDIN_FILENO,
	    STDERR_FILENO)) ||
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa,
	    GUARDIAN_FD + 1)) ||
	    (rc = posix_spawnattr_setsigdefault(&at, &all)) ||
	    (rc = posix_spawnattr_setsigmask(&at, &none)) ||
	    (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)))
		goto out;
	rc = posix_spawn(pid, GUARDIAN_EXE, &fa, &at, guardian_argv != NULL ?
	    guardian_argv : fallback, envp);
out:
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(envp);
	return (rc);
}

/*
 * The guardian as a double fork of this process, on socket cs; the
 * middle child closes ws, the owner's end.  Returns 0 with *pid, or -1
 * with *cause.
 */
static int
guardian_fork(int cs, int ws, pid_t *pid, char **cause)
{
	int		 r[2], status;
	pid_t		 mid, gpid = -1;
	sigset_t	 all, old;

	if (pipe2(r, O_CLOEXEC) == -1) {
		xasprintf(cause, "freeze guardian: pipe: %s", strerror(errno));
		return (-1);
	}
	/* No handler of the owner's may run in the children. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((mid = fork()) == -1) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		xasprintf(cause, "freeze guardian: fork: %s", strerror(errno));
		close(r[0]);
		close(r[1]);
		return (-1);
	}
	if (mid == 0) {
		/* The middle child: fork the guardian, tell its pid, go. */
		close(ws);
		close(r[0]);
		gpid = fork();
		if (gpid == 0) {
			close(r[1]);
			guardian_main(cs);
		}
		if (write(r[1], &gpid, sizeof gpid) != sizeof gpid)
			_exit(1);
		_exit(gpid == -1);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(r[1]);
	while (waitpid(mid, &status, 0) == -1 && errno == EINTR)
		;
	if (read(r[0], &gpid, sizeof gpid) != sizeof gpid || gpid <= 0) {
		close(r[0]);
		xasprintf(cause, "freeze guardian: it could not be started");
		return (-1);
	}
	close(r[0]);
	*pid = gpid;
	return (0);
}

/* Start an idle guardian; see guardian.h. */
struct guardian *
guardian_spawn(char **cause)
{
	struct guardian	*g;
	pid_t		 pid;
	int		 p[2], cs, rc;

	guardian_reap();
	/*
	 * A socket pair, not a pipe: a send to a gone guardian is EPIPE,
	 * never SIGPIPE (MSG_NOSIGNAL), and descriptors can go over it.
	 */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) == -1) {
		xasprintf(cause, "freeze guardian: socketpair: %s",
		    strerror(errno));
		return (NULL);
	}
	/* Above GUARDIAN_FD, so that the dup to it is a real copy. */
	cs = fcntl(p[0], F_DUPFD_CLOEXEC, GUARDIAN_FD + 1);
	close(p[0]);
	if (cs == -1) {
		xasprintf(cause, "freeze guardian: fcntl: %s", strerror(errno));
		close(p[1]);
		return (NULL);
	}
	if ((rc = guardian_exec(cs, &pid)) == 0)
		guardian_track(pid);
	else if (guardian_fork(cs, p[1], &pid, cause) == -1) {
		close(cs);
		close(p[1]);
		return (NULL);
	}
	close(cs);
	g = xcalloc(1, sizeof *g);
	g->wfd = p[1];
	g->pid = pid;
	return (g);
}

/* Send one message with n descriptors; -1 if the guardian is gone. */
static int
guardian_send(struct guardian *g, unsigned char op, uint32_t arg,
    const int *fds, size_t n)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) *
				    GUARDIAN_FDS_PER_MSG)];
	}			 cbuf;
	struct cmsghdr		*cm;
	struct msghdr		 m;
	struct iovec		 iov;
	struct pollfd		 pfd;
	unsigned char		 msg[GUARDIAN_MSG_LEN];
	ssize_t			 sent;

	msg[0] = op;
	memcpy(msg + 1, &arg, sizeof arg);
	memset(&m, 0, sizeof m);
	iov.iov_base = msg;
	iov.iov_len = sizeof msg;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (n != 0) {
		memset(&cbuf, 0, sizeof cbuf);
		m.msg_control = cbuf.buf;
		m.msg_controllen = CMSG_SPACE(n * sizeof(int));
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	}
	for (;;) {
		sent = sendmsg(g->wfd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent == -1 && errno == EINTR)
			continue;
		if (sent != -1 || errno != EAGAIN)
			break;
		/* Its queue is full: wait for it to read (EPIPE if it dies). */
		pfd.fd = g->wfd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, GUARDIAN_SEND_MS) == 0)
			break;
	}
	return (sent == (ssize_t)sizeof msg ? 0 : -1);
}

/* Hand over a plan's descriptors; see guardian.h. */
int
guardian_hold(struct guardian *g, const struct freeze_plan *plan,
    char **cause)
{
	const struct freeze_entry	*e;
	unsigned char			*opened;
	size_t				 i, n = 0, k, total;
	int				*fds, rc = -1;

	total = freeze_plan_count(plan);
	fds = xcalloc(total + 1, sizeof *fds);
	opened = xcalloc(total + 1, 1);
	for (i = 0; i < total; i++) {
		e = freeze_plan_entry(plan, i);
		if (freeze_entry_action(e) != FREEZE_ACTION_FREEZE)
			continue;
		if ((fds[n] = freeze_entry_fd(e)) == -1) {
			if ((fds[n] = freeze_entry_open(e, cause)) == -1)
				goto out;
			opened[n] = 1;
		}
		n++;
	}
	if (n > GUARDIAN_MAX_HOLD) {
		xasprintf(cause, "%zu filesystems to freeze at once: a freeze "
		    "guardian holds at most %d", n, GUARDIAN_MAX_HOLD);
		goto out;
	}
	/* Nothing to hold still proves the guardian is there. */
	i = 0;
	do {
		k = n - i < GUARDIAN_FDS_PER_MSG ? n - i : GUARDIAN_FDS_PER_MSG;
		if (guardian_send(g, GUARDIAN_HOLD, (uint32_t)k, fds + i,
		    k) == -1) {
			xasprintf(cause, "freeze guardian (pid %ld) is gone: "
			    "%s", (long)g->pid, strerror(errno));
			goto out;
		}
		i += k;
	} while (i < n);
	rc = 0;
out:
	for (i = 0; i < n; i++) {
		if (opened[i])
			close(fds[i]);
	}
	free(opened);
	free(fds);
	return (rc);
}

/* Start a guardian holding a plan; see guardian.h. */
struct guardian *
guardian_start(const struct freeze_plan *plan, char **cause)
{
	struct guardian	*g;

	if ((g = guardian_spawn(cause)) == NULL)
		return (NULL);
	if (guardian_hold(g, plan, cause) == -1) {
		guardian_release(g);
		return (NULL);
	}
	return (g);
}

/* Push the deadline; see guardian.h. */
int
guardian_renew(struct guardian *g, unsigned int lease_ms)
{
	return (guardian_send(g, GUARDIAN_RENEW, lease_ms, NULL, 0));
}

/* Back to holding nothing; see guardian.h. */
int
guardian_idle(struct guardian *g)
{
	return (guardian_send(g, GUARDIAN_IDLE, 0, NULL, 0));
}

/* End untouched; see guardian.h. */
void
guardian_release(struct guardian *g)
{
	if (g == NULL)
		return;
	/* It drops what it holds, then reads end-of-file with nothing. */
	guardian_send(g, GUARDIAN_IDLE, 0, NULL, 0);
	close(g->wfd);
	free(g);
	guardian_reap();
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
	guardian_reap();
}

/* The guardian's pid. */
long
guardian_pid(const struct guardian *g)
{
	return ((long)g->pid);
}
