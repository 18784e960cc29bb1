/*
 * Snapshot operations on a VM's volumes, each an explicit state machine
 * driven by backend completions:
 *
 *   create:    SPACE (each volume) -> [FREEZE -> VERIFY] -> INTENT ->
 *              BACKEND (each volume; the lease is renewed meanwhile) ->
 *              [THAW -> VERIFY] -> COMMIT -> DONE
 *              any failure after INTENT -> [THAW] -> CLEANUP (delete what
 *              the backend made, drop the intents) -> DONE: all or nothing
 *   check:     SPACE (each volume) -> DONE (no lock taken)
 *   delete:    INTENT -> BACKEND -> COMMIT -> DONE
 *   rollback:  BACKEND -> DONE (VM stopped);  VM running: [PRE hooks] ->
 *              scheduled (restart-required) -> BACKEND when it stops
 *   reconcile: LIST (each volume) -> [REDELETE] -> COMMIT -> DONE
 *
 * One operation per VM at a time and at most max_parallel_ops across the
 * host; what comes meanwhile waits its turn, first come, first served
 * (wf_queue.c; BUSY when the VM's queue is full).  The workflow module owns each VM's
 * catalog (opened on first use) and every workflow; a requester that goes
 * away calls workflow_forget_owner() and the operation carries on.
 */
#ifndef EVG_WORKFLOW_H
#define EVG_WORKFLOW_H

#include <event2/event.h>

#include "config.h"
#include "evg.pb-c.h"
#include "registry.h"

struct workflow;

/*
 * A completion message may quote the guest (hook output, refusals); it is
 * cut to this many bytes on a character boundary.
 */
#define WORKFLOW_MESSAGE_MAX	4096

/*
 * Completion: a status code, a message (NULL on success) and the snapshots
 * concerned (created, deleted or rolled back to); all freed after return.
 */
typedef void	(*workflow_done_cb)(int, const char *, Evg__Snapshot **,
		    size_t, void *);

struct guest_link;

/* How long the guest's hooks of one phase may run (ms). */
#define HOOK_TIMEOUT_DEFAULT_MS	60000
#define HOOK_TIMEOUT_MIN_MS	1000
#define HOOK_TIMEOUT_MAX_MS	(30 * 60 * 1000)

struct workflow_params {
	const char	*vm;		/* VM UUID */
	/* create: UUIDs, none: all; rollback: only those members */
	const char	*const *volumes;
	size_t		 nvolumes;
	const char	*name;		/* create: may be NULL/empty */
	const char	*consistency;	/* create: app, fs or crash */
	const char	*origin;	/* create: guest or controller */
	/* delete, rollback: a group UUID or name, or a member's UUID */
	const char	*snapshot;
	const char	*volume;	/* rollback: only this member (old) */
	int		 member;	/* delete: only this member */
	const char	*idempotency_key; /* create: may be NULL/empty */
	unsigned int	 hook_timeout_ms; /* create (app): 0 = default */
	/* Guest-triggered: the disks the guest named (create, check,
	 * rollback); the freeze goes to the VM's guest daemon session, or to
	 * requester when none is connected. */
	Evg__DiskRef	*const *disks;
	size_t		 ndisks;
	uint64_t	 requester;	/* guest session serial, 0: none */
	/*
	 * rollback of a running VM: 1, online if it can be (the guest says
	 * the disk is unused; else scheduled, saying why); 2, online or
	 * refused (the controller's --online).
	 */
	int		 online;
};

/*
 * Pre-flight result: a status code a create would meet, a message, and the
 * volumes, free space and need (all freed after return).
 */
typedef void	(*workflow_check_cb)(int, const char *, const Evg__CheckResult *,
		    void *);

/* Set up: the catalogs live in <state_dir>/catalogs.  0 or -1 + *cause. */
int	workflow_init(struct event_base *, struct config *, struct registry *,
	    const struct guest_link *, char **);
void	workflow_shutdown(void);

