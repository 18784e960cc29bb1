/*
 * snapshot check DISK [DISK...]: what a create would do, without doing
 * it.  The joint freeze plan of all the disks (one freeze of all at once,
 * shown per DISK), worked out here from mountinfo, and the host's verdict
 * on the volumes behind them and their free space.
 */
#include <stdio.h>

#include <json-c/json.h>

#include "codec.h"
#include "disk.h"
#include "diskuse.h"
#include "freeze.h"
#include "jsonout.h"
#include "output.h"
#include "snapcmd_impl.h"
#include "status.h"
#include "xmalloc.h"

/* Plan predicate: is maj:min on a disk of any of the arguments? */
static int
snapcmd_holds_any(unsigned int maj, unsigned int min, void *arg)
{
	const struct snapcmd_disks	*set = arg;
	size_t				 i;

	for (i = 0; i < set->n; i++) {
		if (snapcmd_holds(maj, min, (void *)&set->d[i]))
			return (1);
	}
	return (0);
}

/* The identifiers of a disk as JSON: [{"kind", "value"}]. */
static struct json_object *
snapcmd_ids_json(const struct disk_id *ids, size_t n)
{
	struct json_object	*arr, *o;
	size_t			 i;

	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "kind", json_object_new_string(
		    ids[i].kind));
		json_object_object_add(o, "value", json_object_new_string(
		    ids[i].value));
		json_object_array_add(arr, o);
	}
	return (arr);
}

/* A volume as the guest sees it: uuid, name, backend, disks. */
static struct json_object *
snapcmd_volume_json(const Evg__Volume *v)
{
	struct json_object	*o, *arr, *id;
	size_t			 i;

	o = json_object_new_object();
	json_object_object_add(o, "uuid", json_object_new_string(v->uuid));
	json_object_object_add(o, "name", json_object_new_string(v->name));
	json_object_object_add(o, "backend", json_object_new_string(
	    v->backend));
	arr = json_object_new_array();
	for (i = 0; i < v->n_disks; i++) {
		id = json_object_new_object();
		json_object_object_add(id, "kind", json_object_new_string(
		    v->disks[i]->kind));
		json_object_object_add(id, "value", json_object_new_string(
		    v->disks[i]->value));
		json_object_array_add(arr, id);
	}
	json_object_object_add(o, "disks", arr);
	return (o);
}

/* The DISK arguments whose disks hold entry e, as a JSON array. */
static struct json_object *
snapcmd_entry_args_json(const struct snapcmd_disks *set,
    const struct freeze_entry *e)
{
	struct json_object	*arr;
	unsigned int		 maj, min;
	size_t			 i;

	freeze_entry_devnum(e, &maj, &min);
	arr = json_object_new_array();
	for (i = 0; i < set->n; i++) {
		if (snapcmd_holds(maj, min, (void *)&set->d[i]))
			json_object_array_add(arr, json_object_new_string(
			    set->d[i].arg));
	}
	return (arr);
}

