/*
 * snapshot rollback NAME-OR-UUID [DISK...].  Without disks, the whole
 * group: it is found in this VM's list, each member's disk here is found
 * by its identifiers (a member without one refuses the rollback), and
 * every one of those disks is checked.  With disks, only the members on
 * them, a subset, said so.  A disk in use here (a mounted filesystem, a
 * swap area, a device-mapper or md device on it, a process holding it
 * open) refuses the rollback before the host is asked.  The disks are
 * flushed, and the host asked to roll back online if it can: it unplugs
 * the disk, reverts it and plugs it back, and the command waits for the
 * disk to come back (under any name) and says which it is.  Else the
 * rollback is scheduled for the VM's next stop, as the answer says.
 * After it, what the kernel still caches of each disk is dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "codec.h"
#include "disk.h"
#include "diskref.h"
#include "diskuse.h"
#include "freeze.h"
#include "log.h"
#include "output.h"
#include "snapcmd_impl.h"
#include "snapgroup.h"
#include "status.h"
#include "xmalloc.h"

/* How long a disk rolled back online may take to come back. */
#define SNAPCMD_BACK_MS		30000

/*
 * Refuse a rollback while the disk is in use here: a mounted filesystem
 * (whether or not it could be frozen), named with its type and device;
 * then whatever else diskuse.c finds (swap, dm/md, a process holding it
 * open).  Returns 0, or a status code with *cause.
 */
static int
snapcmd_unused(const struct snapcmd_config *conf, struct snapcmd_disk *d,
    char **cause)
{
	struct freeze_plan		*plan;
	const struct freeze_entry	*e;
	char				 mp[256], dev[256];
	size_t				 n;

	if (snapcmd_plan(conf, snapcmd_holds, d, &plan, cause) == -1)
		return (EVG_INTERNAL);
	if ((n = freeze_plan_count(plan)) != 0) {
		e = freeze_plan_entry(plan, 0);
		output_safe(mp, sizeof mp, freeze_entry_mountpoint(e));
		output_safe(dev, sizeof dev, freeze_entry_device(e));
		if (n == 1)
			xasprintf(cause, "cannot roll back %s: %s (%s on %s) "
			    "is mounted; unmount it first", d->arg, mp,
			    freeze_entry_fstype(e), dev);
		else
			xasprintf(cause, "cannot roll back %s: %s (%s on %s) "
			    "and %zu more are mounted; unmount them first",
			    d->arg, mp, freeze_entry_fstype(e), dev, n - 1);
		freeze_plan_free(plan);
		return (EVG_FAILED_PRECONDITION);
	}
	freeze_plan_free(plan);
	if (diskuse_check(d->disks, d->n, d->arg, cause) == -1)
		return (EVG_FAILED_PRECONDITION);
	return (EVG_OK);
}

/*
 * The group snap names, found in this VM's list, and the disk here of
 * each of its members into devs[] (caller frees each), so that the whole
 * group can be checked and rolled back.  *all and *set hold the list
 * (caller frees both, also on failure).  Returns EVG_OK with *g, or a
 * status code with *cause: an unknown or ambiguous name, or a member
 * without a disk here.
 */
static int
snapcmd_group_disks(const struct snapcmd_config *conf, const char *snap,
    struct snapcmd_list *all, struct snapgroups **set,
    const struct snapgroup **g, char **devs, size_t *ndevs, char **cause)
{
	const Evg__Snapshot		*m;
	char				 name[256], buf[128], vol[256];
	size_t				 i, nmatch;
	int				 code;

	*ndevs = 0;
	if ((code = snapcmd_list_all(conf, all, cause)) != EVG_OK)
		return (code);
	*set = snapgroup_fold(all->snaps, all->n);
	output_safe(name, sizeof name, snap);
	if ((*g = snapgroup_find(*set, snap, &nmatch)) == NULL) {
		xasprintf(cause, "no snapshot '%s' of this VM", name);
		return (EVG_NOT_FOUND);
	}
	if (nmatch > 1) {
		xasprintf(cause, "%zu snapshot groups are named '%s': give the "
		    "UUID of one (snapshot list)", nmatch, name);
		return (EVG_INVALID_ARGUMENT);
	}
	if ((*g)->nmembers > SNAPCMD_MAX_DISKS) {
		xasprintf(cause, "snapshot group '%s' has %zu members, more "
		    "than %d", name, (*g)->nmembers, SNAPCMD_MAX_DISKS);
		return (EVG_INTERNAL);
	}
	for (i = 0; i < (*g)->nmembers; i++) {
		m = (*g)->members[i];
		if (snapcmd_device(m, buf, sizeof buf, NULL) == NULL) {
			xasprintf(cause, "cannot roll back snapshot group '%s': "
			    "its volume '%s' has no disk in this VM; name the "
			    "disks to roll back only their members", name,
			    output_safe(vol, sizeof vol, m->volume_name));
			return (EVG_FAILED_PRECONDITION);
		}
		devs[(*ndevs)++] = xstrdup(buf);
	}
	return (EVG_OK);
}

