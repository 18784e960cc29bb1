/*
 * snapshot delete UUID [--member]: a whole group, or one member of it
 * (the group is then partial), printed as what the host deleted.
 */
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "codec.h"
#include "output.h"
#include "snapcmd_impl.h"
#include "snapgroup.h"
#include "status.h"
#include "uuid.h"
#include "xmalloc.h"

/* What a delete did, as text. */
static void
snapcmd_delete_text(const struct snapgroup *g, int member)
{
	const Evg__Snapshot	*m = g->members[0];
	char			 name[256], uuid[64], muuid[64], buf[128];
	char			*disks, **devs;

	output_safe(name, sizeof name, g->name);
	output_safe(uuid, sizeof uuid, g->uuid);
	devs = snapcmd_devs(g, NULL);
	disks = output_join(devs, g->nmembers, ", ");
	if (g->size <= 1)
		printf("Deleted snapshot \"%s\" (%s)\n", name, uuid);
	else if (member)
		printf("Deleted member %s (disk %s, volume %s) of snapshot "
		    "group \"%s\" (%s): the group is now partial\n",
		    output_safe(muuid, sizeof muuid, m->uuid), disks,
		    output_safe(buf, sizeof buf, m->volume_name), name, uuid);
	else
		printf("Deleted snapshot group \"%s\" (%s): %zu disk%s (%s)\n",
		    name, uuid, g->nmembers, g->nmembers == 1 ? "" : "s", disks);
	free(disks);
	snapcmd_devs_free(devs, g->nmembers);
}

/* snapshot delete; see snapcmd.h. */
int
snapcmd_delete(const struct snapcmd_config *conf, const char *uuid,
    int member)
{
	Evg__Envelope			 req = EVG__ENVELOPE__INIT;
	Evg__Envelope			*rep = NULL;
	Evg__SnapshotDeleteRequest	 body =
	    EVG__SNAPSHOT_DELETE_REQUEST__INIT;
	const Evg__SnapshotList		*list;
	struct snapgroups		*set = NULL;
	struct json_object		*doc, *o;
	char				*cause = NULL, safe[64];
	int				 code;

	if (!uuid_valid(uuid)) {
		xasprintf(&cause, "'%s' is not a snapshot UUID (expected "
		    "8-4-4-4-12 hexadecimal digits)", output_safe(safe,
		    sizeof safe, uuid));
		return (snapcmd_fail(EVG_INVALID_ARGUMENT, cause, NULL));
	}
	body.vm_uuid = (char *)"";
	body.snapshot = (char *)uuid;
	body.member = member;
	req.body_case = EVG__ENVELOPE__BODY_SNAPSHOT_DELETE;
	req.snapshot_delete = &body;
	rep = snapcmd_call(conf, &req, SNAPCMD_OP_MS, &code, &cause);
	if (rep == NULL || code != EVG_OK)
		return (snapcmd_fail(code, cause, rep));
	if ((list = snapcmd_snapshots(rep)) != NULL && list->n_snapshots != 0)
		set = snapgroup_fold(list->snapshots, list->n_snapshots);

	if (output_json()) {
		if (set != NULL)
			o = snapcmd_group_json(&set->groups[0], NULL);
		else {
			o = json_object_new_object();
			json_object_object_add(o, "uuid",
			    json_object_new_string(uuid));
		}
		doc = json_object_new_object();
		json_object_object_add(doc, "deleted", o);
		json_object_object_add(doc, "member",
		    json_object_new_boolean(member));
		output_document(doc);
	} else if (set != NULL)
		snapcmd_delete_text(&set->groups[0], member);
	else
		printf("Deleted snapshot %s\n", uuid);
	snapgroup_free(set);
	codec_free(rep);
	return (output_finish());
}
