/* Folding a flat snapshot list into snapshot groups; see snapgroup.h. */
#include <stdlib.h>
#include <string.h>

#include "snapgroup.h"
#include "strhash.h"
#include "xmalloc.h"

/* How bad a member's state is for its group: 0 nothing to say. */
static int
snapgroup_state_rank(const char *state)
{
	static const char	*worst[] = { "creating", "deleting", "missing" };
	size_t			 i;

	if (*state == '\0' || strcmp(state, "ready") == 0)
		return (0);
	for (i = 0; i < sizeof worst / sizeof worst[0]; i++) {
		if (strcmp(state, worst[i]) == 0)
			return (2 + (int)i);
	}
	/* Another state (rollback-scheduled in a rollback's answer). */
	return (1);
}

/*
 * How strong a consistency level is: an unknown one counts as the
 * weakest, so that a group never claims more than a member has.
 */
static int
snapgroup_level_rank(const char *level)
{
	if (strcmp(level, "app") == 0)
		return (3);
	if (strcmp(level, "fs") == 0)
		return (2);
	if (strcmp(level, "crash") == 0)
		return (1);
	return (0);
}

/* The key a snapshot is grouped by. */
static const char *
snapgroup_key(const Evg__Snapshot *s)
{
	return (*s->group_uuid != '\0' ? s->group_uuid : s->uuid);
}

/* Start group g with its first member s. */
static void
snapgroup_start(struct snapgroup *g, const Evg__Snapshot *s)
{
	memset(g, 0, sizeof *g);
	g->group_uuid = snapgroup_key(s);
	g->name = s->name;
	g->created = s->created;
	g->size = s->group_size != 0 ? s->group_size : 1;
	g->state = s->state;
	g->consistency = s->consistency;
	g->origin = s->origin;
}

/* Add member s to g (its first one included). */
static void
snapgroup_add(struct snapgroup *g, const Evg__Snapshot *s)
{
	g->members = xreallocarray(g->members, g->nmembers + 1,
	    sizeof *g->members);
	g->members[g->nmembers++] = s;
	g->size_bytes += s->size_bytes;
	if (s->created < g->created)
		g->created = s->created;
	/* Members agree on the size; a larger one is the better guess. */
	if (s->group_size > g->size)
		g->size = s->group_size;
	if (snapgroup_state_rank(s->state) > snapgroup_state_rank(g->state))
		g->state = s->state;
	if (snapgroup_level_rank(s->consistency) <
	    snapgroup_level_rank(g->consistency))
		g->consistency = s->consistency;
}

/* True if group a sorts after b: later, or as old with a later name. */
static int
snapgroup_after(const struct snapgroup *a, const struct snapgroup *b)
{
	if (a->created != b->created)
		return (a->created > b->created);
	return (strcmp(a->name, b->name) > 0);
}

/*
 * Sort by created, then name, keeping the list's order among equals.  An
 * insertion sort: stable, and next to linear on a host's list, which is
 * in catalog order, mostly oldest first already.
 */
static void
snapgroup_sort(struct snapgroup *groups, size_t n)
{
	struct snapgroup	g;
	size_t			i, j;

	for (i = 1; i < n; i++) {
		g = groups[i];
		for (j = i; j > 0 && snapgroup_after(&groups[j - 1], &g); j--)
			groups[j] = groups[j - 1];
		groups[j] = g;
	}
}

/* Fold a list into groups; see snapgroup.h. */
struct snapgroups *
snapgroup_fold(Evg__Snapshot *const *snaps, size_t n)
{
	struct snapgroups	*set;
	struct snapgroup	*g;
	const char		*key;
	size_t			*slot, mask, h, i;

	set = xcalloc(1, sizeof *set);
	if (n == 0)
		return (set);
	set->groups = xcalloc(n, sizeof *set->groups);
	/* Groups by key, hashed: 10,000 snapshots fold in linear time. */
	mask = strhash_mask(n);
	slot = xcalloc(mask + 1, sizeof *slot);
	for (i = 0; i < n; i++) {
		key = snapgroup_key(snaps[i]);
		for (h = strhash(key, 0) & mask; slot[h] != 0; h = (h + 1) &
		    mask)
			if (strcmp(set->groups[slot[h] - 1].group_uuid, key) == 0)
				break;
		if (slot[h] == 0) {
			snapgroup_start(&set->groups[set->n], snaps[i]);
			slot[h] = ++set->n;
		}
		snapgroup_add(&set->groups[slot[h] - 1], snaps[i]);
	}
	free(slot);
	for (i = 0; i < set->n; i++) {
		g = &set->groups[i];
		g->partial = g->nmembers < g->size;
		g->uuid = g->size == 1 && g->nmembers == 1 ?
		    g->members[0]->uuid : g->group_uuid;
	}
	snapgroup_sort(set->groups, set->n);
	return (set);
}

/* Free a set; see snapgroup.h. */
void
snapgroup_free(struct snapgroups *set)
{
	size_t	i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		free(set->groups[i].members);
	free(set->groups);
	free(set);
}

/* The member of g with this UUID; see snapgroup.h. */
const Evg__Snapshot *
snapgroup_member(const struct snapgroup *g, const char *uuid)
{
	size_t	i;

	for (i = 0; i < g->nmembers; i++) {
		if (strcmp(g->members[i]->uuid, uuid) == 0)
			return (g->members[i]);
	}
	return (NULL);
}

/* Find a group by UUID, a member's UUID or name; see snapgroup.h. */
const struct snapgroup *
snapgroup_find(const struct snapgroups *set, const char *key, size_t *nmatch)
{
	const struct snapgroup	*first = NULL;
	size_t			 i;

	*nmatch = 0;
	for (i = 0; i < set->n; i++) {
		if (strcmp(set->groups[i].group_uuid, key) == 0 ||
		    strcmp(set->groups[i].uuid, key) == 0 ||
		    snapgroup_member(&set->groups[i], key) != NULL) {
			*nmatch = 1;
			return (&set->groups[i]);
		}
	}
	for (i = 0; i < set->n; i++) {
		if (strcmp(set->groups[i].name, key) != 0)
			continue;
		if (first == NULL)
			first = &set->groups[i];
		(*nmatch)++;
	}
	return (first);
}
