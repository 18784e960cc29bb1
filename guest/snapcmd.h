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
	const char	*swaps;		/* NULL: /proc/swaps */
};

/* snapshot create DISK [--name NAME] (name NULL: the host picks one). */
int	snapcmd_create(const struct snapcmd_config *, const char *,
	    const char *);
/* snapshot list [DISK] (disk NULL: every snapshot of this VM). */
int	snapcmd_list(const struct snapcmd_config *, const char *);
/* snapshot delete UUID */
int	snapcmd_delete(const struct snapcmd_config *, const char *);
/* snapshot rollback NAME-OR-UUID DISK */
int	snapcmd_rollback(const struct snapcmd_config *, const char *,
	    const char *);
/* snapshot check DISK */
int	snapcmd_check(const struct snapcmd_config *, const char *);

#endif
