/*
 * The one runner of child processes: the host's snapshot backends
 * (qemu-img, zfs) and the guest's hooks.
 *
 * A child runs argv in its own process group, with stdin from /dev/null,
 * no inherited descriptors, default signal dispositions and an empty
 * signal mask.  The last max_output bytes of its stdout and of its stderr
 * (or of both, merged into one pipe) are kept.  It is watched through a
 * pidfd (where the kernel has none, a waitpid(pid) poll every
 * PROC_POLL_MS): nothing here installs a SIGCHLD handler or reaps a child
 * it did not start, so the process may run and reap children of its own
 * (the guest's freeze guardian).  It must not reap these with
 * waitpid(-1) or set SIGCHLD to SIG_IGN: a child reaped elsewhere ends
 * with its status lost.
 *
 * When the timeout runs out (or proc_expire() is called) the whole group
 * gets SIGKILL.  The callback runs exactly once, from the event loop,
 * after the child was reaped and both pipes were closed by the child's
 * side (PROC_EXIT_ONLY, or a kill: read what is there, then closed);
 * with a kill grace, also when the child was killed and is still not
 * reaped that long after (still_running: it is then left behind, and
 * reaped from the loop whenever it dies).
 *
 *	RUNNING --reaped, pipes done--> FINISHING --event--> CALLING -> freed
 *	RUNNING --timeout--> RUNNING (timed out, group killed)
 *	RUNNING --grace over--> FINISHING (still running) ... -> LEFT
 *	RUNNING, FINISHING --proc_cancel()--> LEFT (or freed if reaped)
 *	LEFT --reaped--> freed
 *
 * Ownership: proc_start() copies what it needs of the spec.  The result
 * handed to the callback and its buffers belong to the runner and are
 * freed when the callback returns, as is the proc (it must not be
 * cancelled from its own callback; doing so is a no-op).  The event base
 * must outlive every proc started on it, including one left behind, which
 * keeps event_base_dispatch() running until it is reaped.  Every char
 * **cause set here is the caller's to free.
 */
#ifndef EVG_PROC_H
#define EVG_PROC_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>

/* waitpid() poll interval where pidfd_open() is not available. */
#define PROC_POLL_MS		50

/* stderr goes to the stdout pipe: one tail, in out (err stays ""). */
#define PROC_MERGE_OUTPUT	0x01
/*
 * Done once the child is reaped: what is in the pipes then is read, and
 * what processes it left in the background print later is not waited for.
 * Without it, done also waits for every writer of the pipes to close them.
 */
#define PROC_EXIT_ONLY		0x02
/* The tails begin on a UTF-8 character boundary (so may be shorter). */
#define PROC_TAIL_UTF8		0x04
/* The child gets SIGKILL when this process dies. */
#define PROC_DIE_WITH_PARENT	0x08
/*
 * argv[0] is executed as the path it is: no PATH search, and no /bin/sh
 * for a file without "#!" (it fails, "Exec format error").
 */
#define PROC_EXEC_PATH		0x10
/* The child's umask is spec->umask. */
#define PROC_SET_UMASK		0x20

struct proc;

struct proc_spec {
	struct event_base	*base;		/* NULL: proc_init()'s */
	char *const		*argv;		/* argv[0]: PATH searched */
	char *const		*envp;		/* NULL: this process's */
	const char		*cwd;		/* NULL: this process's */
	mode_t			 umask;		/* with PROC_SET_UMASK */
	unsigned int		 timeout_ms;	/* 0: none */
	unsigned int		 grace_ms;	/* after the kill; 0: no limit */
	size_t			 max_output;	/* bytes of each tail kept */
	int			 flags;		/* PROC_* */
};

struct proc_result {
	int		 exited;	/* exited normally: status is valid */
	int		 status;	/* exit code */
	int		 signo;		/* killing signal, 0 if none */
	int		 timed_out;	/* killed by the timeout */
	int		 lost;		/* reaped elsewhere: nothing known */
	int		 still_running;	/* killed, not dead after the grace */
	char		*out;		/* NUL-terminated tail of stdout */
	size_t		 out_len;
	char		*err;		/* NUL-terminated tail of stderr */
	size_t		 err_len;
	unsigned int	 elapsed_ms;
};

typedef void	(*proc_done_cb)(const struct proc_result *, void *);

/*
 * Remember base as the one proc_spawn() and a spec without a base use.
 * Installs nothing: children are watched one by one.
 */
void		 proc_init(struct event_base *);
/*
 * Kill every live child (left-behind ones included), wait for each that
 * can still die, free all and forget proc_init()'s base.  No callback
 * runs.
 */
void		 proc_shutdown(void);
/*
 * Start a child as spec says.  Returns NULL with *cause when it could not
 * be started; a program that cannot be executed, or a cwd that cannot be
 * entered, is a result (exit 127, the reason on stderr).  cb never runs
 * inside this call.
 */
struct proc	*proc_start(const struct proc_spec *, proc_done_cb, void *,
		    char **);
/*
 * The backends' form: argv[0] searched in PATH, a timeout in milliseconds
 * (0: none), the bytes of each stream to keep; killed with the daemon.
 */
struct proc	*proc_spawn(char *const[], unsigned int, size_t, proc_done_cb,
		    void *, char **);
/* The child's pid, which is also its process group. */
pid_t		 proc_pid(const struct proc *);
/* Act as if the timeout ran out now (no-op once the child is done). */
void		 proc_expire(struct proc *);
/* Kill a running child; its callback will not run (no-op inside it). */
void		 proc_cancel(struct proc *);
/*
 * Milliseconds on the monotonic clock since start (CLOCK_MONOTONIC),
 * rounded: how children and what runs them are timed.
 */
unsigned int	 proc_elapsed_ms(const struct timespec *);
/* The same in microseconds, truncated (a backend call's time). */
uint64_t	 proc_elapsed_us(const struct timespec *);
/* One-line summary of a failed result for messages ("exit 1: <stderr>"). */
char		*proc_describe(const struct proc_result *);

#endif
