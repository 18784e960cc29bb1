/*
 * The snapshot commands of the guest CLI.  Each resolves its DISK arguments
 * here (the host never sees a path alone: it matches volumes by the
 * identifiers), asks the host over call.c and prints the answer folded
 * into snapshot groups (snapgroup.c), naming disks by the guest's own
 * device paths.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <linux/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "call.h"
#include "codec.h"
#include "disk.h"
#include "diskref.h"
#include "freeze.h"
#include "jsonout.h"
#include "log.h"
#include "output.h"
#include "snapcmd.h"
#include "snapgroup.h"
#include "status.h"
#include "text.h"
#include "uuid.h"
#include "xmalloc.h"

#define SNAPCMD_CONNECT_MS	5000
/* Answered from the host's catalog or a free-space probe. */
#define SNAPCMD_QUICK_MS	(60 * 1000)
/* Backend work: the host may take long, but never silent this long. */
#define SNAPCMD_OP_MS		(15 * 60 * 1000)
#define SNAPCMD_MOUNTINFO	"/proc/self/mountinfo"
#define SNAPCMD_SWAPS		"/proc/swaps"

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

/*
 * Resolve arg.  Returns 0, or -1 with *cause (a path that is not a block
 * device here).
 */
static int
snapcmd_resolve(const char *arg, struct snapcmd_disk *d, char **cause)
{
	struct stat	sb;

	memset(d, 0, sizeof *d);
	d->arg = arg;
	if (disk_resolve(arg, &d->disks, &d->n, cause) == -1)
		return (-1);
	if (stat(arg, &sb) == 0)
		d->rdev = sb.st_rdev;
	d->refs = diskref_build(d->disks, d->n);
	return (0);
}

/* Free what snapcmd_resolve() made. */
static void
snapcmd_disk_free(struct snapcmd_disk *d)
{
	diskref_free(d->refs, d->n);
	disk_free(d->disks, d->n);
	memset(d, 0, sizeof *d);
}

/* Free what snapcmd_resolve_all() made. */
static void
snapcmd_disks_free(struct snapcmd_disks *set)
{
	size_t	i;

	for (i = 0; i < set->n; i++)
		snapcmd_disk_free(&set->d[i]);
	memset(set, 0, sizeof *set);
}

/*
 * Refuse argument b if it names what argument a does: the same device
 * node, or a whole disk a has too (two partitions of one disk, or an LVM
 * volume and a disk under it).  Returns 0, or -1 with *cause.
 */
static int
snapcmd_overlap(const struct snapcmd_disk *a, const struct snapcmd_disk *b,
    char **cause)
{
	size_t	i, j;

	if (strcmp(a->arg, b->arg) == 0) {
		xasprintf(cause, "%s is given twice: give each disk once",
		    a->arg);
		return (-1);
	}
	if (a->rdev != 0 && a->rdev == b->rdev) {
		xasprintf(cause, "%s and %s are the same device: give each "
		    "disk once", a->arg, b->arg);
		return (-1);
	}
	for (i = 0; i < a->n; i++) {
		for (j = 0; j < b->n; j++) {
			if (a->disks[i].maj != b->disks[j].maj ||
			    a->disks[i].min != b->disks[j].min)
				continue;
			xasprintf(cause, "%s and %s are both on disk %s: give "
			    "each disk once", a->arg, b->arg,
			    a->disks[i].devpath);
			return (-1);
		}
	}
	return (0);
}

/*
 * Resolve every DISK argument, refusing one that repeats another and more
 * whole disks than a group may have.  Returns 0, or -1 with *cause and
 * set empty.
 */
static int
snapcmd_resolve_all(char *const *args, size_t nargs,
    struct snapcmd_disks *set, char **cause)
{
	struct snapcmd_disk	*d;
	size_t			 i, j;

	memset(set, 0, sizeof *set);
	if (nargs > SNAPCMD_MAX_DISKS) {
		xasprintf(cause, "%zu disks given: a snapshot group has at most "
		    "%d", nargs, SNAPCMD_MAX_DISKS);
		return (-1);
	}
	for (i = 0; i < nargs; i++) {
		d = &set->d[i];
		if (snapcmd_resolve(args[i], d, cause) == -1)
			goto fail;
		set->n++;
		for (j = 0; j < i; j++) {
			if (snapcmd_overlap(&set->d[j], d, cause) == -1)
				goto fail;
		}
		if (set->nrefs + d->n > SNAPCMD_MAX_DISKS) {
			xasprintf(cause, "the disks given are more than %d "
			    "whole disks (%s adds %zu): a snapshot group has at "
			    "most %d", SNAPCMD_MAX_DISKS, d->arg, d->n,
			    SNAPCMD_MAX_DISKS);
			goto fail;
		}
		for (j = 0; j < d->n; j++)
			set->refs[set->nrefs++] = d->refs[j];
	}
	return (0);

fail:
	snapcmd_disks_free(set);
	return (-1);
}

