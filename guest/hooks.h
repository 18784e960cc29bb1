/*
 * Snapshot hooks: the VM user's scripts that the guest daemon runs around
 * a controller-triggered snapshot, asynchronously on the daemon's event
 * loop (nothing here waits for a hook).
 *
 * Layout under the hooks dir (HOOKS_DIR_DEFAULT unless the caller names
 * another):
 *
 *	pre:		pre.sh, then pre.d/<name> in name order
 *	post, abort:	post.d/<name> in reverse name order, then post.sh
 *
 * so that what pre set up last is torn down first.  Names are compared
 * with strcmp(); names starting with '.', ending in '~' or holding
 * ".dpkg-" (editor and package manager leftovers) are ignored.  A missing
 * file or directory is a SKIPPED result, not a failure.
 *
 * A hook must be a regular file (a symlink is followed and judged by its
 * target), owned by root, not writable by group or others and executable
 * by its owner; the hooks dir, pre.d and post.d must be directories owned
 * by root and not writable by group or others.  Anything else is REFUSED
 * with the reason and fails the phase.  A refused hooks dir refuses the
 * whole phase.  Every hook of a phase is checked before the first runs,
 * and again just before it runs.
 *
 * A hook is executed directly (no shell) with argv[0] its path, in its own
 * process group, cwd "/", stdin from /dev/null, stdout and stderr merged
 * into one pipe of which the last HOOKS_OUTPUT_TAIL bytes are kept, and
 * only this environment:
 *
 *	PATH			HOOKS_PATH
 *	EVE_SNAPSHOT_PHASE	pre, post or abort
 *	EVE_SNAPSHOT_OPERATION	create or rollback
 *	EVE_SNAPSHOT_NAME	the snapshot's name ("" if none)
 *	EVE_SNAPSHOT_UUID	the snapshot's UUID ("" if none)
 *	EVE_SNAPSHOT_DISKS	the guest device paths, space-separated
 *	EVE_SNAPSHOT_DEADLINE	Unix time (seconds) by which the phase must end
 *
 * A hook is done when its own process exits: background processes it
 * leaves (a pre hook may keep a database lock held until post) are not
 * waited for or killed, and what they print later is not collected.
 *
 * The timeout covers the whole phase.  When it runs out, the running
 * hook's process group gets SIGKILL and the hook is TIMEOUT; any hook
 * left is NOT_RUN.  Within the phase, hooks run one after another: in
 * "pre" the first failure (non-zero exit, signal, timeout, refusal) stops
 * the phase and the hooks after it are NOT_RUN; in "post" and "abort"
 * every hook runs even if one failed (teardown must be attempted).  The
 * phase is ok when no hook failed, timed out or was refused.
 *
 * Each hook runs through the child-process runner (common/proc.h), which
 * watches it alone: nothing here installs a SIGCHLD handler or reaps any
 * other child.  The process must not set SIGCHLD to SIG_IGN or reap with
 * waitpid(-1): a hook reaped elsewhere is FAILED, "exit status lost".
 *
 *	STARTING --first step, from the loop--> RUNNING
 *	RUNNING --a hook ends, another is due--> RUNNING
 *	RUNNING --no hook left, or the phase stopped--> FINISHING
 *	FINISHING --callback runs--> CALLING --it returns--> (freed)
 *	STARTING, RUNNING, FINISHING --hooks_run_cancel()--> (freed)
 *
 * Ownership: hooks_run_start() copies the params; the base must outlive
 * the run, including a killed hook still being reaped after
 * hooks_run_cancel() (event_base_dispatch() returns only once it is).
 * The result handed to the callback and everything it points to belong to
 * the run and are freed when the callback returns; the run itself is
 * freed then too, so the callback must not cancel it.  Every char **cause
 * set here is the caller's to free.
 */
#ifndef EVG_HOOKS_H
#define EVG_HOOKS_H

#include <stddef.h>

#include <event2/event.h>

#define HOOKS_DIR_DEFAULT	"/etc/eve/snapshots"
#define HOOKS_PATH		"/usr/local/sbin:/usr/local/bin:/usr/sbin:" \
				"/usr/bin:/sbin:/bin"

/*
 * Phase timeout: the default, and the bounds hooks_timeout_clamp() puts
 * on what the host asks for.  hooks_run_start() itself only caps at the
 * maximum, so that tests may use shorter timeouts.
 */