/*
 * The result of a rollback as text: all of a group (all a partial group
 * has left), or a subset of it.
 */
static void
snapcmd_rollback_text(const struct snapgroup *g, const char *disks,
    int subset)
{
	char	 name[256], uuid[64], left[64] = "";
	int	 scheduled;

	output_safe(name, sizeof name, g->name);
	output_safe(uuid, sizeof uuid, g->uuid);
	scheduled = strcmp(g->state, "rollback-scheduled") == 0;
	if (!subset && g->nmembers < g->size)
		snprintf(left, sizeof left, " (partial: %zu of %u disks left)",
		    g->nmembers, g->size);
	if (subset && scheduled)
		printf("Rollback of %zu of %u disks of snapshot group \"%s\" "
		    "(%s) is scheduled: %s, only; the host carries it out when "
		    "this VM is stopped; restart the VM\n", g->nmembers,
		    g->size, name, uuid, disks);
	else if (subset)
		printf("Rolled back %zu of %u disks of snapshot group \"%s\" "
		    "(%s): %s, only\n", g->nmembers, g->size, name, uuid,
		    disks);
	else if (scheduled)
		printf("Rollback of %s to snapshot%s \"%s\" (%s)%s is "
		    "scheduled: the host carries it out when this VM is "
		    "stopped; restart the VM\n", disks, g->size > 1 ?
		    " group" : "", name, uuid, left);
	else
		printf("Rolled back %s to snapshot%s \"%s\" (%s)%s\n", disks,
		    g->size > 1 ? " group" : "", name, uuid, left);
}

/*
 * After an online rollback each disk was unplugged and plugged back: wait
 * (up to SNAPCMD_BACK_MS) until the kernel shows a disk with each one's
 * identifiers again, and put the device path each argument now names into
 * back[] (caller frees; NULL when not back in time).  A partition named
 * is found again by its number.  A disk that never went away (a rollback
 * scheduled, or of a stopped VM) is found at once.
 */
static void
snapcmd_wait_back(const struct snapcmd_disks *disks, char **back)
{
	const Evg__DiskRef	*ref;
	char			 dev[128], *part;
	const char		*digits;
	size_t			 i, waited;

	for (i = 0; i < disks->n; i++) {
		back[i] = NULL;
		if (disks->d[i].n != 1 || disks->d[i].refs == NULL)
			continue;
		ref = disks->d[i].refs[0];
		for (waited = 0; waited <= SNAPCMD_BACK_MS; waited += 100) {
			if (diskref_find(ref->ids, ref->n_ids, dev,
			    sizeof dev) != NULL && access(dev, F_OK) == 0)
				break;
			usleep(100 * 1000);
		}
		if (waited > SNAPCMD_BACK_MS) {
			log_warnx("disk %s did not come back within %d s",
			    disks->d[i].arg, SNAPCMD_BACK_MS / 1000);
			continue;
		}
		/* "/dev/vdb1" was named: the same partition of the disk. */
		digits = disks->d[i].arg + strlen(disks->d[i].arg);
		while (digits > disks->d[i].arg && digits[-1] >= '0' &&
		    digits[-1] <= '9')
			digits--;
		if (strcmp(disks->d[i].arg, disks->d[i].disks[0].devpath) != 0 &&
		    *digits != '\0') {
			xasprintf(&part, "%s%s%s", dev, dev[strlen(dev) - 1] >=
			    '0' && dev[strlen(dev) - 1] <= '9' ? "p" : "",
			    digits);
			back[i] = part;
		} else
			back[i] = xstrdup(dev);
	}
}

