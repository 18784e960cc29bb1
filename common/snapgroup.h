/*
 * Snapshot groups as the CLIs show them.  One create over several volumes
 * freezes them at one instant and makes one group: one name, one group
 * UUID, a member snapshot per volume.  The host sends the members as a
 * flat list (each with group_uuid and group_size); this folds such a list
 * back into groups, so that both CLIs show a group as one row.
 *
 * A snapshot from a host that predates groups (group_uuid empty) is a
 * group of one whose UUID is its own.  A group with fewer members listed
 * than it was made with (one deleted on its own, or lost) is partial.
 *
 * The UUID a group is shown by is its group UUID, but for a group made
 * with one member it is that member's own: a group of one reads as the
 * single snapshot it is (the UUID in its backend's tag, the one older
 * tools and scripts know), and the host takes either for the group.
 *
 * Ownership: snapgroup_fold() returns a set the caller frees with
 * snapgroup_free().  The set borrows the snapshots and their strings: the
 * list folded (normally the SnapshotList of an unpacked reply) must
 * outlive the set, and its owner frees it after snapgroup_free().
 */
#ifndef EVG_SNAPGROUP_H
#define EVG_SNAPGROUP_H

#include <stddef.h>
#include <stdint.h>

#include "evg.pb-c.h"

struct snapgroup {
	const char		 *group_uuid;	/* the members', or the member's */
	const char		 *uuid;		/* shown: see above */
	const char		 *name;		/* the first member's */
	uint64_t		  created;	/* the earliest member's */
	uint64_t		  size_bytes;	/* the members' sum */
	uint32_t		  size;		/* members it was made with */
	int			  partial;	/* fewer listed than size */
	/* "ready" when every member is; else the worst member's. */
	const char		 *state;
	const char		 *consistency;	/* the weakest member's */
	const char		 *origin;	/* the first member's */
	const Evg__Snapshot	**members;	/* in the list's order */
	size_t			  nmembers;
};

struct snapgroups {
	struct snapgroup	*groups;	/* by created, then name */
	size_t			 n;
};

/*
 * Fold n snapshots into groups; the order of groups is by creation time,
 * then name, then first appearance in the list.  Never fails.
 */
struct snapgroups	*snapgroup_fold(Evg__Snapshot *const *, size_t);
/* Free what snapgroup_fold() made (not the snapshots); NULL is fine. */
void			 snapgroup_free(struct snapgroups *);
/*
 * The group key names: the group whose UUID (either) or one of whose
 * members' UUID it is (at most one), else a group with that name.  *nmatch is how many
 * groups match (a name may be used by groups of different volumes).
 * Returns the first match, or NULL with *nmatch 0.
 */
const struct snapgroup	*snapgroup_find(const struct snapgroups *,
			    const char *, size_t *);
/* The member of g whose own UUID is uuid, or NULL. */
const Evg__Snapshot	*snapgroup_member(const struct snapgroup *,
			    const char *);

#endif