#define HOOKS_TIMEOUT_DEFAULT_MS	(60 * 1000)
#define HOOKS_TIMEOUT_MIN_MS		1000
#define HOOKS_TIMEOUT_MAX_MS		(30 * 60 * 1000)
/* Bytes of each hook's output kept: the end, where errors are printed. */
#define HOOKS_OUTPUT_TAIL		4096
/* Most entries read from pre.d or post.d; more refuses the directory. */
#define HOOKS_MAX_ENTRIES		256
/* Most disks, and longest name or UUID, a run accepts. */
#define HOOKS_MAX_DISKS			64
#define HOOKS_MAX_VALUE			1024
/* How long a hook killed on timeout may take to die before it is left. */
#define HOOKS_KILL_GRACE_MS		5000

enum hooks_phase {
	HOOKS_PHASE_PRE,
	HOOKS_PHASE_POST,
	HOOKS_PHASE_ABORT,
};

enum hooks_operation {
	HOOKS_OP_CREATE,
	HOOKS_OP_ROLLBACK,
};

enum hook_status {
	HOOK_OK,	/* exited 0 */
	HOOK_FAILED,	/* non-zero exit, signal, could not be started */
	HOOK_SKIPPED,	/* file or directory not present */
	HOOK_REFUSED,	/* failed the ownership or mode checks */
	HOOK_TIMEOUT,	/* killed when the phase's time ran out */
	HOOK_NOT_RUN,	/* the phase stopped or timed out before it */
};

struct hooks_params {
	const char		*dir;		/* NULL: HOOKS_DIR_DEFAULT */
	enum hooks_phase	 phase;
	enum hooks_operation	 operation;
	const char		*name;		/* NULL: "" */
	const char		*uuid;		/* NULL: "" */
	const char *const	*disks;		/* absolute, no white space */
	size_t			 ndisks;
	unsigned int		 timeout_ms;	/* 0: the default */
};

/*
 * One hook (or a hooks directory, when that was missing or refused).
 * exit_code is the exit status of a hook that exited, else -1; signo the
 * signal that killed it, else 0.  output is the tail of what it printed,
 * NUL-terminated (it may hold other NULs: output_len counts), never NULL.
 * reason is NULL for OK, else one line: "exit 7", "killed by signal 15",
 * "timed out after 500 ms", "not present", "owned by uid 1000, must be
 * root", "writable by group or others (mode 0666)", "not a regular
 * file", "not run: ...".
 */
struct hook_result {
	char			*path;
	enum hook_status	 status;
	int			 exit_code;
	int			 signo;
	char			*output;
	size_t			 output_len;
	char			*reason;
	unsigned int		 elapsed_ms;
};

/*
 * A finished phase: the hooks in the order they ran (or would have).
 * failure is NULL when ok, else one line naming the first hook that
 * failed, why and the last line it printed, for an error message.
 */
struct hooks_result {
	enum hooks_phase	 phase;
	int			 ok;
	const char		*failure;
	const struct hook_result *hooks;
	size_t			 nhooks;
	unsigned int		 elapsed_ms;
};

struct hooks_run;

/* Called once, from the event loop, when the phase is over. */
typedef void	(*hooks_done_cb)(const struct hooks_result *, void *);

/*
 * Start a phase on base.  Returns the run, or NULL with *cause when the
 * params are invalid (a relative dir, a disk path not absolute or holding
 * white space, too many disks, a name or UUID too long or holding control
 * characters).  Problems with the hooks themselves are results, and cb
 * never runs inside this call.
 */
struct hooks_run *hooks_run_start(struct event_base *,
		    const struct hooks_params *, hooks_done_cb, void *,
		    char **);
/*
 * Stop a run: SIGKILL the running hook's process group (reaped later from
 * the loop) and free the run; cb will not be called.  NULL is fine.
 */
void		 hooks_run_cancel(struct hooks_run *);

/* A timeout from the host: 0 is the default, others bounded to MIN..MAX. */
unsigned int	 hooks_timeout_clamp(unsigned int);
/* "pre", "post", "abort". */
const char	*hooks_phase_name(enum hooks_phase);
/* "create", "rollback". */
const char	*hooks_operation_name(enum hooks_operation);
/* "ok", "failed", "skipped", "refused", "timeout", "not-run". */
const char	*hooks_status_name(enum hook_status);

#endif
