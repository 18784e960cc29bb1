/*
 * Internals shared by the workflow files (workflow.c: lifecycle, delete,
 * rollback, list, reconcile; wf_create.c: create and check with the guest
 * freeze).  Not for other modules: they use workflow.h.
 */
#ifndef EVG_WORKFLOW_IMPL_H
#define EVG_WORKFLOW_IMPL_H

#include <sys/queue.h>

#include "backend.h"
#include "catalog.h"
#include "guestlink.h"
#include "workflow.h"

enum wf_kind {
	WF_CREATE,
	WF_DELETE,
	WF_ROLLBACK,
	WF_RECONCILE,
	WF_CHECK,	/* pre-flight: holds no lock, counts in no limit */
};

enum wf_state {
	WF_SPACE,	/* create, check: checking free space, volume i */
	WF_PRE,		/* create (app): the guest runs its pre hooks */
	WF_FREEZE,	/* create: asking the guest to freeze */
	WF_VERIFY,	/* create: asking the guest for its freeze state */
	WF_BACKEND,	/* a backend op is running for volume i */
	WF_THAW,	/* create: asking the guest to thaw */
	WF_POST,	/* create (app): the guest runs its post hooks */
	WF_CLEANUP,	/* create failed: deleting what the backend made */
	WF_LIST,	/* reconcile: listing volume i */
	WF_REDELETE,	/* reconcile: finishing an interrupted delete */
	WF_DONE,
};

struct wf_vm {
	char			 uuid[UUID_STR_LEN + 1];
	struct catalog		*cat;
	struct workflow		*active;
	TAILQ_ENTRY(wf_vm)	 entry;
};

struct workflow {
	enum wf_kind		 kind;
	enum wf_state		 state;
	struct wf_vm		*wv;
	char			**vols;		/* volume UUIDs to work on */
	size_t			 nvols;
	size_t			 i;
	char			*name;
	char			*consistency;	/* asked for; NULL: guest's */
	char			*origin;
	char			 target[UUID_STR_LEN + 1];
	struct cat_snap		*cur;		/* entry being worked on */
	struct backend_op	*op;
	char			**done;		/* UUIDs the backend made */
	size_t			 ndone;
	Evg__Snapshot		*gone;		/* delete: what was deleted */
	workflow_done_cb	 cb;
	workflow_check_cb	 check_cb;
	void			*arg;

	/* The guest freeze (create with a guest). */
	uint64_t		 guest;		/* session serial, 0: none */
	Evg__DiskRef		**disks;	/* owned copies */
	size_t			 ndisks;
	struct event		*renew;
	int			 frozen;	/* the guest may hold a freeze */
	int			 lease_lost;
	unsigned int		 frozen_count;
	uint32_t		 freeze_ms;
	struct cat_snap		*record;	/* mounts of the record */
	int			 app;		/* run the guest's hooks */
	int			 pre_ok;	/* pre ran: post must run */
	int			 post_done;
	char			*post_failed;	/* post hooks' failure */
	uint32_t		 hook_timeout_ms;
	char			*idem_key;
	int			 fail_code;	/* CLEANUP: what to report */
	char			*fail_msg;
	uint64_t		 free_bytes;	/* check: the tightest volume */
	uint64_t		 need_bytes;

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
	TAILQ_HEAD(, wf_vm)	 vms;
	TAILQ_HEAD(, workflow)	 all;
};

extern struct wf_globals wf_g;
extern const char *wf_kind_names[];

struct wf_vm	*wf_vm_get(const char *, char **);
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
/* Guest steps shared by create and rollback (wf_create.c). */
int		 wf_guest(struct workflow *);
Evg__DiskRef	*wf_volume_disk(const struct reg_volume *);
int		 wf_hook(struct workflow *, const char *, guest_reply_cb);
int		 wf_hook_outcome(const Evg__Envelope *, const char *, int *,
		    char **);
void		 wf_event(struct workflow *, const char *, int, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
void		 wf_check_finish(struct workflow *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
void		 wf_backend(struct workflow *, enum backend_verb,
		    const struct reg_volume *, const char *, backend_cb);

#endif