/* Plan predicate: is maj:min on one of the argument's disks? */
static int
snapcmd_holds(unsigned int maj, unsigned int min, void *arg)
{
	const struct snapcmd_disk	*d = arg;

	return (disk_holds_dev(d->disks, d->n, maj, min));
}

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

/* The mounts holds accepts, as a freeze plan.  0 or -1 with *cause. */
static int
snapcmd_plan(const struct snapcmd_config *conf, freeze_holds_cb holds,
    void *arg, struct freeze_plan **plan, char **cause)
{
	return (freeze_plan(conf->mountinfo != NULL ? conf->mountinfo :
	    SNAPCMD_MOUNTINFO, holds, arg, plan, cause));
}

/* Send req over an event-driven call; see call_run(). */
static Evg__Envelope *
snapcmd_call(const struct snapcmd_config *conf, Evg__Envelope *req,
    int idle_ms, int *code, char **cause)
{
	struct call_config	cc = {
		.addr = &conf->addr,
		.software = conf->software,
		.connect_ms = SNAPCMD_CONNECT_MS,
		.idle_ms = idle_ms,
		.mountinfo = conf->mountinfo,
	};

	return (call_run(&cc, req, code, cause));
}

/* Print a failure, free what the command held; returns the exit code. */
static int
snapcmd_fail(int code, char *cause, Evg__Envelope *rep)
{
	int	rc;

	rc = output_failure(code, cause);
	free(cause);
	codec_free(rep);
	return (rc);
}

/* The snapshot list a reply carries, or NULL. */
static const Evg__SnapshotList *
snapcmd_snapshots(const Evg__Envelope *rep)
{
	if (rep->reply->result_case != EVG__REPLY__RESULT_SNAPSHOT_LIST)
		return (NULL);
	return (rep->reply->snapshot_list);
}

/* The guest device of a snapshot into buf, or fallback (may be NULL). */
static const char *
snapcmd_device(const Evg__Snapshot *s, char *buf, size_t len,
    const char *fallback)
{
	const char	*dev;

	dev = diskref_find(s->disk_ids, s->n_disk_ids, buf, len);
	return (dev != NULL ? dev : fallback);
}

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

/*
 * This VM's device of each member of g (NULL where no disk here has the
 * member's identifiers, or fallback if set), one per member; free with
 * snapcmd_devs_free().
 */
static char **
snapcmd_devs(const struct snapgroup *g, const char *fallback)
{
	char		**devs, buf[128];
	const char	 *dev;
	size_t		  i;

	devs = xcalloc(g->nmembers, sizeof *devs);
	for (i = 0; i < g->nmembers; i++) {
		dev = snapcmd_device(g->members[i], buf, sizeof buf, fallback);
		devs[i] = dev != NULL ? xstrdup(dev) : NULL;
	}
	return (devs);
}

/* Free what snapcmd_devs() made for n members. */
static void
snapcmd_devs_free(char **devs, size_t n)
{
	size_t	i;

	for (i = 0; devs != NULL && i < n; i++)
		free(devs[i]);
	free(devs);
}

/* A group as the guest shows it in JSON: members with this VM's disks. */
static struct json_object *
snapcmd_group_json(const struct snapgroup *g, const char *fallback)
{
	struct json_object	*o;
	char			**devs;

	devs = snapcmd_devs(g, fallback);
	o = jsonout_group(g, (const char *const *)devs);
	snapcmd_devs_free(devs, g->nmembers);
	return (o);
}

/*
 * One created group as text.  A group of one reads as a single snapshot
 * always has; a larger one lists its members, one line per disk.
 */
