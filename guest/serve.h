/*
 * What the host asks of the guest over a guest-channel connection: freeze
 * the filesystems on some disks under a lease, renew the lease, thaw,
 * report the freeze state, ping.  Shared by the daemon (its session) and
 * by `snapshot create`, whose own connection the host uses when no daemon
 * is connected.
 *
 * One struct serve per process holds at most one freeze at a time:
 *
 *	IDLE or EXPIRED --freeze, something frozen--> FROZEN
 *	IDLE or EXPIRED --freeze, nothing to freeze or it failed--> IDLE
 *	FROZEN --thaw--> IDLE
 *	FROZEN --lease ran out (thawed)--> EXPIRED
 *	EXPIRED --renew or thaw (answered FAILED_PRECONDITION)--> IDLE
 *	FROZEN or EXPIRED --the connection that froze is lost--> IDLE
 *
 * A freeze while FROZEN is answered BUSY.  Replies to freeze, renew, thaw
 * and status carry a FreezeReport, except for a freeze refused before any
 * filesystem was tried (BUSY, NOT_FOUND, INVALID_ARGUMENT, unreadable
 * mountinfo).  In a report, frozen and frozen_count say what
 * is frozen at the time of the reply, mounts what the last freeze did with
 * each mount on its disks ("frozen" or "skipped" with a reason),
 * duration_ms runs from its first freeze to its last thaw, lease_left_ms
 * is the time before the guest thaws by itself (0 unless FROZEN).  A
 * lease_ms of 0 means SERVE_LEASE_DEFAULT_MS; others are clamped to the
 * freeze engine's bounds.
 *
 * The host learns that a lease ran out from the next renew or thaw, both
 * answered FAILED_PRECONDITION ("the lease ran out after N ms; filesystems
 * were thawed"), so that it never records a snapshot taken after an
 * automatic thaw as filesystem-consistent.
 *
 * While anything is frozen, nothing here writes to a disk: the freeze
 * engine holds the log in memory and replies go to the socket only.
 *
 * Ownership: the serve borrows the event base (it must outlive the serve)
 * and never keeps an envelope.  It remembers the peer that froze only to
 * recognise it in serve_lost(), which the owner must call before freeing
 * that peer.
 */
#ifndef EVG_SERVE_H
#define EVG_SERVE_H

#include <event2/event.h>

#include "evg.pb-c.h"

/* Lease when a request gives none (lease_ms 0). */
#define SERVE_LEASE_DEFAULT_MS	30000

struct disk;
struct peer;
struct serve;

/*
 * A serve reading mounts from mountinfo (copied; NULL for
 * "/proc/self/mountinfo").
 */
struct serve	*serve_create(struct event_base *, const char *);
/* Thaw anything still frozen (logged), then free.  NULL is fine. */
void		 serve_free(struct serve *);
/*
 * Answer one message the host sent on p: a request gets exactly one reply
 * (UNSUPPORTED, naming it, for one this agent does not serve).  Returns 1
 * when it was a request and a reply was queued, 0 for a reply or an event,
 * which are the caller's business.
 */
int		 serve_dispatch(struct serve *, struct peer *,
		     const Evg__Envelope *);
/*
 * p is going away.  If it holds filesystems frozen, thaw them at once and
 * log it.  Call from the peer's NULL dispatch, before peer_free().
 */
void		 serve_lost(struct serve *, struct peer *);
/*
 * The same for a connection this side is giving up on; why starts the
 * log line ("interrupted", ...).
 */
void		 serve_release(struct serve *, struct peer *, const char *);
/*
 * Keep a freeze guardian (guardian.h) ready: start one now, and after each
 * freeze keep the one that served it, idle, for the next (the daemon's
 * serve).  A freeze then only hands it descriptors.  Without this, each
 * freeze starts its own and ends it afterwards.
 */
void		 serve_keep_guardian(struct serve *);
/*
 * Whole disks the caller resolved a moment ago (copied; `snapshot create`
 * passes those of its DISK arguments): a freeze request naming one of
 * them (same device, identifiers matching) takes it as is instead of
 * reading sysfs again.
 */
void		 serve_set_disks(struct serve *, const struct disk *, size_t);
/*
 * Run the snapshot hooks of dir when the host asks (the daemon's serve;
 * without it hook requests are UNSUPPORTED).  dir is copied.
 */
void		 serve_set_hooks_dir(struct serve *, const char *);
/*
 * Answer the host's disk release requests (an online rollback's: check
 * that nothing uses the disks, flush them); the daemon's serve does.
 * Without it they are UNSUPPORTED, as in a command's connection.
 */
void		 serve_allow_disk_release(struct serve *);
/* Number of filesystems frozen right now. */
unsigned int	 serve_frozen(const struct serve *);

#endif