/* The check as one JSON document. */
static void
snapcmd_check_json(const struct snapcmd_disks *set, struct freeze_plan *plan,
    const Evg__CheckResult *cr, const char *online_why)
{
	const struct snapcmd_disk	*d;
	const struct freeze_entry	*e;
	struct json_object		*doc, *arr, *o, *v;
	size_t				 i, j;

	doc = json_object_new_object();
	if (set->n == 1)
		json_object_object_add(doc, "disk", json_object_new_string(
		    set->d[0].arg));
	arr = json_object_new_array();
	for (i = 0; i < set->n; i++)
		json_object_array_add(arr, json_object_new_string(
		    set->d[i].arg));
	json_object_object_add(doc, "disk_args", arr);
	arr = json_object_new_array();
	for (i = 0; i < set->n; i++) {
		d = &set->d[i];
		for (j = 0; j < d->n; j++) {
			o = json_object_new_object();
			json_object_object_add(o, "device",
			    json_object_new_string(d->disks[j].devpath));
			json_object_object_add(o, "arg",
			    json_object_new_string(d->arg));
			json_object_object_add(o, "ids", snapcmd_ids_json(
			    d->disks[j].ids, d->disks[j].nids));
			json_object_array_add(arr, o);
		}
	}
	json_object_object_add(doc, "disks", arr);
	arr = json_object_new_array();
	for (i = 0; i < freeze_plan_count(plan); i++) {
		e = freeze_plan_entry(plan, i);
		o = json_object_new_object();
		json_object_object_add(o, "mountpoint", json_object_new_string(
		    freeze_entry_mountpoint(e)));
		json_object_object_add(o, "fstype", json_object_new_string(
		    freeze_entry_fstype(e)));
		json_object_object_add(o, "device", json_object_new_string(
		    freeze_entry_device(e)));
		json_object_object_add(o, "action", json_object_new_string(
		    freeze_action_name(freeze_entry_action(e))));
		if (freeze_entry_reason(e) != NULL)
			json_object_object_add(o, "reason",
			    json_object_new_string(freeze_entry_reason(e)));
		json_object_object_add(o, "disk_args",
		    snapcmd_entry_args_json(set, e));
		json_object_array_add(arr, o);
	}
	json_object_object_add(doc, "freeze_plan", arr);
	arr = json_object_new_array();
	for (i = 0; i < cr->n_volumes; i++)
		json_object_array_add(arr, snapcmd_volume_json(cr->volumes[i]));
	json_object_object_add(doc, "volumes", arr);
	json_object_object_add(doc, "free_bytes", json_object_new_uint64(
	    cr->free_bytes));
	json_object_object_add(doc, "need_bytes", json_object_new_uint64(
	    cr->need_bytes));
	json_object_object_add(doc, "reserve_bytes", json_object_new_uint64(
	    cr->reserve_bytes));
	v = json_object_new_object();
	json_object_object_add(v, "code", json_object_new_string(
	    status_name(cr->code)));
	json_object_object_add(v, "message", json_object_new_string(
	    cr->code == EVG_OK && cr->message[0] == '\0' ?
	    "a snapshot would go ahead" : cr->message));
	json_object_object_add(doc, "verdict", v);
	v = json_object_new_object();
	json_object_object_add(v, "possible",
	    json_object_new_boolean(online_why == NULL));
	if (online_why != NULL)
		json_object_object_add(v, "reason",
		    json_object_new_string(online_why));
	json_object_object_add(doc, "online_rollback", v);
	output_document(doc);
}

/* One freeze plan entry as a line, indented by indent. */
static void
snapcmd_entry_text(const struct freeze_entry *e, const char *indent)
{
	char	a[256], b[256], c[512];

	printf("%s%-6s  %s (%s on %s)%s%s\n", indent,
	    freeze_action_name(freeze_entry_action(e)),
	    output_safe(a, sizeof a, freeze_entry_mountpoint(e)),
	    freeze_entry_fstype(e), output_safe(b, sizeof b,
	    freeze_entry_device(e)), freeze_entry_reason(e) != NULL ?
	    ": " : "", freeze_entry_reason(e) == NULL ? "" :
	    output_safe(c, sizeof c, freeze_entry_reason(e)));
}

/*
 * The joint freeze plan of several disks as text: one freeze for all of
 * them, shown per DISK (a filesystem over several, as LVM may make, under
 * each).
 */
static void
snapcmd_plan_text(const struct snapcmd_disks *set, struct freeze_plan *plan)
{
	const struct freeze_entry	*e;
	char				 a[256];
	unsigned int			 maj, min;
	size_t				 i, j, shown;

	printf("Freeze plan: one freeze of all %zu disks at once\n", set->n);
	for (i = 0; i < set->n; i++) {
		output_safe(a, sizeof a, set->d[i].arg);
		shown = 0;
		for (j = 0; j < freeze_plan_count(plan); j++) {
			e = freeze_plan_entry(plan, j);
			freeze_entry_devnum(e, &maj, &min);
			if (!snapcmd_holds(maj, min, (void *)&set->d[i]))
				continue;
			if (shown++ == 0)
				printf("  %s:\n", a);
			snapcmd_entry_text(e, "    ");
		}
		if (shown == 0)
			printf("  %s: no mounted filesystem (nothing to "
			    "freeze)\n", a);
	}
}