static void
snapcmd_create_text(const struct snapgroup *g, const char *fallback)
{
	const Evg__Snapshot	*m;
	char			 name[256], size[32], t[32], *cons, safe[512];
	char			 vol[256], **devs;
	size_t			 i;

	devs = snapcmd_devs(g, fallback);
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
	/* As the daemon: nothing touched while frozen may wait on paging. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE) == -1)
		log_debug("%s: mlockall: %s", __func__, strerror(errno));
	body.disks = disks.refs;
	body.n_disks = disks.nrefs;
	body.name = (char *)(name != NULL ? name : "");
	req.body_case = EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_CREATE;
	req.guest_snapshot_create = &body;
	rep = snapcmd_call(conf, &req, SNAPCMD_OP_MS, &code, &cause);
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
			json_object_array_add(arr, snapcmd_group_json(
			    &set->groups[i], fallback));
		doc = json_object_new_object();
		json_object_object_add(doc, "groups", arr);
		output_document(doc);
	} else {
		for (i = 0; i < set->n; i++) {
			if (i != 0)
				printf("\n");
			snapcmd_create_text(&set->groups[i], fallback);
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
	Evg__Envelope			 req = EVG__ENVELOPE__INIT;
	Evg__Envelope			*rep = NULL;
	Evg__GuestSnapshotListRequest	 body =
	    EVG__GUEST_SNAPSHOT_LIST_REQUEST__INIT;
	const Evg__SnapshotList		*list;
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
	req.body_case = EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_LIST;
	req.guest_snapshot_list = &body;
	rep = snapcmd_call(conf, &req, SNAPCMD_QUICK_MS, &code, &cause);
	if (rep == NULL || code != EVG_OK)
		goto fail;
	if ((list = snapcmd_snapshots(rep)) == NULL) {
		code = EVG_INTERNAL;
		cause = xstrdup("the host's answer carries no snapshot list");
		goto fail;
	}

	/* Folded first: a group is partial by what the whole list holds. */
	set = snapgroup_fold(list->snapshots, list->n_snapshots);
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
	codec_free(rep);
	snapcmd_disk_free(&d);
	return (output_finish());

fail:
	snapcmd_disk_free(&d);
	return (snapcmd_fail(code, cause, rep));
}

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

/*
 * The first swap area on the disks, from /proc/swaps, into buf.  Returns
 * buf, or NULL when none is (or the file cannot be read: swap is then
 * left to the host and the kernel).
 */
static const char *
snapcmd_swap(const struct snapcmd_config *conf, const struct snapcmd_disk *d,
    char *buf, size_t len)
{
	struct stat	 sb;
	FILE		*f;
	char		*line = NULL, *path;
	size_t		 size = 0;
	const char	*found = NULL;

	if ((f = fopen(conf->swaps != NULL ? conf->swaps : SNAPCMD_SWAPS,
	    "re")) == NULL)
		return (NULL);
	while (found == NULL && getline(&line, &size, f) != -1) {
		path = strtok(line, " \t\n");
		if (path == NULL || path[0] != '/' || stat(path, &sb) == -1 ||
		    !S_ISBLK(sb.st_mode))
			continue;
		if (disk_holds_dev(d->disks, d->n, major(sb.st_rdev),
		    minor(sb.st_rdev))) {
			snprintf(buf, len, "%s", path);
			found = buf;
		}
	}
	free(line);
	fclose(f);
	return (found);
}

/*
 * Refuse a rollback while the disk is in use here: a mounted filesystem
 * (whether or not it could be frozen) or a swap area on it.  Returns 0, or
 * a status code with *cause.
 */
static int
snapcmd_unused(const struct snapcmd_config *conf, struct snapcmd_disk *d,
    char **cause)
{
	struct freeze_plan		*plan;
	const struct freeze_entry	*e;
	char				 mp[256], dev[256], swap[256];
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
	if (snapcmd_swap(conf, d, swap, sizeof swap) != NULL) {
		xasprintf(cause, "cannot roll back %s: %s is in use as swap; "
		    "swapoff it first", d->arg, output_safe(dev, sizeof dev,
		    swap));
		return (EVG_FAILED_PRECONDITION);
	}
	return (EVG_OK);
}

/*
 * Drop what the guest kernel still caches of the disk as it was before
 * the rollback: write back, invalidate the buffers of the device named
 * and of each whole disk, and have the partition table read again.
 * Refusals that only mean "not allowed" or "not here" are ignored.
 */
