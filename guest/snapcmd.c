/*
 * The shared plumbing of the snapshot commands of the guest CLI.  Each
 * command (snapcmd_create.c, snapcmd_list.c, snapcmd_delete.c,
 * snapcmd_rollback.c, snapcmd_check.c) resolves its DISK arguments here
 * (the host never sees a path alone: it matches volumes by the
 * identifiers), asks the host through snapcmd_call() over call.c and
 * shows the answer folded into snapshot groups (snapgroup.c), naming disks
 * by the guest's own device paths (snapcmd_devs(), snapcmd_group_json()).
 * What the files share is declared in snapcmd_impl.h.
 */
#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "call.h"
#include "codec.h"
#include "disk.h"
#include "diskref.h"
#include "freeze.h"
#include "jsonout.h"
#include "output.h"
#include "snapcmd_impl.h"
#include "snapgroup.h"
#include "status.h"
#include "xmalloc.h"

#define SNAPCMD_CONNECT_MS	5000
#define SNAPCMD_MOUNTINFO	"/proc/self/mountinfo"

/*
 * Resolve arg.  Returns 0, or -1 with *cause (a path that is not a block
 * device here).
 */
int
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
void
snapcmd_disk_free(struct snapcmd_disk *d)
{
	diskref_free(d->refs, d->n);
	disk_free(d->disks, d->n);
	memset(d, 0, sizeof *d);
}

/* Free what snapcmd_resolve_all() made. */
void
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
int
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
int
snapcmd_holds(unsigned int maj, unsigned int min, void *arg)
{
	const struct snapcmd_disk	*d = arg;

	return (disk_holds_dev(d->disks, d->n, maj, min));
}

/* The mounts holds accepts, as a freeze plan.  0 or -1 with *cause. */
int
snapcmd_plan(const struct snapcmd_config *conf, freeze_holds_cb holds,
    void *arg, struct freeze_plan **plan, char **cause)
{
	return (freeze_plan(conf->mountinfo != NULL ? conf->mountinfo :
	    SNAPCMD_MOUNTINFO, holds, arg, plan, cause));
}

/* Send req over an event-driven call; see call_run(). */
Evg__Envelope *
snapcmd_call(const struct snapcmd_config *conf, Evg__Envelope *req,
    int idle_ms, int *code, char **cause)
{
	return (snapcmd_call_disks(conf, req, idle_ms, NULL, code, cause));
}

/* The same, a freeze meanwhile taking set's disks as resolved. */
Evg__Envelope *
snapcmd_call_disks(const struct snapcmd_config *conf, Evg__Envelope *req,
    int idle_ms, const struct snapcmd_disks *set, int *code, char **cause)
{
	struct call_config	 cc = {
		.addr = &conf->addr,
		.software = conf->software,
		.connect_ms = SNAPCMD_CONNECT_MS,
		.idle_ms = idle_ms,
		.mountinfo = conf->mountinfo,
	};
	struct disk		*disks = NULL;
	Evg__Envelope		*rep;
	size_t			 i, n = 0;

	for (i = 0; set != NULL && i < set->n; i++) {
		disks = xreallocarray(disks, n + set->d[i].n, sizeof *disks);
		memcpy(disks + n, set->d[i].disks, set->d[i].n *
		    sizeof *disks);
		n += set->d[i].n;
	}
	cc.disks = disks;
	cc.ndisks = n;
	rep = call_run(&cc, req, code, cause);
	free(disks);
	return (rep);
}

/* Print a failure, free what the command held; returns the exit code. */
int
snapcmd_fail(int code, char *cause, Evg__Envelope *rep)
{
	int	rc;

	rc = output_failure(code, cause);
	free(cause);
	codec_free(rep);
	return (rc);
}

/* The snapshot list a reply carries, or NULL. */
const Evg__SnapshotList *
snapcmd_snapshots(const Evg__Envelope *rep)
{
	if (rep->reply->result_case != EVG__REPLY__RESULT_SNAPSHOT_LIST)
		return (NULL);
	return (rep->reply->snapshot_list);
}

/*
 * This VM's snapshots, every page of them; see snapcmd_impl.h.  Each page
 * is one call; the host names the last snapshot of a page in next, and a
 * page that does not move on (empty, or the same next again) is the host's
 * fault, not a reason to loop.
 */