/* The check as text. */
static void
snapcmd_check_text(const struct snapcmd_disks *set, struct freeze_plan *plan,
    const Evg__CheckResult *cr, const char *online_why)
{
	const struct snapcmd_disk	*d;
	char				 a[256], b[256], c[512];
	size_t				 i, j, k;

	for (k = 0; k < set->n; k++) {
		d = &set->d[k];
		printf("Disk:        %s\n", output_safe(a, sizeof a, d->arg));
		for (i = 0; i < d->n; i++) {
			printf("  %s:", d->disks[i].devpath);
			for (j = 0; j < d->disks[i].nids; j++)
				printf(" %s:%s", d->disks[i].ids[j].kind,
				    d->disks[i].ids[j].value);
			printf("%s\n", d->disks[i].nids == 0 ?
			    " no identifiers" : "");
		}
	}
	if (set->n > 1)
		snapcmd_plan_text(set, plan);
	else if (freeze_plan_count(plan) == 0)
		printf("Freeze plan: no mounted filesystem on %s: the snapshot "
		    "would be crash-consistent\n", a);
	else
		printf("Freeze plan:\n");
	for (i = 0; set->n == 1 && i < freeze_plan_count(plan); i++)
		snapcmd_entry_text(freeze_plan_entry(plan, i), "  ");
	for (i = 0; i < cr->n_volumes; i++) {
		printf("%-13s%s (%s)\n", i == 0 ? (cr->n_volumes > 1 ?
		    "Volumes:" : "Volume:") : "", output_safe(a, sizeof a,
		    cr->volumes[i]->name), output_safe(b, sizeof b,
		    cr->volumes[i]->backend));
	}
	printf("Free space:  %s\n", jsonout_size(a, sizeof a, cr->free_bytes));
	printf("May need:    %s\n", jsonout_size(a, sizeof a, cr->need_bytes));
	printf("Reserve:     %s\n", jsonout_size(a, sizeof a,
	    cr->reserve_bytes));
	if (cr->code == EVG_OK)
		printf("Verdict:     a snapshot would go ahead\n");
	else
		printf("Verdict:     %s: %s\n", status_name(cr->code),
		    output_safe(c, sizeof c, cr->message[0] != '\0' ?
		    cr->message : status_description(cr->code)));
	if (online_why == NULL)
		printf("Rollback:    online: the disk would be unplugged for the "
		    "revert and come back, the VM running on\n");
	else
		printf("Rollback:    not online now: %s\n", output_safe(c,
		    sizeof c, online_why));
}

/* snapshot check; see snapcmd.h. */
int
snapcmd_check(const struct snapcmd_config *conf, char *const *args,
    size_t nargs)
{
	Evg__Envelope			 req = EVG__ENVELOPE__INIT;
	Evg__Envelope			*rep = NULL;
	Evg__GuestSnapshotCheckRequest	 body =
	    EVG__GUEST_SNAPSHOT_CHECK_REQUEST__INIT;
	const Evg__CheckResult		*cr;
	struct freeze_plan		*plan = NULL;
	struct snapcmd_disks		 disks;
	const char			*online_why = NULL;
	char				*cause = NULL, *local = NULL;
	size_t				 i;
	int				 code, rc;

	if (snapcmd_resolve_all(args, nargs, &disks, &cause) == -1)
		return (snapcmd_fail(EVG_INVALID_ARGUMENT, cause, NULL));
	if (snapcmd_plan(conf, snapcmd_holds_any, &disks, &plan,
	    &cause) == -1) {
		code = EVG_INTERNAL;
		goto fail;
	}
	body.disks = disks.refs;
	body.n_disks = disks.nrefs;
	req.body_case = EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CHECK;
	req.guest_snapshot_check = &body;
	rep = snapcmd_call(conf, &req, SNAPCMD_QUICK_MS, &code, &cause);
	if (rep == NULL || code != EVG_OK)
		goto fail;
	if (rep->reply->result_case != EVG__REPLY__RESULT_CHECK ||
	    rep->reply->check == NULL) {
		code = EVG_INTERNAL;
		cause = xstrdup("the host's answer carries no check result");
		goto fail;
	}
	cr = rep->reply->check;
	/* The host's side of an online rollback, then this one's. */
	if (!cr->online_rollback)
		online_why = cr->online_rollback_why != NULL &&
		    cr->online_rollback_why[0] != '\0' ?
		    cr->online_rollback_why : "the host does not say it could";
	for (i = 0; cr->online_rollback && i < disks.n; i++)
		if (diskuse_check(disks.d[i].disks, disks.d[i].n,
		    disks.d[i].arg, &local) == -1) {
			online_why = local;
			break;
		}
	if (output_json())
		snapcmd_check_json(&disks, plan, cr, online_why);
	else
		snapcmd_check_text(&disks, plan, cr, online_why);
	free(local);
	rc = output_finish();
	if (rc == 0 && cr->code != EVG_OK)
		rc = status_exit_code(cr->code);
	freeze_plan_free(plan);
	codec_free(rep);
	snapcmd_disks_free(&disks);
	return (rc);

fail:
	freeze_plan_free(plan);
	snapcmd_disks_free(&disks);
	return (snapcmd_fail(code, cause, rep));
}
