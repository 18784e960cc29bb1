/*
 * Internals shared by the workflow files: wf_engine.c (the lifecycle every
 * operation shares), one file per kind (wf_create.c, wf_check.c,
 * wf_delete.c, wf_rollback.c, wf_reconcile.c), the host side of the freeze
 * protocol (wf_freeze.c), the guest's hooks as a step (wf_hooks.c) and
 * disk matching (wf_disks.c).  Not for other modules: they use
 * workflow.h.
 */
#ifndef EVG_WORKFLOW_IMPL_H
#define EVG_WORKFLOW_IMPL_H

#include <sys/queue.h>

#include <time.h>

#include "backend.h"
#include "catalog.h"
#include "guestlink.h"
#include "uuidx.h"
#include "workflow.h"

enum wf_kind {
	WF_CREATE,
	WF_DELETE,
	WF_ROLLBACK,
	WF_RECONCILE,
	WF_CHECK,	/* pre-flight: holds no lock, counts in no limit */
};

/* Each kind's own states (struct workflow.st), in the order they run. */
enum wf_create_state {
	CREATE_SPACE,		/* checking free space, volume i */
	CREATE_PRE,		/* app: the guest runs its pre hooks */
	CREATE_PREPARE,		/* intents written; volume 0's op prepares */
	CREATE_FREEZE,		/* the freeze protocol: see struct wf_freeze */
	CREATE_BACKEND,		/* backend snapshots volume i */
	CREATE_THAW,		/* the freeze protocol: thaw and verify */
	CREATE_POST,		/* app: post hooks (abort hooks on failure) */
	CREATE_CLEANUP,		/* failed: deleting what the backend made */
};

enum wf_check_state {
	CHECK_SPACE,		/* checking free space, volume i */
};

enum wf_delete_state {
	DELETE_INTENT,		/* marked deleting in the catalog */
	DELETE_BACKEND,		/* the backend deletes it */
};

enum wf_rollback_state {
	ROLLBACK_PRE,		/* running VM: the guest's pre hooks */
	ROLLBACK_RELEASE,	/* may it go online: is the disk free there? */
	ROLLBACK_BACKEND,	/* the backend reverts the volume */
	/* Online (wf_online.c): */
	ROLLBACK_ONLINE_QUERY,	/* query-block: the drive and its device */
	ROLLBACK_ONLINE_PROPS,	/* qom-get: the device's properties */
	ROLLBACK_ONLINE_UNPLUG,	/* device_del, waiting for DEVICE_DELETED */
	ROLLBACK_ONLINE_DRIVE,	/* the drive gone with it, or drive_del */
	ROLLBACK_ONLINE_REVERT,	/* qemu-img reverts the detached image */
	ROLLBACK_ONLINE_READD,	/* drive_add, device_add, query-block */
};

/* An online rollback's state (wf_online.c); all owned. */
struct wf_online {
	struct qmp		*q;		/* the command in flight */
	char			*drive;		/* drive id */
	char			*device;	/* device id */
	char			*file;
	char			*format;
	char			*cache;		/* -drive cache= mode */
	char			*detect_zeroes;	/* NULL: off */
	int			 readonly;
	char			*driver;	/* qom type */
	char			*bus;		/* qom parent_bus path */
	int			 addr;		/* devfn */
	char			*serial;	/* may be NULL or empty */
	size_t			 nprops;	/* properties read so far */
	char			*drive_opts;	/* for drive_add */
	json_object		*dev_args;	/* for device_add */
	int			 detached;	/* REVERT: QEMU holds nothing */
	int			 reverted;
	int			 no_revert;	/* re-add as it was: undone */
	int			 recovering;	/* from the record, at start */
	char			 snap[UUID_STR_LEN + 1];	/* its UUID */
	char			 vol[UUID_STR_LEN + 1];		/* volume UUID */
	int			 bootindex;	/* -1: none */
	int			 num_queues;	/* 0: unknown */
	char			*write_cache;	/* "auto", "on", "off"; NULL */
	char			*iothread;	/* path, or NULL/empty */
	struct timespec		 t_start;	/* CLOCK_MONOTONIC */
	struct timespec		 t_detached;
	int			 fail_code;	/* after the unplug: first one */
	char			*fail_msg;
};