/*
 * Start an operation.  Returns 0 when started: cb will run, possibly
 * before this returns (an outcome known at once, such as a catalog write
 * failure).  Returns 0 with *cause set (the caller's to free) when the
 * request was queued (wf_queue.c): the VM runs another operation, or the
 * host max_parallel_ops; *cause says so for the requester, and cb runs
 * once it has run (or TIMEOUT after queue_wait, UNAVAILABLE if the VM is
 * removed).  Otherwise returns a status code with *cause: refused (BUSY:
 * the VM's queue is full), and cb will not run.
 */
int	workflow_create(const struct workflow_params *, workflow_done_cb,
	    void *, char **);
int	workflow_delete(const struct workflow_params *, workflow_done_cb,
	    void *, char **);
int	workflow_rollback(const struct workflow_params *, workflow_done_cb,
	    void *, char **);
/*
 * Map a guest's disk references to volume UUIDs of the VM, one per disk in
 * order (*vols freed by the caller, each string and the array).  A status
 * code: NOT_FOUND naming the disk that is not one of the VM's volumes,
 * INVALID_ARGUMENT for two disks of one volume (the same disk twice) or
 * more than CATALOG_GROUP_MAX disks.
 */
int	workflow_match_disks(const char *, Evg__DiskRef *const *, size_t,
	    char ***, size_t *, char **);
/* Pre-flight of a guest-triggered create: same start contract. */
int	workflow_check(const struct workflow_params *, workflow_check_cb,
	    void *, char **);
/*
 * The VM's snapshots now (synchronous: the catalog is in memory), in
 * catalog order: those after the snapshot UUID after (NULL or "": from the
 * first; NOT_FOUND when it is not listed), at most max (0: all), *more set
 * when more follow.  Returns a status code; on EVG_OK the list and its
 * count are set (the list is freed with snapinfo_free_list()).
 */
int	workflow_list(const char *, const char *, size_t, Evg__Snapshot ***,
	    size_t *, int *, char **);
/*
 * Reconcile every registered VM's catalog with its backends; "catalog
 * check done" is logged when the last one finishes.  From then on, every
 * reconcile_retry seconds, a VM whose catalog still holds creating or
 * deleting entries is checked again (when no operation runs on it).
 */
void	workflow_reconcile_all(void);
/*
 * A VM was just registered: reconcile its catalog if it has one from an
 * earlier registration (a new VM has nothing to check, and its first
 * requests should not meet a BUSY catalog check).
 */
void	workflow_vm_added(struct reg_vm *);
/*
 * A VM's run state changed (pillar's `vm state`): a rollback scheduled
 * while it ran is carried out now that it is stopped, before anything else
 * touches its disks.
 */
void	workflow_vm_state(struct reg_vm *);
/*
 * Pillar is about to start the VM's QEMU (`vm state starting`).  When no
 * operation holds its images and no rollback is scheduled, returns EVG_OK
 * with *waiting 0: go ahead.  Otherwise the scheduled rollback starts (or
 * the running operation finishes), *waiting is 1 and cb(code, message,
 * NULL, 0, arg) follows: EVG_OK, or the rollback's failure (the VM must
 * then stay stopped).  EVG_BUSY when another `starting` already waits.
 */
int	workflow_vm_starting(struct reg_vm *, workflow_done_cb, void *, int *,
	    char **);
/*
 * EVG_OK if no operation runs on the VM, else EVG_BUSY with *cause naming
 * it.  offline_only: only an operation that holds the images offline
 * (started while the VM was stopped) counts, as for `running`.
 */
int	workflow_vm_idle(const struct reg_vm *, int, char **);
/* The limits were reloaded: requests waiting for a slot may start. */
void	workflow_limits_changed(void);
/* Stop calling back owner (the arg given at start). */
void	workflow_forget_owner(void *);
/*
 * The guest session with this serial went away.  A create frozen through
 * it ends at once with UNAVAILABLE: its backend step is cancelled and
 * whatever the backend made is deleted (the guest thawed on its own).
 */
void	workflow_guest_gone(uint64_t);
/* A VM was removed: cancel its operation, close its catalog (kept). */
void	workflow_vm_removed(const char *);

/* Free a snapshot list from workflow_list(). */
void	snapinfo_free_list(Evg__Snapshot **, size_t);

#endif
