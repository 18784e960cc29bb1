/*
 * Internals shared by the files of the snapshot commands: snapcmd.c (DISK
 * arguments resolved, the call to the host, groups shown with this VM's
 * disks) and one file per command (snapcmd_create.c, snapcmd_list.c,
 * snapcmd_delete.c, snapcmd_rollback.c, snapcmd_check.c).  Not for other
 * modules: they use snapcmd.h.
 *
 * Ownership: what snapcmd_resolve() and snapcmd_resolve_all() fill in is
 * the caller's, freed with snapcmd_disk_free() and snapcmd_disks_free()
 * (a zeroed one is fine); so is a snapcmd_list, freed with
 * snapcmd_list_free().  A reply from snapcmd_call() is the caller's to
 * free with codec_free(), or to hand to snapcmd_fail(), which frees it and
 * the cause.  Every other char **cause set here is the caller's to free.
 */
#ifndef EVG_SNAPCMD_IMPL_H
#define EVG_SNAPCMD_IMPL_H

#include <sys/types.h>

#include <stddef.h>

#include "disk.h"
#include "evg.pb-c.h"
#include "freeze.h"
#include "snapcmd.h"
#include "snapgroup.h"

struct json_object;

/* Answered from the host's catalog or a free-space probe. */
#define SNAPCMD_QUICK_MS	(60 * 1000)
/* Backend work: the host may take long, but never silent this long. */
#define SNAPCMD_OP_MS		(15 * 60 * 1000)

/* A DISK argument resolved to whole disks and their wire references. */
struct snapcmd_disk {
	const char	 *arg;
	dev_t		  rdev;		/* the device node's */
	struct disk	 *disks;
	size_t		  n;
	Evg__DiskRef	**refs;
};

/*
 * The DISK arguments of one command, each resolved; refs holds every
 * whole disk of every argument (borrowed from d[]), as the request sends
 * them.
 */
struct snapcmd_disks {
	struct snapcmd_disk	 d[SNAPCMD_MAX_DISKS];
	size_t			 n;
	Evg__DiskRef		*refs[SNAPCMD_MAX_DISKS];
	size_t			 nrefs;
};

/* DISK arguments: one, or all of a command's (no repeats, group's limit). */
int		 snapcmd_resolve(const char *, struct snapcmd_disk *, char **);
void		 snapcmd_disk_free(struct snapcmd_disk *);
int		 snapcmd_resolve_all(char *const *, size_t,
		    struct snapcmd_disks *, char **);
void		 snapcmd_disks_free(struct snapcmd_disks *);

/* Freeze plans: a predicate over one argument's disks, and the plan. */
int		 snapcmd_holds(unsigned int, unsigned int, void *);
int		 snapcmd_plan(const struct snapcmd_config *, freeze_holds_cb,
		    void *, struct freeze_plan **, char **);

/* The host: one call, a failure printed, the snapshot list of a reply. */
Evg__Envelope	*snapcmd_call(const struct snapcmd_config *, Evg__Envelope *,
		    int, int *, char **);
/*
 * snapcmd_call() for a request that may have this process freeze (create):
 * the freeze takes the disks of the set as resolved, without reading
 * sysfs for them again.
 */
Evg__Envelope	*snapcmd_call_disks(const struct snapcmd_config *,
		    Evg__Envelope *, int, const struct snapcmd_disks *, int *,
		    char **);
int		 snapcmd_fail(int, char *, Evg__Envelope *);
const Evg__SnapshotList *snapcmd_snapshots(const Evg__Envelope *);

/*
 * This VM's snapshots, all of them, asked for page by page: snaps points
 * into the replies kept in reps.  Returns a status code with *cause when
 * it is not OK (nothing is then held).  Free with snapcmd_list_free().
 */
struct snapcmd_list {
	Evg__Envelope	**reps;
	size_t		  nreps;
	Evg__Snapshot	**snaps;
	size_t		  n;
};
int		 snapcmd_list_all(const struct snapcmd_config *,
		    struct snapcmd_list *, char **);
void		 snapcmd_list_free(struct snapcmd_list *);

/*
 * Snapshots and groups named by this VM's devices, found in sysfs.  The
 * _in() forms look first among the disks a command resolved (a set, or
 * NULL): the disk of set that matches a snapshot best (first by kernel
 * name among equals) names it, and only one none matches is looked for in
 * sysfs.  The group a create just made is on its own DISKs, which were
 * read from sysfs already.
 */
const char	*snapcmd_device(const Evg__Snapshot *, char *, size_t,
		    const char *);
const char	*snapcmd_device_in(const Evg__Snapshot *,
		    const struct snapcmd_disks *, char *, size_t, const char *);
char		**snapcmd_devs(const struct snapgroup *, const char *);
char		**snapcmd_devs_in(const struct snapgroup *, const char *,
		    const struct snapcmd_disks *);
void		 snapcmd_devs_free(char **, size_t);
struct json_object *snapcmd_group_json(const struct snapgroup *,
		    const char *);
struct json_object *snapcmd_group_json_in(const struct snapgroup *,
		    const char *, const struct snapcmd_disks *);

#endif