/* The answer of a rollback, printed; disks are what was rolled back. */
static void
snapcmd_rollback_print(const Evg__Envelope *rep, const char *snap,
    const struct snapcmd_disks *disks, int named, char *const *back)
{
	const Evg__SnapshotList	*list;
	const struct snapgroup	*g = NULL;
	struct snapgroups	*set = NULL;
	struct json_object	*doc, *arr;
	char			*joined, *args[SNAPCMD_MAX_DISKS], name[256];
	size_t			 i;
	int			 subset;

	if ((list = snapcmd_snapshots(rep)) != NULL && list->n_snapshots != 0) {
		set = snapgroup_fold(list->snapshots, list->n_snapshots);
		g = &set->groups[0];
	}
	for (i = 0; i < disks->n; i++)
		args[i] = (char *)disks->d[i].arg;
	/* The answer lists the members rolled back, of a group this big. */
	subset = named && g != NULL && g->nmembers < g->size;
	if (output_json()) {
		doc = json_object_new_object();
		arr = json_object_new_array();
		for (i = 0; i < disks->n; i++)
			json_object_array_add(arr, json_object_new_string(
			    args[i]));
		json_object_object_add(doc, "disks", arr);
		arr = json_object_new_array();
		for (i = 0; i < disks->n; i++)
			json_object_array_add(arr, back[i] != NULL ?
			    json_object_new_string(back[i]) : NULL);
		json_object_object_add(doc, "devices", arr);
		json_object_object_add(doc, "subset",
		    json_object_new_boolean(subset));
		if (g != NULL)
			json_object_object_add(doc, "rolled_back",
			    snapcmd_group_json(g, disks->n == 1 ? args[0] :
			    NULL));
		output_document(doc);
	} else {
		joined = output_join(args, disks->n, ", ");
		if (g != NULL)
			snapcmd_rollback_text(g, joined, subset);
		else
			printf("Rolled back %s to snapshot %s\n", joined,
			    output_safe(name, sizeof name, snap));
		free(joined);
		for (i = 0; i < disks->n; i++) {
			if (back[i] == NULL || strcmp(back[i], args[i]) == 0)
				continue;
			printf("Disk %s is now %s\n", output_safe(name,
			    sizeof name, args[i]), back[i]);
		}
	}
	snapgroup_free(set);
}

/* snapshot rollback; see snapcmd.h. */
int
snapcmd_rollback(const struct snapcmd_config *conf, const char *snap,
    char *const *args, size_t nargs)
{
	Evg__Envelope				 req = EVG__ENVELOPE__INIT;
	Evg__Envelope				*rep = NULL;
	struct snapcmd_list			 all;
	Evg__GuestSnapshotRollbackRequest	 body =
	    EVG__GUEST_SNAPSHOT_ROLLBACK_REQUEST__INIT;
	const struct snapgroup			*g = NULL;
	struct snapgroups			*set = NULL;
	struct snapcmd_disks			 disks;
	char					*cause = NULL;
	char					*devs[SNAPCMD_MAX_DISKS];
	char					*back[SNAPCMD_MAX_DISKS];
	size_t					 i, ndevs = 0;
	int					 code, done = 0;

	memset(&disks, 0, sizeof disks);
	memset(&all, 0, sizeof all);
	/* No disks named: every member of the group, each on its disk here. */
	if (nargs == 0) {
		code = snapcmd_group_disks(conf, snap, &all, &set, &g, devs,
		    &ndevs, &cause);
		if (code != EVG_OK)
			goto out;
		args = devs;
		nargs = ndevs;
	}
	if (snapcmd_resolve_all(args, nargs, &disks, &cause) == -1) {
		code = EVG_INVALID_ARGUMENT;
		goto out;
	}
	for (i = 0; i < disks.n; i++) {
		if ((code = snapcmd_unused(conf, &disks.d[i], &cause)) !=
		    EVG_OK)
			goto out;
	}
	/* Nothing of them may linger in the page cache across the revert. */
	for (i = 0; i < disks.n; i++)
		diskuse_flush(disks.d[i].arg, disks.d[i].disks, disks.d[i].n);
	body.snapshot = (char *)(g != NULL ? g->uuid : snap);
	body.disks = disks.refs;
	body.n_disks = disks.nrefs;
	body.online = 1;
	req.body_case = EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_ROLLBACK;
	req.guest_snapshot_rollback = &body;
	rep = snapcmd_call(conf, &req, SNAPCMD_OP_MS, &code, &cause);
	if (rep == NULL || code != EVG_OK)
		goto out;

	snapcmd_wait_back(&disks, back);
	snapcmd_rollback_print(rep, snap, &disks, g == NULL, back);
	for (i = 0; i < disks.n; i++) {
		/* A disk back under another name is a new device: no cache. */
		if (back[i] == NULL || strcmp(back[i], disks.d[i].arg) == 0)
			diskuse_flush(disks.d[i].arg, disks.d[i].disks,
			    disks.d[i].n);
		free(back[i]);
	}
	codec_free(rep);
	rep = NULL;
	done = 1;

out:
	snapcmd_disks_free(&disks);
	snapgroup_free(set);
	snapcmd_list_free(&all);
	for (i = 0; i < ndevs; i++)
		free(devs[i]);
	if (!done)
		return (snapcmd_fail(code, cause, rep));
	return (output_finish());
}
