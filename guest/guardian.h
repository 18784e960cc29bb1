/*
 * The freeze guardian: a freeze that cannot outlive its owner.
 *
 * Before the first FIFREEZE, the agent that freezes (the CLI or the
 * daemon, through serve.c) hands a guardian an open descriptor on every
 * filesystem the plan will freeze.  The guardian is a process of its own,
 * in its own session, memory locked (memlock.h), connected to the owner by
 * a socket pair whose other end only the owner keeps (close-on-exec, so no
 * other child has it).  It thaws what it holds (FITHAW, retried until it
 * succeeds or the filesystem says it is not frozen) when, whichever comes
 * first:
 *
 *   - the owner dies, however (SIGKILL, a crash, fatal(), exit): its
 *     socket reads end-of-file;
 *   - the lease runs out without a renewal (the owner is stopped or
 *     stuck);
 *   - the owner hands over (guardian_handover(): its own thaw failed);
 *   - it gets SIGTERM.
 * Having decided to thaw, it closes its end first (so the owner's next
 * renewal fails at once), thaws, and exits.  It writes nothing anywhere
 * (no log, no file: it runs while filesystems are frozen).
 *
 * How it starts.  The guardian is this same program run again
 * (/proc/self/exe, the owner's own argv; posix_spawn(), which clones
 * without copying the owner's memory and returns once the new program
 * runs), told by the environment variable EVG_FREEZE_GUARDIAN which
 * descriptor is its socket; a constructor in this file catches that before
 * main() and never returns.  It used to be a double fork of the owner: the
 * fork itself cost little, but it made every page of the owner
 * copy-on-write, and the owner then took a page fault (tens of
 * microseconds in a VM) on each page it wrote on its way to the freeze.
 * Where the program cannot be run again (no /proc, say), the guardian is
 * still a double fork.  Either way it holds nothing until
 * guardian_hold(): the descriptors go over the socket (SCM_RIGHTS), and
 * from the moment the send returns they are the guardian's, queued ahead
 * of any end-of-file, so an owner that dies right after still has them
 * thawed.  A guardian may be started ahead of need (the daemon keeps one
 * idle between freezes: guardian_idle()), so that a freeze only sends it
 * descriptors.
 *
 * guardian_release() ends it without touching anything, once the owner
 * has thawed everything itself.  A guardian that runs the program again
 * is the owner's child: guardian_reap() collects those that exited
 * (daemon: on SIGCHLD); a double-forked one is init's.
 *
 * Ownership: the owner holds the struct guardian and frees it with
 * guardian_release() or guardian_handover().
 */
#ifndef EVG_GUARDIAN_H
#define EVG_GUARDIAN_H

#include "freeze.h"

/* The environment variable that makes this program a guardian. */
#define GUARDIAN_ENV	"EVG_FREEZE_GUARDIAN"

struct guardian;

/*
 * Start a guardian holding nothing, with no deadline.  Returns NULL and
 * *cause when it could not be started.
 */
struct guardian	*guardian_spawn(char **);
/*
 * Hand g the FREEZE entries of plan (not yet applied): the descriptors
 * freeze_prepare() opened, or mount points opened here.  It has no
 * deadline until the first guardian_renew(), which the owner sends once
 * the freeze is in place; until then only the owner's death makes it
 * thaw.  Returns 0, or -1 and *cause (a mount point could not be opened,
 * the guardian is gone): the caller must then not freeze.
 */
int		 guardian_hold(struct guardian *, const struct freeze_plan *,
		     char **);
/* guardian_spawn(), then guardian_hold(); NULL and *cause on failure. */
struct guardian	*guardian_start(const struct freeze_plan *, char **);
/* Set the deadline to lease_ms from now.  -1 if the guardian is gone. */
int		 guardian_renew(struct guardian *, unsigned int);
/*
 * The owner thawed everything: the guardian drops what it holds, touching
 * nothing, clears its deadline and waits for the next guardian_hold().
 * Returns 0, or -1 if it is gone (free g with guardian_release()).
 */
int		 guardian_idle(struct guardian *);
/* The owner thawed everything: the guardian exits untouched.  Frees g. */
void		 guardian_release(struct guardian *);
/*
 * The owner could not thaw (or gives up): the guardian thaws now and
 * retries until it succeeds.  Frees g.  NULL is allowed.
 */
void		 guardian_handover(struct guardian *);
/* The guardian's pid (for tests and logs). */
long		 guardian_pid(const struct guardian *);
/* Reap the guardians this process started that have exited; never waits. */
void		 guardian_reap(void);

#endif
