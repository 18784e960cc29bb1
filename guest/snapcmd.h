/*
 * The `snapshot` commands of eve-guest-agent: create, list, delete,
 * rollback and check.  agent.c parses the command line; these do the work
 * and print the result (text, or --json as output.c is set up) and return
 * the process exit code: 0, status_exit_code() of a failure, or
 * EXIT_UNREACHABLE.  A DISK argument that is not a block device here is
 * INVALID_ARGUMENT; a disk the host does not know is the host's NOT_FOUND.
 *
 * Every command runs over call.c, so that whatever the host asks meanwhile
 * (freeze and thaw during a create, pings) is served.
 */
#ifndef EVG_SNAPCMD_H
#define EVG_SNAPCMD_H

#include "transport.h"

struct snapcmd_config {
	struct evg_addr	 addr;		/* where the host listens */
	const char	*software;	/* sent in Hello */
	const char	*mountinfo;	/* NULL: /proc/self/mountinfo */
};

/* Most DISK arguments, and whole disks, of one group (the host's limit). */
#define SNAPCMD_MAX_DISKS	32

/*
 * snapshot create DISK [DISK...] [--name NAME]: one group of the volumes
 * behind the disks (name NULL: the host picks one).  The same disk given
 * twice (the same device, or disks under one argument that another has
 * too) is INVALID_ARGUMENT before the host is asked.
 */
int	snapcmd_create(const struct snapcmd_config *, char *const *, size_t,
	    const char *);
/* snapshot list [DISK] (disk NULL: every group of this VM). */
int	snapcmd_list(const struct snapcmd_config *, const char *);
/* snapshot delete UUID [--member] (member: only that member). */
int	snapcmd_delete(const struct snapcmd_config *, const char *, int);
/*
 * snapshot rollback NAME-OR-UUID [DISK...]: without disks the whole group,
 * each member's disk found here and refused while in use; with disks,
 * only the members on them (a subset, said so).
 */
int	snapcmd_rollback(const struct snapcmd_config *, const char *,
	    char *const *, size_t);
/* snapshot check DISK [DISK...]: the joint freeze plan and the verdict. */
int	snapcmd_check(const struct snapcmd_config *, char *const *, size_t);

#endif
