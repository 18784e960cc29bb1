/*
 * The freeze guardian: a freeze that cannot outlive its owner.
 *
 * Before the first FIFREEZE, the agent that freezes (the CLI or the
 * daemon, through serve.c) starts a guardian: a process of its own (double
 * forked, in its own session, memory locked) holding an open descriptor on
 * every filesystem the plan will freeze and one end of a socket pair
 * whose other end only the owner keeps (close-on-exec, closed in every
 * other child).  The guardian thaws them all (FITHAW, retried until it succeeds
 * or the filesystem says it is not frozen) when, whichever comes first:
 *
 *   - the owner dies, however (SIGKILL, a crash, fatal(), exit): its
 *     socket reads end-of-file;
 *   - the lease runs out without a renewal (the owner is stopped or
 *     stuck);
 *   - the owner hands over (guardian_handover(): its own thaw failed).
 *
 * guardian_release() ends it without touching anything, once the owner
 * has thawed everything itself.  The guardian writes nothing anywhere
 * (no log, no file: it runs while filesystems are frozen) and exits when
 * done; init reaps it.
 *
 * Ownership: the owner holds the struct guardian and frees it with
 * guardian_release() or guardian_handover().
 */
#ifndef EVG_GUARDIAN_H
#define EVG_GUARDIAN_H

#include "freeze.h"

struct guardian;

/*
 * Start a guardian for the FREEZE entries of plan (not yet applied).  It
 * has no deadline until the first guardian_renew(), which the owner sends
 * once the freeze is in place (freezing begins with a sync() that may
 * take long); until then only the owner's death makes it thaw.  Returns
 * NULL and *cause when it could not be started (a mount point could not
 * be opened, fork failed): the caller must then not freeze.
 */
struct guardian	*guardian_start(const struct freeze_plan *, char **);
/* Set the deadline to lease_ms from now.  -1 if the guardian is gone. */
int		 guardian_renew(struct guardian *, unsigned int);
/* The owner thawed everything: the guardian exits untouched.  Frees g. */
void		 guardian_release(struct guardian *);
/*
 * The owner could not thaw (or gives up): the guardian thaws now and
 * retries until it succeeds.  Frees g.  NULL is allowed.
 */
void		 guardian_handover(struct guardian *);
/* The guardian's pid (for tests and logs). */
long		 guardian_pid(const struct guardian *);

#endif