int
snapcmd_list_all(const struct snapcmd_config *conf, struct snapcmd_list *l,
    char **cause)
{
	Evg__Envelope			 req = EVG__ENVELOPE__INIT;
	Evg__GuestSnapshotListRequest	 body =
	    EVG__GUEST_SNAPSHOT_LIST_REQUEST__INIT;
	Evg__Envelope			*rep;
	const Evg__SnapshotList		*page;
	char				*after = NULL;
	size_t				 i;
	int				 code = EVG_OK;

	memset(l, 0, sizeof *l);
	body.paged = 1;
	req.body_case = EVG__ENVELOPE__BODY_GUEST_SNAPSHOT_LIST;
	req.guest_snapshot_list = &body;
	for (;;) {
		body.after = after != NULL ? after : (char *)"";
		rep = snapcmd_call(conf, &req, SNAPCMD_QUICK_MS, &code, cause);
		if (rep == NULL || code != EVG_OK) {
			codec_free(rep);
			break;
		}
		l->reps = xreallocarray(l->reps, l->nreps + 1,
		    sizeof *l->reps);
		l->reps[l->nreps++] = rep;
		if ((page = snapcmd_snapshots(rep)) == NULL) {
			code = EVG_INTERNAL;
			*cause = xstrdup("the host's answer carries no snapshot "
			    "list");
			break;
		}
		l->snaps = xreallocarray(l->snaps, l->n + page->n_snapshots + 1,
		    sizeof *l->snaps);
		for (i = 0; i < page->n_snapshots; i++)
			l->snaps[l->n++] = page->snapshots[i];
		if (page->next == NULL || *page->next == '\0')
			break;
		if (page->n_snapshots == 0 || (after != NULL &&
		    strcmp(after, page->next) == 0)) {
			code = EVG_INTERNAL;
			*cause = xstrdup("the host's snapshot list pages do not "
			    "move on");
			break;
		}
		after = page->next;
	}
	if (code != EVG_OK)
		snapcmd_list_free(l);
	return (code);
}

/* Free what snapcmd_list_all() filled in (a zeroed one is fine). */
void
snapcmd_list_free(struct snapcmd_list *l)
{
	size_t	i;

	for (i = 0; i < l->nreps; i++)
		codec_free(l->reps[i]);
	free(l->reps);
	free(l->snaps);
	memset(l, 0, sizeof *l);
}

/* The guest device of a snapshot into buf, or fallback (may be NULL). */
const char *
snapcmd_device(const Evg__Snapshot *s, char *buf, size_t len,
    const char *fallback)
{
	return (snapcmd_device_in(s, NULL, buf, len, fallback));
}

/*
 * The disk of set (NULL: none) that matches a snapshot's identifiers best
 * (the first by kernel name among equals, as sysfs lists them), or NULL.
 */
static const struct disk *
snapcmd_known(const Evg__Snapshot *s, const struct snapcmd_disks *set)
{
	const struct disk	*d, *best = NULL;
	struct disk_id		 ids[DISK_MAX_IDS];
	size_t			 nids, i, j;
	int			 score, top = 0;

	if (set == NULL ||
	    (nids = diskref_ids(s->disk_ids, s->n_disk_ids, ids)) == 0)
		return (NULL);
	for (i = 0; i < set->n; i++) {
		for (j = 0; j < set->d[i].n; j++) {
			d = &set->d[i].disks[j];
			score = disk_match(d, ids, nids);
			if (score > top || (score == top && score > 0 &&
			    strcmp(d->name, best->name) < 0)) {
				top = score;
				best = d;
			}
		}
	}
	return (best);
}

/*
 * The same, looking first among the disks this command resolved (set,
 * NULL for none): the group a command just made or rolled back is on
 * those, and sysfs was read for them already.  A snapshot none of them
 * matches is looked for in sysfs.
 */
const char *
snapcmd_device_in(const Evg__Snapshot *s, const struct snapcmd_disks *set,
    char *buf, size_t len, const char *fallback)
{
	const struct disk	*d;
	const char		*dev;

	if ((d = snapcmd_known(s, set)) != NULL &&
	    strlen(d->devpath) < len) {
		memcpy(buf, d->devpath, strlen(d->devpath) + 1);
		return (buf);
	}
	dev = diskref_find(s->disk_ids, s->n_disk_ids, buf, len);
	return (dev != NULL ? dev : fallback);
}

/*
 * This VM's device of each member of g (NULL where no disk here has the
 * member's identifiers, or fallback if set), one per member; free with
 * snapcmd_devs_free().
 */
char **
snapcmd_devs(const struct snapgroup *g, const char *fallback)
{
	return (snapcmd_devs_in(g, fallback, NULL));
}

/* The same, set's disks first (see snapcmd_device_in()). */
char **
snapcmd_devs_in(const struct snapgroup *g, const char *fallback,
    const struct snapcmd_disks *set)
{
	char		**devs, buf[128];
	const char	 *dev;
	size_t		  i;

	devs = xcalloc(g->nmembers, sizeof *devs);
	for (i = 0; i < g->nmembers; i++) {
		dev = snapcmd_device_in(g->members[i], set, buf, sizeof buf,
		    fallback);
		devs[i] = dev != NULL ? xstrdup(dev) : NULL;
	}
	return (devs);
}

/* Free what snapcmd_devs() made for n members. */
void
snapcmd_devs_free(char **devs, size_t n)
{
	size_t	i;

	for (i = 0; devs != NULL && i < n; i++)
		free(devs[i]);
	free(devs);
}

/* A group as the guest shows it in JSON: members with this VM's disks. */
struct json_object *
snapcmd_group_json(const struct snapgroup *g, const char *fallback)
{
	return (snapcmd_group_json_in(g, fallback, NULL));
}

/* The same, set's disks first (see snapcmd_device_in()). */
struct json_object *
snapcmd_group_json_in(const struct snapgroup *g, const char *fallback,
    const struct snapcmd_disks *set)
{
	struct json_object	*o;
	char			**devs;

	devs = snapcmd_devs_in(g, fallback, set);
	o = jsonout_group(g, (const char *const *)devs);
	snapcmd_devs_free(devs, g->nmembers);
	return (o);
}