enum wf_reconcile_state {
	RECONCILE_LIST,		/* listing volume i */
	RECONCILE_REDELETE,	/* finishing an interrupted delete */
};

/*
 * The host side of the freeze protocol (wf_freeze.c), in a create.  The
 * lease is renewed only while HELD.
 */
enum wf_freeze_state {
	FREEZE_NONE,		/* nothing asked of the guest yet */
	FREEZE_FREEZING,	/* freeze asked; the reply says what froze */
	FREEZE_HELD,		/* frozen; the lease is renewed */
	FREEZE_THAWING,		/* thaw asked; the reply says nothing is */
	FREEZE_FAIL_THAWING,	/* failure thaw asked */
	FREEZE_OVER,		/* thawed, or nothing left to thaw */
};

struct wf_freeze {
	enum wf_freeze_state	 state;
	struct event		*renew;		/* lease renewal timer */
	int			 frozen;	/* the guest may hold a freeze */
	int			 lease_lost;
	unsigned int		 frozen_count;
	uint32_t		 freeze_ms;
	struct cat_snap		*record;	/* mounts of the record */
};

/*
 * Naming a group (wf_group.c).  What a delete or rollback request names:
 * snap is a group UUID, a group name (unique, or made so by volumes) or a
 * member's UUID (alone only in a group of one, or with volumes, or with
 * member set: that member only).  volumes (n, may be 0) keep only the
 * members on them, each of which must be one.  Fills out (entries
 * borrowed from the catalog) or returns a code with *cause.
 */
struct wf_members {
	char		 group[UUID_STR_LEN + 1];
	struct cat_snap	*m[CATALOG_GROUP_MAX];	/* the chosen members */
	size_t		 n;
	size_t		 listed;	/* members the catalog lists */
};
/* Each kind's state type: its state and what only it keeps. */
struct wf_create {
	enum wf_create_state	 state;
	char			*consistency;	/* asked for; NULL: guest's */
	char			*origin;
	char			**done;		/* UUIDs the backend made */
	size_t			 ndone;
	/* The intent of each volume (nvols UUIDs), written before freezing. */
	char			**intent;
	int			 prepared;	/* op is volume 0's, not gone */
	int			 prep_code;	/* it failed while freezing */
	char			*prep_msg;
	struct wf_freeze	 fz;		/* with a guest */
	int			 app;		/* run the guest's hooks */
	int			 pre_ok;	/* pre ran: post must run */
	int			 post_done;
	char			*post_failed;	/* post hooks' failure */
	char			*idem_key;
	char			 group[UUID_STR_LEN + 1]; /* its members' */
	int			 fail_code;	/* CLEANUP: what to report */
	char			*fail_msg;
};

struct wf_check {
	enum wf_check_state	 state;
};

struct wf_delete {
	enum wf_delete_state	 state;
};

struct wf_rollback {
	enum wf_rollback_state	 state;
	int			 online;	/* wf_online.c's */
	int			 ask;		/* RELEASE: 2, online or refuse */
	struct wf_online	 ol;
	int			 scheduled;	/* the VM's pending one */
	char			*failed;	/* the first member's failure */
	int			 fail_code;
};

struct wf_reconcile {
	enum wf_reconcile_state	 state;
};

struct wf_vm {
	char			 uuid[UUID_STR_LEN + 1];
	struct catalog		*cat;
	struct workflow		*active;
	/*
	 * A `starting` call waiting for the VM's images (wf_lifecycle.c):
	 * called back once nothing holds them; start_code/start_msg carry
	 * the scheduled rollback's failure meanwhile (start_msg owned).
	 */
	workflow_done_cb	 start_cb;
	void			*start_arg;
	int			 start_code;
	char			*start_msg;
	int			 removed;	/* going: start nothing */
	/*
	 * The catalog's online record was looked at (once after loading;
	 * again from the retry timer while an unplug is pending).
	 */
	int			 online_checked;
	TAILQ_ENTRY(wf_vm)	 entry;
};

