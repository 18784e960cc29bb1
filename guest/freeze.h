/*
 * The guest's freeze engine: which filesystems to freeze for a snapshot of
 * some disks, freezing them (syncfs() of each, then FIFREEZE of each),
 * thawing them (FITHAW) and an auto-thaw lease for the event loop.  No
 * global sync(): FIFREEZE writes back the filesystem it freezes, and the
 * syncfs() before it, outside the frozen window, leaves it little to
 * write; other filesystems are none of a snapshot's business.
 *
 * A plan is built from mountinfo and a predicate that says whether a block
 * device (major:minor) belongs to the target disks; nothing the predicate
 * rejects is ever part of a plan, so "/" is frozen only when it lives on a
 * target disk.  Each superblock appears once as FREEZE or SKIP (its other
 * mounts are SKIP "bind mount of X, frozen once"), children come before
 * parents, read-only and unfreezable filesystems are SKIP with a reason.
 *
 * While anything is frozen the log is held in memory (log_hold()), so the
 * agent itself writes nothing to disk; the hold ends when the last
 * filesystem is thawed.
 *
 * Ownership: freeze_plan() gives the caller a plan it frees with
 * freeze_plan_free(), which first thaws whatever is still frozen.  Strings
 * returned by the accessors belong to the plan.  Every char **cause set
 * here is the caller's to free.  A lease borrows its plan (free the lease
 * first) and is freed by freeze_lease_stop() only, expired or not.
 */
#ifndef EVG_FREEZE_H
#define EVG_FREEZE_H

#include <stddef.h>
#include <time.h>

#include <event2/event.h>

/*
 * Bounds of a lease's deadline; a request outside is clamped.  The low
 * bound keeps a zero or tiny deadline from thawing before the host could
 * start the snapshot; the high one bounds how long a host that went quiet
 * can keep applications in the guest blocked on frozen filesystems (an
 * internal qcow2 or ZFS snapshot takes seconds, not minutes).
 */
#define FREEZE_LEASE_MIN_MS	100
#define FREEZE_LEASE_MAX_MS	(10 * 60 * 1000)

enum freeze_action {
	FREEZE_ACTION_FREEZE,
	FREEZE_ACTION_SKIP,
};

struct freeze_plan;
struct freeze_entry;
struct freeze_lease;

/*
 * Does block device maj:min belong to the target disks?  Non-zero if so.
 * A plan asks once per device number, however many mounts share it.
 */
typedef int	(*freeze_holds_cb)(unsigned int, unsigned int, void *);
/*
 * Called once when a lease expires, after the plan was thawed; cause is
 * NULL if every thaw worked, else why not (borrowed for the call).  The
 * callback may call freeze_lease_stop() on its lease.
 */
typedef void	(*freeze_lease_cb)(struct freeze_lease *, struct freeze_plan *,
		    const char *, void *);

/*
 * Build a plan from mountinfo_path (normally "/proc/self/mountinfo"),
 * keeping the mounts whose device holds accepts.  A filesystem with an
 * anonymous device (major 0, e.g. btrfs) is judged by its source when that
 * is a block device.  Returns 0 and *out (possibly with no entries), or -1
 * and *cause when the file cannot be read or a line is malformed.
 */
int		 freeze_plan(const char *, freeze_holds_cb, void *,
		    struct freeze_plan **, char **);
/*
 * The same from the len bytes of mountinfo text; name is the file's name
 * for *cause.  Reads nothing but stat() of a major-0 mount's source.
 */
int		 freeze_plan_text(const char *, size_t, const char *,
		    freeze_holds_cb, void *, struct freeze_plan **, char **);
/* Thaw anything still frozen, then free the plan.  NULL is allowed. */
void		 freeze_plan_free(struct freeze_plan *);
/*
 * Get ready to freeze, outside the frozen window: open each FREEZE entry's
 * mount point (checked to be the planned mount still), syncfs() it and
 * checkpoint an ext4 journal (see freeze_flush() in freeze.c).
 * The descriptors stay open (freeze_entry_fd()) for freeze_apply(), and
 * for the guardian to hold.  Returns 0 (also when already prepared), or -1
 * with *cause naming the mount point, nothing left open.  A flush that
 * fails is only logged: FIFREEZE syncs again and reports it.
 */
