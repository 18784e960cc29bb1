/*
 * snapshot list [DISK]: this VM's snapshot groups, one row per group (or
 * the groups with a member on DISK), each member named by its disk here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "codec.h"
#include "disk.h"
#include "diskref.h"
#include "jsonout.h"
#include "output.h"
#include "snapcmd_impl.h"
#include "snapgroup.h"
#include "status.h"
#include "xmalloc.h"

/* True if the snapshot's identifiers name one of the argument's disks. */
static int
snapcmd_on_disk(const Evg__Snapshot *s, const struct snapcmd_disk *d)
{
	struct disk_id	ids[DISK_MAX_IDS];
	size_t		nids, i;

	nids = diskref_ids(s->disk_ids, s->n_disk_ids, ids);
	for (i = 0; i < d->n; i++) {
		if (nids != 0 && disk_match(&d->disks[i], ids, nids) > 0)
			return (1);
	}
	return (0);
}

/* True if a member of g is on one of the argument's disks. */
static int
snapcmd_group_on_disk(const struct snapgroup *g, const struct snapcmd_disk *d)
{
	size_t	i;

	for (i = 0; i < g->nmembers; i++) {
		if (snapcmd_on_disk(g->members[i], d))
			return (1);
	}
	return (0);
}

/* The groups table of `snapshot list`: one row per group. */
static void
snapcmd_list_text(const struct snapgroup *const *groups, size_t n)
{
	const struct snapgroup	*g;
	char			 t[32], size[32], name[256], uuid[64];
	char			*disks, **devs;
	size_t			 i;
	int			 w = 4;

	if (n == 0) {
		printf("no snapshots\n");
		return;
	}
	for (i = 0; i < n; i++) {
		if ((int)strlen(groups[i]->name) > w)
			w = (int)strlen(groups[i]->name);
	}
	if (w > 40)
		w = 40;
	printf("%-19s  %-*s  %-36s  %10s  %s\n", "DATE TIME (UTC)", w, "NAME",
	    "UUID", "SIZE", "DISKS");
	for (i = 0; i < n; i++) {
		g = groups[i];
		devs = snapcmd_devs(g, NULL);
		disks = output_join(devs, g->nmembers, ",");
		printf("%-19s  %-*s  %-36s  %10s  %s", output_time(t, sizeof t,
		    g->created), w, output_safe(name, sizeof name, g->name),
		    output_safe(uuid, sizeof uuid, g->uuid), jsonout_size(size,
		    sizeof size, g->size_bytes), disks);
		if (g->partial)
			printf("  (partial: %zu of %u disks)", g->nmembers,
			    g->size);
		printf("\n");
		free(disks);
		snapcmd_devs_free(devs, g->nmembers);
	}
}

/* snapshot list; see snapcmd.h. */
int
snapcmd_list(const struct snapcmd_config *conf, const char *arg)
{
	struct snapcmd_list		 all;
	const struct snapgroup		**keep;
	struct snapgroups		*set;
	struct snapcmd_disk		 d;
	struct json_object		*doc, *arr;
	char				*cause = NULL;
	size_t				 i, n = 0;
	int				 code;

	memset(&d, 0, sizeof d);
	if (arg != NULL && snapcmd_resolve(arg, &d, &cause) == -1)
		return (snapcmd_fail(EVG_INVALID_ARGUMENT, cause, NULL));
	if ((code = snapcmd_list_all(conf, &all, &cause)) != EVG_OK) {
		snapcmd_disk_free(&d);
		return (snapcmd_fail(code, cause, NULL));
	}

	/* Folded first: a group is partial by what the whole list holds. */
	set = snapgroup_fold(all.snaps, all.n);
	keep = xcalloc(set->n + 1, sizeof *keep);
	for (i = 0; i < set->n; i++) {
		if (arg == NULL || snapcmd_group_on_disk(&set->groups[i], &d))
			keep[n++] = &set->groups[i];
	}
	if (output_json()) {
		arr = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(arr, snapcmd_group_json(keep[i],
			    NULL));
		doc = json_object_new_object();
		json_object_object_add(doc, "groups", arr);
		output_document(doc);
	} else
		snapcmd_list_text(keep, n);
	free(keep);
	snapgroup_free(set);
	snapcmd_list_free(&all);
	snapcmd_disk_free(&d);
	return (output_finish());
}
