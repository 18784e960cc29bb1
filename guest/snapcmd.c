/*
 * The snapshot commands of the guest CLI.  Each resolves its DISK argument
 * here (the host never sees a path alone: it matches volumes by the
 * identifiers), asks the host over call.c and prints the answer, naming
 * disks by the guest's own device paths.
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
	struct disk	 *disks;
	size_t		  n;
	Evg__DiskRef	**refs;
};

/*
 * Resolve arg.  Returns 0, or -1 with *cause (a path that is not a block
 * device here).
 */
static int
snapcmd_resolve(const char *arg, struct snapcmd_disk *d, char **cause)
{
	memset(d, 0, sizeof *d);
	d->arg = arg;
	if (disk_resolve(arg, &d->disks, &d->n, cause) == -1)
		return (-1);
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

/* Plan predicate: is maj:min on one of the argument's disks? */
static int
snapcmd_holds(unsigned int maj, unsigned int min, void *arg)
{
	const struct snapcmd_disk	*d = arg;

	return (disk_holds_dev(d->disks, d->n, maj, min));
}

/* The mounts on the disks, as a freeze plan.  0 or -1 with *cause. */
static int
snapcmd_plan(const struct snapcmd_config *conf, struct snapcmd_disk *d,
    struct freeze_plan **plan, char **cause)
{
	return (freeze_plan(conf->mountinfo != NULL ? conf->mountinfo :
	    SNAPCMD_MOUNTINFO, snapcmd_holds, d, plan, cause));
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

/* One created snapshot as text. */
static void
snapcmd_create_text(const Evg__Snapshot *s, const char *dev)
{
	char	 name[256], size[32], t[32], *cons, safe[512];

	printf("Snapshot \"%s\" created\n", output_safe(name, sizeof name,
	    s->name));
	printf("  UUID:        %s\n", output_safe(safe, sizeof safe, s->uuid));
	printf("  Disk:        %s\n", output_safe(safe, sizeof safe, dev));
	printf("  Size:        %s\n", jsonout_size(size, sizeof size,
	    s->size_bytes));
	printf("  Created:     %s UTC\n", output_time(t, sizeof t, s->created));
	cons = output_consistency_text(s);
	printf("  Consistency: %s\n", output_safe(safe, sizeof safe, cons));
	free(cons);
}

/* snapshot create; see snapcmd.h. */
int
snapcmd_create(const struct snapcmd_config *conf, const char *arg,
    const char *name)
{
	Evg__Envelope				 req = EVG__ENVELOPE__INIT;
	Evg__Envelope				*rep = NULL;
	Evg__GuestSnapshotCreateRequest		 body =
	    EVG__GUEST_SNAPSHOT_CREATE_REQUEST__INIT;
	const Evg__SnapshotList			*list;
	struct snapcmd_disk			 d;
	const char				*why, *dev;
	char					*cause = NULL, buf[128];
	char					**devs;
	size_t					 i;
	int					 code;

	if (name != NULL && !text_valid_name(name, NAME_MAX_CHARS, &why)) {
		xasprintf(&cause, "--name: %s", why);
		return (snapcmd_fail(EVG_INVALID_ARGUMENT, cause, NULL));
	}
	if (snapcmd_resolve(arg, &d, &cause) == -1)
		return (snapcmd_fail(EVG_INVALID_ARGUMENT, cause, NULL));
	/* As the daemon: nothing touched while frozen may wait on paging. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE) == -1)
		log_debug("%s: mlockall: %s", __func__, strerror(errno));
	body.disks = d.refs;
	body.n_disks = d.n;
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

	if (output_json()) {
		devs = xcalloc(list->n_snapshots, sizeof *devs);
		for (i = 0; i < list->n_snapshots; i++) {
			dev = snapcmd_device(list->snapshots[i], buf,
			    sizeof buf, arg);
			devs[i] = dev != NULL ? xstrdup(dev) : NULL;
		}
		output_document(jsonout_guest_snapshots(list->snapshots,
		    (const char *const *)devs, list->n_snapshots));
		for (i = 0; i < list->n_snapshots; i++)
			free(devs[i]);
		free(devs);
	} else {
		for (i = 0; i < list->n_snapshots; i++) {
			if (i != 0)
				printf("\n");
			dev = snapcmd_device(list->snapshots[i], buf,
			    sizeof buf, arg);
			snapcmd_create_text(list->snapshots[i], dev);
		}
	}
	codec_free(rep);
	snapcmd_disk_free(&d);
	return (output_finish());

fail:
	snapcmd_disk_free(&d);
	return (snapcmd_fail(code, cause, rep));
}

/* The snapshot table of `snapshot list`. */
static void
snapcmd_list_text(Evg__Snapshot *const *snaps, char **devs, size_t n)
{
	char	 t[32], size[32], name[256], uuid[64], dev[128];
	size_t	 i;
	int	 w = 4;

	if (n == 0) {
		printf("no snapshots\n");
		return;
	}
	for (i = 0; i < n; i++) {
		if ((int)strlen(snaps[i]->name) > w)
			w = (int)strlen(snaps[i]->name);
	}
	if (w > 40)
		w = 40;
	printf("%-19s  %-*s  %-36s  %10s  %s\n", "DATE TIME (UTC)", w, "NAME",
	    "UUID", "SIZE", "DISK");
	for (i = 0; i < n; i++) {
		printf("%-19s  %-*s  %-36s  %10s  %s\n", output_time(t,
		    sizeof t, snaps[i]->created), w, output_safe(name,
		    sizeof name, snaps[i]->name), output_safe(uuid,
		    sizeof uuid, snaps[i]->uuid), jsonout_size(size,
		    sizeof size, snaps[i]->size_bytes), devs[i] != NULL ?
		    output_safe(dev, sizeof dev, devs[i]) : "-");
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
	struct snapcmd_disk		 d;
	Evg__Snapshot			**keep = NULL;
	char				*cause = NULL, **devs = NULL;
	char				 buf[128];
	const char			*dev;
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

	keep = xcalloc(list->n_snapshots, sizeof *keep);
	devs = xcalloc(list->n_snapshots, sizeof *devs);
	for (i = 0; i < list->n_snapshots; i++) {
		if (arg != NULL && !snapcmd_on_disk(list->snapshots[i], &d))
			continue;
		keep[n] = list->snapshots[i];
		dev = snapcmd_device(keep[n], buf, sizeof buf, NULL);
		devs[n] = dev != NULL ? xstrdup(dev) : NULL;
		n++;
	}
	if (output_json())
		output_document(jsonout_guest_snapshots(keep,
		    (const char *const *)devs, n));
	else
		snapcmd_list_text(keep, devs, n);
	for (i = 0; i < n; i++)
		free(devs[i]);
	free(devs);
	free(keep);
	codec_free(rep);
	snapcmd_disk_free(&d);
	return (output_finish());

fail:
	snapcmd_disk_free(&d);
	return (snapcmd_fail(code, cause, rep));
}

/* snapshot delete; see snapcmd.h. */
int
snapcmd_delete(const struct snapcmd_config *conf, const char *uuid)
{
	Evg__Envelope			 req = EVG__ENVELOPE__INIT;
	Evg__Envelope			*rep = NULL;
	Evg__SnapshotDeleteRequest	 body =
	    EVG__SNAPSHOT_DELETE_REQUEST__INIT;
	const Evg__SnapshotList		*list;
	const Evg__Snapshot		*s = NULL;
	struct json_object		*doc, *o;
	char				*cause = NULL, buf[128], name[256];
	char				 safe[64];
	int				 code;

	if (!uuid_valid(uuid)) {
		xasprintf(&cause, "'%s' is not a snapshot UUID (expected "
		    "8-4-4-4-12 hexadecimal digits)", output_safe(safe,
		    sizeof safe, uuid));
		return (snapcmd_fail(EVG_INVALID_ARGUMENT, cause, NULL));
	}
	body.vm_uuid = (char *)"";
	body.snapshot = (char *)uuid;
	req.body_case = EVG__ENVELOPE__BODY_SNAPSHOT_DELETE;
	req.snapshot_delete = &body;
	rep = snapcmd_call(conf, &req, SNAPCMD_OP_MS, &code, &cause);
	if (rep == NULL || code != EVG_OK)
		return (snapcmd_fail(code, cause, rep));
	if ((list = snapcmd_snapshots(rep)) != NULL && list->n_snapshots != 0)
		s = list->snapshots[0];

	if (output_json()) {
		if (s != NULL)
			o = jsonout_guest_snapshot(s, snapcmd_device(s, buf,
			    sizeof buf, NULL));
		else {
			o = json_object_new_object();
			json_object_object_add(o, "uuid",
			    json_object_new_string(uuid));
		}
		doc = json_object_new_object();
		json_object_object_add(doc, "deleted", o);
		output_document(doc);
	} else if (s != NULL) {
		printf("Deleted snapshot \"%s\" (%s)\n", output_safe(name,
		    sizeof name, s->name), output_safe(safe, sizeof safe,
		    s->uuid));
	} else
		printf("Deleted snapshot %s\n", uuid);
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

	if (snapcmd_plan(conf, d, &plan, cause) == -1)
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

/* snapshot rollback; see snapcmd.h. */
int
snapcmd_rollback(const struct snapcmd_config *conf, const char *snap,
    const char *arg)
{
	Evg__Envelope				 req = EVG__ENVELOPE__INIT;
	Evg__Envelope				*rep = NULL;
	Evg__GuestSnapshotRollbackRequest	 body =
	    EVG__GUEST_SNAPSHOT_ROLLBACK_REQUEST__INIT;
	const Evg__SnapshotList			*list;
	const Evg__Snapshot			*s = NULL;
	struct snapcmd_disk			 d;
	struct json_object			*doc;
	char					*cause = NULL, name[256];
	char					 uuid[64], dev[128];
	int					 code;

	if (snapcmd_resolve(arg, &d, &cause) == -1)
		return (snapcmd_fail(EVG_INVALID_ARGUMENT, cause, NULL));
	if ((code = snapcmd_unused(conf, &d, &cause)) != EVG_OK)
		goto fail;
	body.snapshot = (char *)snap;
	body.disks = d.refs;
	body.n_disks = d.n;
	req.body_case = EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_ROLLBACK;
	req.guest_snapshot_rollback = &body;
	rep = snapcmd_call(conf, &req, SNAPCMD_OP_MS, &code, &cause);
	if (rep == NULL || code != EVG_OK)
		goto fail;
	if ((list = snapcmd_snapshots(rep)) != NULL && list->n_snapshots != 0)
		s = list->snapshots[0];

	if (output_json()) {
		doc = json_object_new_object();
		json_object_object_add(doc, "disk",
		    json_object_new_string(arg));
		if (s != NULL)
			json_object_object_add(doc, "rolled_back",
			    jsonout_guest_snapshot(s, arg));
		output_document(doc);
	} else if (s != NULL && strcmp(s->state, "rollback-scheduled") == 0) {
		printf("Rollback of %s to snapshot \"%s\" (%s) is scheduled: "
		    "the host carries it out when this VM is stopped; restart "
		    "the VM\n", output_safe(dev, sizeof dev, arg),
		    output_safe(name, sizeof name, s->name),
		    output_safe(uuid, sizeof uuid, s->uuid));
	} else if (s != NULL) {
		printf("Rolled back %s to snapshot \"%s\" (%s)\n",
		    output_safe(dev, sizeof dev, arg), output_safe(name,
		    sizeof name, s->name), output_safe(uuid, sizeof uuid,
		    s->uuid));
	} else {
		printf("Rolled back %s to snapshot %s\n", output_safe(dev,
		    sizeof dev, arg), output_safe(name, sizeof name, snap));
	}
	snapcmd_flush(&d);
	codec_free(rep);
	snapcmd_disk_free(&d);
	return (output_finish());

fail:
	snapcmd_disk_free(&d);
	return (snapcmd_fail(code, cause, rep));
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

/* The check as one JSON document. */
static void
snapcmd_check_json(const struct snapcmd_disk *d, struct freeze_plan *plan,
    const Evg__CheckResult *cr)
{
	const struct freeze_entry	*e;
	struct json_object		*doc, *arr, *o, *v;
	size_t				 i;

	doc = json_object_new_object();
	json_object_object_add(doc, "disk", json_object_new_string(d->arg));
	arr = json_object_new_array();
	for (i = 0; i < d->n; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "device", json_object_new_string(
		    d->disks[i].devpath));
		json_object_object_add(o, "ids", snapcmd_ids_json(
		    d->disks[i].ids, d->disks[i].nids));
		json_object_array_add(arr, o);
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

/* The check as text. */
static void
snapcmd_check_text(const struct snapcmd_disk *d, struct freeze_plan *plan,
    const Evg__CheckResult *cr)
{
	const struct freeze_entry	*e;
	char				 a[256], b[256], c[512];
	size_t				 i, j;

	printf("Disk:        %s\n", output_safe(a, sizeof a, d->arg));
	for (i = 0; i < d->n; i++) {
		printf("  %s:", d->disks[i].devpath);
		for (j = 0; j < d->disks[i].nids; j++)
			printf(" %s:%s", d->disks[i].ids[j].kind,
			    d->disks[i].ids[j].value);
		printf("%s\n", d->disks[i].nids == 0 ? " no identifiers" : "");
	}
	if (freeze_plan_count(plan) == 0)
		printf("Freeze plan: no mounted filesystem on %s: the snapshot "
		    "would be crash-consistent\n", a);
	else
		printf("Freeze plan:\n");
	for (i = 0; i < freeze_plan_count(plan); i++) {
		e = freeze_plan_entry(plan, i);
		printf("  %-6s  %s (%s on %s)%s%s\n",
		    freeze_action_name(freeze_entry_action(e)),
		    output_safe(a, sizeof a, freeze_entry_mountpoint(e)),
		    freeze_entry_fstype(e), output_safe(b, sizeof b,
		    freeze_entry_device(e)), freeze_entry_reason(e) != NULL ?
		    ": " : "", freeze_entry_reason(e) == NULL ? "" :
		    output_safe(c, sizeof c, freeze_entry_reason(e)));
	}
	for (i = 0; i < cr->n_volumes; i++) {
		printf("%-13s%s (%s)\n", i == 0 ? "Volume:" : "",
		    output_safe(a, sizeof a, cr->volumes[i]->name),
		    output_safe(b, sizeof b, cr->volumes[i]->backend));
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
snapcmd_check(const struct snapcmd_config *conf, const char *arg)
{
	Evg__Envelope			 req = EVG__ENVELOPE__INIT;
	Evg__Envelope			*rep = NULL;
	Evg__GuestSnapshotCheckRequest	 body =
	    EVG__GUEST_SNAPSHOT_CHECK_REQUEST__INIT;
	const Evg__CheckResult		*cr;
	struct freeze_plan		*plan = NULL;
	struct snapcmd_disk		 d;
	char				*cause = NULL;
	int				 code, rc;

	if (snapcmd_resolve(arg, &d, &cause) == -1)
		return (snapcmd_fail(EVG_INVALID_ARGUMENT, cause, NULL));
	if (snapcmd_plan(conf, &d, &plan, &cause) == -1) {
		code = EVG_INTERNAL;
		goto fail;
	}
	body.disks = d.refs;
	body.n_disks = d.n;
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
		snapcmd_check_json(&d, plan, cr);
	else
		snapcmd_check_text(&d, plan, cr);
	rc = output_finish();
	if (rc == 0 && cr->code != EVG_OK)
		rc = status_exit_code(cr->code);
	freeze_plan_free(plan);
	codec_free(rep);
	snapcmd_disk_free(&d);
	return (rc);

fail:
	freeze_plan_free(plan);
	snapcmd_disk_free(&d);
	return (snapcmd_fail(code, cause, rep));
}