int		 freeze_prepare(struct freeze_plan *, char **);
/*
 * Prepare (unless done already), then freeze each FREEZE entry in plan
 * order.  An entry whose filesystem does not support freezing becomes
 * SKIP.  Any failure (a filesystem already frozen by someone else, a
 * mount that changed since planning, an I/O error) thaws what was frozen
 * and returns -1 with *cause naming the mount point.  Returns 0 otherwise.
 * A plan is applied once; afterwards only frozen entries keep a
 * descriptor.
 */
int		 freeze_apply(struct freeze_plan *, char **);
/*
 * Thaw every frozen entry in reverse order, going on past errors (a
 * filesystem someone else thawed already counts as thawed).  Returns 0, or
 * -1 with *cause listing the failures; those entries stay frozen and the
 * log hold stays on, so a retry is possible.
 */
int		 freeze_thaw(struct freeze_plan *, char **);

/* Number of entries, FREEZE and SKIP. */
size_t		 freeze_plan_count(const struct freeze_plan *);
/* Entry i (below freeze_plan_count()). */
const struct freeze_entry *freeze_plan_entry(const struct freeze_plan *,
		    size_t);
/* Number of entries frozen right now. */
size_t		 freeze_plan_frozen_count(const struct freeze_plan *);
/*
 * Milliseconds from just before the first FIFREEZE that froze something to
 * just after the last FITHAW returned: the whole time a writer could have
 * been held up.  While still frozen, so far; 0 when nothing was ever
 * frozen.
 */
unsigned int	 freeze_plan_duration_ms(const struct freeze_plan *);
/*
 * When the freeze began (CLOCK_MONOTONIC): just before the FIFREEZE of
 * the first entry that froze; all zero when nothing was ever frozen.
 */
const struct timespec *freeze_plan_started_at(const struct freeze_plan *);

/* Where the filesystem is mounted (unescaped). */
const char	*freeze_entry_mountpoint(const struct freeze_entry *);
/* The mount's source as mountinfo gives it, e.g. "/dev/sdc1". */
const char	*freeze_entry_device(const struct freeze_entry *);
/* The filesystem type, e.g. "ext4". */
const char	*freeze_entry_fstype(const struct freeze_entry *);
/* The block device the predicate accepted. */
void		 freeze_entry_devnum(const struct freeze_entry *,
		    unsigned int *, unsigned int *);
enum freeze_action freeze_entry_action(const struct freeze_entry *);
/* Why an entry is SKIP ("read-only", ...); NULL for FREEZE. */
const char	*freeze_entry_reason(const struct freeze_entry *);
/* Non-zero while this entry is frozen by us. */
int		 freeze_entry_frozen(const struct freeze_entry *);
/*
 * When this entry was last frozen (CLOCK_MONOTONIC, just before its
 * FIFREEZE); zero if never.
 */
const struct timespec *freeze_entry_frozen_at(const struct freeze_entry *);
/*
 * The entry's open mount point: from freeze_prepare() until the apply
 * for a FREEZE entry, and while it is frozen; else -1.  Borrowed.
 */
int		 freeze_entry_fd(const struct freeze_entry *);
/*
 * Open an entry's mount point (O_RDONLY, close-on-exec), checked to be the
 * planned mount still.  Returns the descriptor, or -1 with *cause.
 */
int		 freeze_entry_open(const struct freeze_entry *, char **);
/* "freeze" or "skip". */
const char	*freeze_action_name(enum freeze_action);

/* A deadline clamped to [FREEZE_LEASE_MIN_MS, FREEZE_LEASE_MAX_MS]. */
unsigned int	 freeze_lease_clamp(unsigned int);
/*
 * Arm an auto-thaw deadline on base for an applied plan: unless renewed or
 * stopped within deadline_ms (clamped), the plan is thawed, the expiry
 * logged and cb called.
 */
struct freeze_lease *freeze_lease_start(struct event_base *,
		    struct freeze_plan *, unsigned int, freeze_lease_cb, void *);
/*
 * Push the deadline to deadline_ms (clamped) from now.  Returns 0, or -1
 * if the lease already expired (the plan was thawed).
 */
int		 freeze_lease_renew(struct freeze_lease *, unsigned int);
/* Non-zero once the lease has expired. */
int		 freeze_lease_expired(const struct freeze_lease *);
/* Disarm and free the lease; does not thaw.  NULL is allowed. */
void		 freeze_lease_stop(struct freeze_lease *);

#endif