struct workflow {
	enum wf_kind		 kind;
	struct wf_vm		*wv;
	char			**vols;		/* volume UUIDs to work on */
	size_t			 nvols;
	size_t			 i;
	char			*name;
	char			 target[UUID_STR_LEN + 1];
	struct cat_snap		*cur;		/* entry being worked on */
	struct backend_op	*op;
	workflow_done_cb	 cb;
	workflow_check_cb	 check_cb;
	void			*arg;

	/* The guest (create with a guest, rollback's pre hooks). */
	uint64_t		 guest;		/* session serial, 0: none */
	Evg__DiskRef		**disks;	/* owned copies */
	size_t			 ndisks;
	uint32_t		 hook_timeout_ms;
	uint64_t		 free_bytes;	/* SPACE: the tightest volume */
	uint64_t		 need_bytes;
	uint64_t		 budget_need;	/* SPACE: volumes 0..i summed */

	/* Delete, rollback: the group's members worked on, member i now. */
	struct wf_members	 mem;
	Evg__Snapshot		**out;		/* the reply's, in order */
	size_t			 nout;

	/* Each kind's own state; only its kind's is used. */
	struct wf_create	 cr;
	struct wf_check		 ck;
	struct wf_delete	 dl;
	struct wf_rollback	 rb;
	struct wf_reconcile	 rc;

	TAILQ_ENTRY(workflow)	 entry;
};

struct wf_globals {
	struct event_base	*base;
	struct config		*cf;
	struct registry		*reg;
	const struct guest_link	*link;
	char			*catdir;
	unsigned int		 running;
	unsigned int		 reconciling;	/* catalog checks running */
	struct event		*retry;		/* unfinished entries timer */
	int			 shutting_down;
	/* Set by wf_begin() when its BUSY is the VM's lock or the slots. */
	int			 lock_busy;
	TAILQ_HEAD(, wf_vm)	 vms;
	struct uuidx		 vms_by_uuid;	/* the same, by VM UUID */
	TAILQ_HEAD(, workflow)	 all;
};

extern struct wf_globals wf_g;
extern const char *wf_kind_names[];

/* The workflow's state in its kind's state type, as a number (logs). */
int		 wf_state_value(const struct workflow *);

struct wf_vm	*wf_vm_get(const char *, char **);
struct wf_vm	*wf_vm_find(const char *);
const struct reg_volume *wf_volume(const struct reg_vm *, const char *);
Evg__Snapshot	*snapinfo_from_cat(const struct cat_snap *,
		    const struct reg_vm *);
int		 wf_begin(const char *, enum wf_kind, struct wf_vm **,
		    struct reg_vm **, char **);
struct workflow	*wf_new(enum wf_kind, struct wf_vm *, workflow_done_cb,
		    void *);
