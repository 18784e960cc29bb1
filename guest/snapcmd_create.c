/*
 * snapshot create DISK [DISK...] [--name NAME]: one group over the volumes
 * behind the disks, asked of the host while this process serves the
 * freeze and thaw it sends meanwhile (call.c), then printed as the group
 * or groups the host made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "codec.h"
#include "jsonout.h"
#include "log.h"
#include "output.h"
#include "snapcmd_impl.h"
#include "snapgroup.h"
#include "status.h"
#include "text.h"
#include "xmalloc.h"

/*
 * One created group as text.  A group of one reads as a single snapshot
 * always has; a larger one lists its members, one line per disk.
 */
static void
snapcmd_create_text(const struct snapgroup *g, const char *fallback,
    const struct snapcmd_disks *disks)
{
	const Evg__Snapshot	*m;
	char			 name[256], size[32], t[32], *cons, safe[512];
	char			 vol[256], **devs;
	size_t			 i;

	devs = snapcmd_devs_in(g, fallback, disks);
	if (g->nmembers == 1)
		printf("Snapshot \"%s\" created\n", output_safe(name,
		    sizeof name, g->name));
	else
		printf("Snapshot group \"%s\" created (%zu disks)\n",
		    output_safe(name, sizeof name, g->name), g->nmembers);
	printf("  UUID:        %s\n", output_safe(safe, sizeof safe, g->uuid));
	if (g->nmembers == 1)
		printf("  Disk:        %s\n", devs[0] != NULL ?
		    output_safe(safe, sizeof safe, devs[0]) : "-");
	for (i = 0; g->nmembers > 1 && i < g->nmembers; i++) {
		m = g->members[i];
		printf("%-15s%-12s  %10s  %s  (volume %s)\n", i == 0 ?
		    "  Disks:" : "", devs[i] != NULL ? output_safe(safe,
		    sizeof safe, devs[i]) : "-", jsonout_size(size, sizeof size,
		    m->size_bytes), output_safe(name, sizeof name, m->uuid),
		    output_safe(vol, sizeof vol, m->volume_name));
	}
	printf("  Size:        %s\n", jsonout_size(size, sizeof size,
	    g->size_bytes));
	printf("  Created:     %s UTC\n", output_time(t, sizeof t, g->created));
	cons = output_group_consistency_text(g);
	printf("  Consistency: %s\n", output_safe(safe, sizeof safe, cons));
	free(cons);
	snapcmd_devs_free(devs, g->nmembers);
}

/* snapshot create; see snapcmd.h. */
int
snapcmd_create(const struct snapcmd_config *conf, char *const *args,
    size_t nargs, const char *name)
{
	Evg__Envelope				 req = EVG__ENVELOPE__INIT;
	Evg__Envelope				*rep = NULL;
	Evg__GuestSnapshotCreateRequest		 body =
	    EVG__GUEST_SNAPSHOT_CREATE_REQUEST__INIT;
	const Evg__SnapshotList			*list;
	struct snapgroups			*set;
	struct snapcmd_disks			 disks;
	struct json_object			*doc, *arr;
	const char				*why, *fallback;
	char					*cause = NULL;
	size_t					 i;
	int					 code;

	if (name != NULL && !text_valid_name(name, NAME_MAX_CHARS, &why)) {
		xasprintf(&cause, "--name: %s", why);
		return (snapcmd_fail(EVG_INVALID_ARGUMENT, cause, NULL));
	}
	if (snapcmd_resolve_all(args, nargs, &disks, &cause) == -1)
		return (snapcmd_fail(EVG_INVALID_ARGUMENT, cause, NULL));
	body.disks = disks.refs;
	body.n_disks = disks.nrefs;
	body.name = (char *)(name != NULL ? name : "");
	req.body_case = EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CREATE;
	req.guest_snapshot_create = &body;
	rep = snapcmd_call_disks(conf, &req, SNAPCMD_OP_MS, &disks, &code,
	    &cause);
	if (rep == NULL || code != EVG_OK)
		goto fail;
	if ((list = snapcmd_snapshots(rep)) == NULL ||
	    list->n_snapshots == 0) {
		code = EVG_INTERNAL;
		cause = xstrdup("the host's answer names no snapshot");
		goto fail;
	}

	/* A host without groups answers one snapshot per volume. */
	set = snapgroup_fold(list->snapshots, list->n_snapshots);
	fallback = disks.n == 1 ? disks.d[0].arg : NULL;
	if (output_json()) {
		arr = json_object_new_array();
		for (i = 0; i < set->n; i++)
			json_object_array_add(arr, snapcmd_group_json_in(
			    &set->groups[i], fallback, &disks));
		doc = json_object_new_object();
		json_object_object_add(doc, "groups", arr);
		output_document(doc);
	} else {
		for (i = 0; i < set->n; i++) {
			if (i != 0)
				printf("\n");
			snapcmd_create_text(&set->groups[i], fallback,
			    &disks);
		}
	}
	snapgroup_free(set);
	codec_free(rep);
	snapcmd_disks_free(&disks);
	return (output_finish());

fail:
	snapcmd_disks_free(&disks);
	return (snapcmd_fail(code, cause, rep));
}
