/*
 * Asynchronous child processes for snapshot backends (qemu-img, zfs).
 * A child runs in its own process group with stdin from /dev/null and no
 * inherited descriptors; its stdout and stderr are collected (the last
 * max_output bytes of each); on timeout the whole group gets SIGKILL.  The
 * callback runs once, from the event loop, after the child was reaped and
 * both pipes closed; the result and its buffers are freed when it returns.
 * proc_cancel() kills the group and guarantees the callback never runs.
 */
#ifndef EVG_PROC_H
#define EVG_PROC_H

#include <stddef.h>

#include <event2/event.h>

struct proc;

struct proc_result {
	int		 exited;	/* exited normally: status is valid */
	int		 status;	/* exit code */
	int		 signo;		/* killing signal, 0 if none */
	int		 timed_out;	/* killed by the timeout */
	char		*out;		/* NUL-terminated tail of stdout */
	size_t		 out_len;
	char		*err;		/* NUL-terminated tail of stderr */
	size_t		 err_len;
	unsigned int	 elapsed_ms;
};

typedef void	(*proc_done_cb)(const struct proc_result *, void *);

/*
 * Install the SIGCHLD handling on base; call once before proc_spawn().
 * It reaps every child of the process (waitpid(-1)), so children are
 * started only through proc_spawn().
 */
void		 proc_init(struct event_base *);
/* Release what proc_init() installed (kills and forgets live children). */
void		 proc_shutdown(void);
/*
 * Start argv[0] (searched in PATH) with argv, a timeout in milliseconds
 * (0: none) and the bytes of each stream to keep.  Returns NULL with
 * *cause (caller frees) when it could not be started; a program that
 * cannot be executed is a result (exit 127, the reason on stderr).
 */
struct proc	*proc_spawn(char *const[], unsigned int, size_t, proc_done_cb,
		    void *, char **);
/* Kill a running child; its callback will not run (no-op inside it). */
void		 proc_cancel(struct proc *);
/* One-line summary of a failed result for messages ("exit 1: <stderr>"). */
char		*proc_describe(const struct proc_result *);

#endif