void		 wf_finish(struct workflow *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
int		 wf_commit(struct workflow *);
void		 wf_release(struct workflow *);
void		 wf_event(struct workflow *, const char *, int, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
void		 wf_backend(struct workflow *, enum backend_verb,
		    const struct reg_volume *, const char *, backend_cb);
/*
 * The kinds' own starts (workflow_create() and the others queue them, in
 * wf_queue.c); their contract is workflow.h's.
 */
int		 wf_create_start(const struct workflow_params *,
		    workflow_done_cb, void *, char **);
int		 wf_delete_start(const struct workflow_params *,
		    workflow_done_cb, void *, char **);
int		 wf_rollback_start(const struct workflow_params *,
		    workflow_done_cb, void *, char **);
/* The queue (wf_queue.c): look again, forget an owner, a VM, everything. */
void		 wf_queue_kick(void);
void		 wf_queue_forget(void *);
void		 wf_queue_vm_removed(const char *);
void		 wf_queue_shutdown(void);
/* A create of a volume that waits for backend_go(wf->op); see backend.h. */
void		 wf_backend_prepare(struct workflow *,
		    const struct reg_volume *, const char *, backend_ready_cb,
		    backend_cb);
/* Finish after a failed catalog write (errno as it left it); frees cause. */
void		 wf_commit_failed(struct workflow *, char *);
/*
 * Naming a group (wf_group.c): see struct wf_members above.
 */
int		 wf_resolve_group(struct wf_vm *, const struct reg_vm *,
		    const char *, const char *const *, size_t, int,
		    struct wf_members *, char **);
/* True if one of the n members is on the volume. */
int		 wf_group_has_member(struct cat_snap *const *, size_t,
		    const char *);
void		 snapinfo_free(Evg__Snapshot *);
/* Add an entry (its state replaced when given) to the reply's list. */
void		 wf_out_add(struct workflow *, const struct cat_snap *,
		    const char *);
/* The workflow's guest (wf_engine.c): connected?  Send (0 or GUEST_REQ_*). */
int		 wf_guest(struct workflow *);
int		 wf_send(struct workflow *, Evg__Envelope *, guest_reply_cb);
int		 wf_send_within(struct workflow *, Evg__Envelope *, unsigned int,
		    guest_reply_cb);

/* Disks (wf_disks.c). */
Evg__DiskRef	*wf_volume_disk(const struct reg_volume *);
Evg__DiskRef	*wf_copy_disk(const Evg__DiskRef *);

/* The guest's hooks (wf_hooks.c). */
int		 wf_hook(struct workflow *, const char *, guest_reply_cb);
int		 wf_hook_outcome(const Evg__Envelope *, const char *, int *,
		    char **);
int		 wf_hooks_any_ok(const Evg__Envelope *);

/* The freeze protocol (wf_freeze.c). */
void		 wf_freeze(struct workflow *);
void		 wf_thaw(struct workflow *);
/*
 * The thaw request sent, or -1 (lease lost, guest gone) with nothing
 * reported: wf_thaw() is the same and then fails the workflow.
 */
int		 wf_thaw_send(struct workflow *);
int		 wf_freeze_abort(struct workflow *);

/* Create (wf_create.c): where the freeze protocol hands back. */
void		 wf_create_frozen(struct workflow *);
/*
 * Volume 0's prepared snapshot started at once, before the freeze's
 * bookkeeping: 0 when it went (nothing has called back yet, the workflow
 * is as it was), -1 when wf_create_frozen() has to take the long way
 * (its intent could not be made durable: recorded for it to report).
 */
int		 wf_create_go(struct workflow *);
void		 wf_create_thawed(struct workflow *);
void		 wf_space_next(struct workflow *);
void		 wf_snap_next(struct workflow *);
void		 wf_fail(struct workflow *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
void		 wf_fail_abort_hooks(struct workflow *);
void		 wf_freeze_lost(struct workflow *, int, const char *);

/* Check (wf_check.c). */
void		 wf_check_finish(struct workflow *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* Rollback (wf_rollback.c): a scheduled one goes first when free. */
void		 wf_run_pending(struct wf_vm *);
/*
 * The rollback wf cannot go online, for why: with --online (rb.ask 2)
 * it fails so; else the event rollback-online-refused says why, and it is
 * scheduled (the guest daemon's pre hooks first, if it has one).
 */
void		 wf_rollback_not_online(struct workflow *, const char *);
/*
 * Online rollback (wf_online.c): why mem (or the volumes) of wv cannot be
 * rolled back online now (NULL: it can; an online record still in its
 * catalog is a reason); run it (the reply as a rollback's); finish or
 * undo the one a dead daemon left in the catalog's record (0: none).
 */
const char	*wf_online_refusal(const struct wf_vm *,
		    const struct reg_vm *, const struct wf_members *);
const char	*wf_online_volumes_refusal(const struct wf_vm *,
		    const struct reg_vm *, char *const *, size_t);
void		 wf_online_run(struct wf_vm *, const struct wf_members *,
		    workflow_done_cb, void *);
/* The same, in a rollback workflow that has its members (the guest said
 * they are free). */
void		 wf_online_begin(struct workflow *);
int		 wf_online_recover(struct wf_vm *);
void		 wf_online_free(struct wf_online *);
/*
 * Nothing runs on the VM and no rollback is left to run: answer a waiting
 * `starting` call (wf_lifecycle.c).
 */
void		 wf_settled(struct wf_vm *);
/* A scheduled rollback ended with code/msg: tell a waiting `starting`. */
void		 wf_starting_outcome(struct wf_vm *, int, const char *);

#endif