static void
snapcmd_flush(const struct snapcmd_disk *d)
{
	const char	*path;
	size_t		 i;
	int		 fd;

	sync();
	for (i = 0; i <= d->n; i++) {
		path = i == 0 ? d->arg : d->disks[i - 1].devpath;
		if (i != 0 && strcmp(path, d->arg) == 0)
			continue;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
			log_warn("cannot flush %s", path);
			continue;
		}
		if (ioctl(fd, BLKFLSBUF, 0) == -1 && errno != EPERM &&
		    errno != EACCES)
			log_warn("BLKFLSBUF %s", path);
		/* Busy (a partition still open) or no partitions: fine. */
		if (i != 0 && ioctl(fd, BLKRRPART, 0) == -1)
			log_debug("%s: BLKRRPART %s: %s", __func__, path,
			    strerror(errno));
		close(fd);
	}
}

/*
 * The group snap names, found in this VM's list, and the disk here of
 * each of its members into devs[] (caller frees each), so that the whole
 * group can be checked and rolled back.  *lrep and *set hold the list
 * (caller frees both, also on failure).  Returns EVG_OK with *g, or a
 * status code with *cause: an unknown or ambiguous name, or a member
 * without a disk here.
 */
static int
snapcmd_group_disks(const struct snapcmd_config *conf, const char *snap,
    Evg__Envelope **lrep, struct snapgroups **set,
    const struct snapgroup **g, char **devs, size_t *ndevs, char **cause)
{
	Evg__Envelope			 req = EVG__ENVELOPE__INIT;
	Evg__GuestSnapshotListRequest	 body =
	    EVG__GUEST_SNAPSHOT_LIST_REQUEST__INIT;
	const Evg__SnapshotList		*list;
	const Evg__Snapshot		*m;
	char				 name[256], buf[128], vol[256];
	size_t				 i, nmatch;
	int				 code;

	*ndevs = 0;
	req.body_case = EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_LIST;
	req.guest_snapshot_list = &body;
	*lrep = snapcmd_call(conf, &req, SNAPCMD_QUICK_MS, &code, cause);
	if (*lrep == NULL || code != EVG_OK)
		return (code);
	if ((list = snapcmd_snapshots(*lrep)) == NULL) {
		*cause = xstrdup("the host's answer carries no snapshot list");
		return (EVG_INTERNAL);
	}
	*set = snapgroup_fold(list->snapshots, list->n_snapshots);
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

/* The answer of a rollback, printed; disks are what was rolled back. */
static void
snapcmd_rollback_print(const Evg__Envelope *rep, const char *snap,
    const struct snapcmd_disks *disks, int named)
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
	}
	snapgroup_free(set);
}

/* snapshot rollback; see snapcmd.h. */
int
snapcmd_rollback(const struct snapcmd_config *conf, const char *snap,
    char *const *args, size_t nargs)
{
	Evg__Envelope				 req = EVG__ENVELOPE__INIT;
	Evg__Envelope				*rep = NULL, *lrep = NULL;
	Evg__GuestSnapshotRollbackRequest	 body =
	    EVG__GUEST_SNAPSHOT_ROLLBACK_REQUEST__INIT;
	const struct snapgroup			*g = NULL;
	struct snapgroups			*set = NULL;
	struct snapcmd_disks			 disks;
	char					*cause = NULL;
	char					*devs[SNAPCMD_MAX_DISKS];
	size_t					 i, ndevs = 0;
	int					 code, done = 0;

	memset(&disks, 0, sizeof disks);
	/* No disks named: every member of the group, each on its disk here. */
	if (nargs == 0) {
		code = snapcmd_group_disks(conf, snap, &lrep, &set, &g, devs,
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
	body.snapshot = (char *)(g != NULL ? g->uuid : snap);
	body.disks = disks.refs;
	body.n_disks = disks.nrefs;
	req.body_case = EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_ROLLBACK;
	req.guest_snapshot_rollback = &body;
	rep = snapcmd_call(conf, &req, SNAPCMD_OP_MS, &code, &cause);
	if (rep == NULL || code != EVG_OK)
		goto out;

	snapcmd_rollback_print(rep, snap, &disks, g == NULL);
	for (i = 0; i < disks.n; i++)
		snapcmd_flush(&disks.d[i]);
	codec_free(rep);
	rep = NULL;
	done = 1;

out:
	snapcmd_disks_free(&disks);
	snapgroup_free(set);
	codec_free(lrep);
	for (i = 0; i < ndevs; i++)
		free(devs[i]);
	if (!done)
		return (snapcmd_fail(code, cause, rep));
	return (output_finish());
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
    const Evg__CheckResult *cr)
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
    const Evg__CheckResult *cr)
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
	char				*cause = NULL;
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
	if (output_json())
		snapcmd_check_json(&disks, plan, cr);
	else
		snapcmd_check_text(&disks, plan, cr);
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
