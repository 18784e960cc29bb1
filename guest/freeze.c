/*
 * Freeze engine: plan from mountinfo, syncfs + FIFREEZE/FITHAW, auto-thaw
 * lease.
 *
 * A frozen entry keeps the descriptor it was frozen through until it is
 * thawed: FITHAW then reaches the same superblock even if the mount was
 * detached meanwhile, and no path lookup is needed while frozen.  Before
 * freezing, the opened directory must still be the mount that was planned
 * (same mount id): a mount point that was unmounted since planning resolves
 * to its parent filesystem, which may be "/", and freezing that by mistake
 * hangs the guest.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <linux/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "freeze.h"
#include "log.h"
#include "mountinfo.h"
#include "readfile.h"
#include "xmalloc.h"

/* Not in the kernel headers Debian 12 ships (no <linux/ext4.h>). */
#define EVG_EXT4_IOC_CHECKPOINT	_IOW('f', 43, uint32_t)

struct freeze_entry {
	char			*mountpoint;
	char			*device;
	char			*fstype;
	char			*root;		/* of the mount in its fs */
	unsigned int		 maj;		/* what the predicate accepted */
	unsigned int		 min;
	unsigned int		 sb_maj;	/* mountinfo's: the superblock */
	unsigned int		 sb_min;
	unsigned int		 mnt_id;
	int			 mount_ro;	/* "ro" in the per-mount options */
	int			 super_ro;	/* "ro" in the super options */
	size_t			 order;		/* line in mountinfo */
	size_t			 depth;		/* components of mountpoint */

	enum freeze_action	 action;
	char			*reason;	/* SKIP only */
	struct freeze_entry	*primary;	/* bind mounts: the frozen one */

	int			 frozen;
	int			 fd;		/* open while prepared, frozen */
	struct timespec		 frozen_at;	/* CLOCK_MONOTONIC */
};

struct freeze_plan {
	struct freeze_entry	**entries;
	size_t			 n;
	int			 prepared;	/* FREEZE entries open, synced */
	int			 applied;
	int			 held;		/* log_hold(1) in effect */
	int			 started;	/* first_freeze is valid */
	struct timespec		 first_freeze;	/* before its FIFREEZE */
	int			 ended;		/* last_thaw is valid */
	struct timespec		 last_thaw;	/* after the last FITHAW */
};

/* What the plan's predicate said of one device number. */
struct freeze_verdict {
	unsigned int	maj;
	unsigned int	min;
	int		holds;
};

struct freeze_lease {
	struct event		*ev;
	struct freeze_plan	*plan;
	freeze_lease_cb		 cb;
	void			*arg;
	struct timespec		 armed;		/* last start or renew */
	int			 expired;
};

/* Types known to lack freeze support (the kernel would say EOPNOTSUPP). */
static const char *freeze_unfreezable[] = {
	"vfat", "msdos", "exfat", "fuse", "fuseblk", "nfs", "nfs4", "cifs",
	"smb3", "9p", "virtiofs", "tmpfs", "iso9660", "squashfs", "erofs",
};

/* The monotonic clock now. */
static struct timespec
freeze_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts);
}

/* Milliseconds from a to b, rounded, never negative. */
static unsigned int
freeze_ms_between(const struct timespec *a, const struct timespec *b)
{
	long long	ms;

	ms = ((long long)(b->tv_sec - a->tv_sec) * 1000000000 +
	    (b->tv_nsec - a->tv_nsec) + 500000) / 1000000;
	return (ms < 0 ? 0 : (unsigned int)ms);
}

/*
 * Log "func: msg" as a warning with msg escaped: mount points are paths
 * anyone able to mount may choose, newlines included.
 */
static void
freeze_warn(const char *func, const char *msg)
{
	char	buf[1024];

	log_warnx("%s: %s", func, log_escape(buf, sizeof buf, msg,
	    strlen(msg)));
}

/* True if the comma-separated list opts holds "ro". */
static int
freeze_has_ro(const char *opts)
{
	const char	*p = opts, *end;

	for (;;) {
		end = strchr(p, ',');
		if ((end == NULL ? strlen(p) : (size_t)(end - p)) == 2 &&
		    strncmp(p, "ro", 2) == 0)
			return (1);
		if (end == NULL)
			return (0);
		p = end + 1;
	}
}

/* True if a filesystem of this type is known not to support freezing. */
static int
freeze_type_unfreezable(const char *type)
{
	size_t	i;

	if (strncmp(type, "fuse.", 5) == 0)
		return (1);
	for (i = 0; i < sizeof freeze_unfreezable /
	    sizeof freeze_unfreezable[0]; i++) {
		if (strcmp(type, freeze_unfreezable[i]) == 0)
			return (1);
	}
	return (0);
}

/* Number of path components of an absolute path ("/" has none). */
static size_t
freeze_depth(const char *path)
{
	size_t	n = 0;

	for (; *path != '\0'; path++) {
		if (path[0] != '/' && (path[1] == '/' || path[1] == '\0'))
			n++;
	}
	return (n);
}

/* Free one entry, closing a descriptor still open. */
static void
freeze_entry_free(struct freeze_entry *e)
{
	if (e->fd != -1)
		close(e->fd);
	free(e->mountpoint);
	free(e->device);
	free(e->fstype);
	free(e->root);
	free(e->reason);
	free(e);
}

/*
 * Parse one mountinfo line (modified in place).  The planner is stricter
 * than info: it also needs the mount id and the super options.  Returns
 * the entry, or NULL if the line is malformed.
 */
static struct freeze_entry *
freeze_parse_line(char *line)
{
	struct freeze_entry	*e;
	struct mountinfo_line	 m;

	if (mountinfo_parse_line(line, &m) == -1 || !m.id_ok ||
	    m.superoptions == NULL)
		return (NULL);
	e = xcalloc(1, sizeof *e);
	e->fd = -1;
	e->mnt_id = m.id;
	e->sb_maj = e->maj = m.maj;
	e->sb_min = e->min = m.min;
	e->root = xstrdup(m.root);
	e->mountpoint = xstrdup(m.mountpoint);
	e->mount_ro = freeze_has_ro(m.options);
	e->fstype = xstrdup(m.fstype);
	e->device = xstrdup(m.source);
	e->super_ro = freeze_has_ro(m.superoptions);
	e->depth = freeze_depth(e->mountpoint);
	return (e);
}

/*
 * A filesystem on an anonymous device (major 0: btrfs, for one) still
 * lives on the block device its source names; judge it by that.
 */
static void
freeze_resolve_device(struct freeze_entry *e)
{
	struct stat	st;

	if (e->maj != 0 || e->device[0] != '/')
		return;
	if (stat(e->device, &st) == 0 && S_ISBLK(st.st_mode)) {
		e->maj = major(st.st_rdev);
		e->min = minor(st.st_rdev);
	}
}

/* Order: deeper mount points first, then as mountinfo lists them. */
static int
freeze_cmp(const void *a, const void *b)
{
	const struct freeze_entry	*ea = *(struct freeze_entry *const *)a;
	const struct freeze_entry	*eb = *(struct freeze_entry *const *)b;

	if (ea->depth != eb->depth)
		return (ea->depth > eb->depth ? -1 : 1);
	if (ea->order != eb->order)
		return (ea->order < eb->order ? -1 : 1);
	return (0);
}

/*
 * Decide every entry's action.  The primary mount of a superblock is the
 * one showing its whole filesystem (root "/") if any, else the first; the
 * others are SKIP.  Read-only means the superblock is ("ro" in the super
 * options) or every mount of it is: one read-only bind mount next to a
 * writable one does not stop writes.  Entries are still in mountinfo
 * order here.
 */
static void
freeze_decide(struct freeze_plan *plan)
{
	struct freeze_entry	*e, *o, *p;
	size_t			 i, j;
	int			 all_ro;

	for (i = 0; i < plan->n; i++) {
		e = plan->entries[i];
		p = NULL;
		for (j = 0; j < plan->n; j++) {
			o = plan->entries[j];
			if (o->sb_maj != e->sb_maj || o->sb_min != e->sb_min)
				continue;
			if (p == NULL || (strcmp(o->root, "/") == 0 &&
			    strcmp(p->root, "/") != 0))
				p = o;
		}
		e->primary = p;
	}
	for (i = 0; i < plan->n; i++) {
		e = plan->entries[i];
		if (e->primary != e)
			continue;
		all_ro = 1;
		for (j = 0; j < plan->n; j++) {
			o = plan->entries[j];
			if (o->primary == e && !o->mount_ro)
				all_ro = 0;
		}
		if (e->super_ro || all_ro) {
			e->action = FREEZE_ACTION_SKIP;
			e->reason = xstrdup("read-only");
		} else if (freeze_type_unfreezable(e->fstype)) {
			e->action = FREEZE_ACTION_SKIP;
			xasprintf(&e->reason, "%s cannot be frozen", e->fstype);
		} else
			e->action = FREEZE_ACTION_FREEZE;
	}
	for (i = 0; i < plan->n; i++) {
		e = plan->entries[i];
		if (e->primary == e)
			continue;
		e->action = FREEZE_ACTION_SKIP;
		if (e->primary->action == FREEZE_ACTION_FREEZE)
			xasprintf(&e->reason, "bind mount of %s, frozen once",
			    e->primary->mountpoint);
		else
			xasprintf(&e->reason, "bind mount of %s (%s)",
			    e->primary->mountpoint, e->primary->reason);
	}
}

/* Build a plan from mountinfo; see freeze.h. */
int
freeze_plan(const char *path, freeze_holds_cb holds, void *arg,
    struct freeze_plan **out, char **cause)
{
	char	*text;
	size_t	 len;
	int	 rc;

	*out = NULL;
	/* However many mounts there are, each must be looked at. */
	if ((text = readfile_alloc(path, SIZE_MAX / 2, &len, cause)) == NULL)
		return (-1);
	rc = freeze_plan_text(text, len, path, holds, arg, out, cause);
	free(text);
	return (rc);
}

/* Build a plan from mountinfo text; see freeze.h. */
int
freeze_plan_text(const char *text, size_t len, const char *name,
    freeze_holds_cb holds, void *arg, struct freeze_plan **out, char **cause)
{
	struct freeze_plan	*plan;
	struct freeze_entry	*e;
	struct freeze_verdict	*seen = NULL;
	const char		*p = text, *end = text + len;
	char			*line, mp[256], dev[256], why[512];
	size_t			 lineno = 0, i, nseen = 0;
	int			 rc;

	*out = NULL;
	plan = xcalloc(1, sizeof *plan);
	while ((line = mountinfo_next(&p, end, &lineno)) != NULL) {
		e = freeze_parse_line(line);
		free(line);
		if (e == NULL) {
			xasprintf(cause, "%s: line %zu: malformed mount entry",
			    name, lineno);
			free(seen);
			freeze_plan_free(plan);
			return (-1);
		}
		freeze_resolve_device(e);
		/* The predicate reads sysfs: ask it once per device. */
		for (i = 0; i < nseen; i++) {
			if (seen[i].maj == e->maj && seen[i].min == e->min)
				break;
		}
		if (i == nseen) {
			rc = holds(e->maj, e->min, arg);
			seen = xreallocarray(seen, nseen + 1, sizeof *seen);
			seen[nseen].maj = e->maj;
			seen[nseen].min = e->min;
			seen[nseen++].holds = rc;
		}
		if (!seen[i].holds) {
			freeze_entry_free(e);
			continue;
		}
		e->order = plan->n;
		plan->entries = xreallocarray(plan->entries, plan->n + 1,
		    sizeof *plan->entries);
		plan->entries[plan->n++] = e;
	}
	free(seen);

	freeze_decide(plan);
	if (plan->n != 0)
		qsort(plan->entries, plan->n, sizeof *plan->entries,
		    freeze_cmp);
	for (i = 0; i < plan->n; i++) {
		e = plan->entries[i];
		log_debug("%s: %s (%s %s %u:%u): %s%s%s", __func__,
		    log_escape(mp, sizeof mp, e->mountpoint,
		    strlen(e->mountpoint)), e->fstype,
		    log_escape(dev, sizeof dev, e->device, strlen(e->device)),
		    e->maj, e->min, freeze_action_name(e->action),
		    e->reason != NULL ? ", " : "", e->reason == NULL ? "" :
		    log_escape(why, sizeof why, e->reason, strlen(e->reason)));
	}
	*out = plan;
	return (0);
}

/* Append one message to a "; "-separated list. */
static void
freeze_append(char **list, const char *msg)
{
	char	*old = *list;

	if (old == NULL) {
		*list = xstrdup(msg);
		return;
	}
	xasprintf(list, "%s; %s", old, msg);
	free(old);
}

/* Thaw the frozen entries in reverse order; see freeze.h. */
int
freeze_thaw(struct freeze_plan *plan, char **cause)
{
	struct freeze_entry	*e;
	struct timespec		 last = { 0, 0 };
	char			*errors = NULL, *msg;
	size_t			 i, thawed = 0;

	for (i = plan->n; i-- > 0;) {
		e = plan->entries[i];
		if (!e->frozen)
			continue;
		if (ioctl(e->fd, FITHAW, 0) == -1 && errno != EINVAL) {
			xasprintf(&msg, "cannot thaw %s: %s", e->mountpoint,
			    strerror(errno));
			freeze_warn(__func__, msg);
			freeze_append(&errors, msg);
			free(msg);
			continue;
		}
		/* The freeze lasts until the last FITHAW has returned. */
		last = freeze_now();
		close(e->fd);
		e->fd = -1;
		e->frozen = 0;
		thawed++;
	}
	if (freeze_plan_frozen_count(plan) == 0) {
		if (plan->started && !plan->ended) {
			plan->last_thaw = thawed != 0 ? last : freeze_now();
			plan->ended = 1;
		}
		if (plan->held) {
			plan->held = 0;
			log_hold(0);
		}
	}
	if (thawed != 0)
		log_info("%s: thawed %zu filesystems after %u ms", __func__,
		    thawed, freeze_plan_duration_ms(plan));
	if (errors != NULL) {
		*cause = errors;
		return (-1);
	}
	return (0);
}

/*
 * Open an entry's mount point and check it is still the planned mount.
 * Returns the descriptor, or -1 with *cause.
 */
static int
freeze_open(const struct freeze_entry *e, char **cause)
{
	struct statx	stx;
	struct stat	st;
	int		fd, same;

	fd = open(e->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		xasprintf(cause, "cannot open %s: %s", e->mountpoint,
		    strerror(errno));
		return (-1);
	}
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) == 0 &&
	    (stx.stx_mask & STATX_MNT_ID))
		same = (stx.stx_mnt_id == e->mnt_id);
	else if (fstat(fd, &st) == 0)
		same = (st.st_dev == makedev(e->sb_maj, e->sb_min));
	else
		same = 0;
	if (!same) {
		xasprintf(cause, "%s is no longer the %s filesystem on %s that "
		    "was planned (unmounted or mounted over?)", e->mountpoint,
		    e->fstype, e->device);
		close(fd);
		return (-1);
	}
	return (fd);
}

/* Open an entry's mount point, checked; see freeze.h. */
int
freeze_entry_open(const struct freeze_entry *e, char **cause)
{
	return (freeze_open(e, cause));
}

/* Turn an entry and its bind mounts into SKIP with reason. */
static void
freeze_skip(struct freeze_plan *plan, struct freeze_entry *e,
    const char *reason)
{
	struct freeze_entry	*o;
	size_t			 i;

	e->action = FREEZE_ACTION_SKIP;
	free(e->reason);
	e->reason = xstrdup(reason);
	for (i = 0; i < plan->n; i++) {
		o = plan->entries[i];
		if (o->primary != e || o == e)
			continue;
		free(o->reason);
		xasprintf(&o->reason, "bind mount of %s (%s)", e->mountpoint,
		    reason);
	}
}

/*
 * Write back what FIFREEZE would write itself, with writers blocked and
 * the guest frozen: the dirty data (syncfs) and, for ext4, the journal's
 * checkpoint (what it holds written to its home blocks and the journal
 * emptied), most of a freeze's own time: about 1 of 1.5 ms on a loop
 * device of a test machine.  Done first, the freeze finds little to do
 * (about 0.4 ms).  EXT4_IOC_CHECKPOINT (Linux 5.14) with no flags only
 * flushes; an older kernel says ENOTTY and the freeze checkpoints as
 * before.  Returns NULL, or what failed with errno set.  A failure is
 * FIFREEZE's to report: it does the same again.
 */
static const char *
freeze_flush(const struct freeze_entry *e)
{
	uint32_t	flags = 0;

	if (syncfs(e->fd) == -1)
		return ("syncfs");
	if (strcmp(e->fstype, "ext4") == 0 &&
	    ioctl(e->fd, EVG_EXT4_IOC_CHECKPOINT, &flags) == -1 &&
	    errno != ENOTTY)
		return ("ext4 journal checkpoint of");
	return (NULL);
}

/* Close the descriptors of entries prepared but not frozen. */
static void
freeze_unprepare(struct freeze_plan *plan)
{
	struct freeze_entry	*e;
	size_t			 i;

	for (i = 0; i < plan->n; i++) {
		e = plan->entries[i];
		if (!e->frozen && e->fd != -1) {
			close(e->fd);
			e->fd = -1;
		}
	}
	plan->prepared = 0;
}

/* Open and sync the FREEZE entries; see freeze.h. */
int
freeze_prepare(struct freeze_plan *plan, char **cause)
{
	struct freeze_entry	*e;
	const char		*what;
	char			 mp[256];
	size_t			 i;

	if (plan->applied) {
		*cause = xstrdup("freeze plan already applied");
		return (-1);
	}
	if (plan->prepared)
		return (0);
	for (i = 0; i < plan->n; i++) {
		e = plan->entries[i];
		if (e->action != FREEZE_ACTION_FREEZE)
			continue;
		if ((e->fd = freeze_open(e, cause)) == -1) {
			freeze_unprepare(plan);
			freeze_warn(__func__, *cause);
			return (-1);
		}
		if ((what = freeze_flush(e)) != NULL)
			log_debug("%s: %s %s: %s", __func__, what, log_escape(mp,
			    sizeof mp, e->mountpoint, strlen(e->mountpoint)),
			    strerror(errno));
	}
	plan->prepared = 1;
	return (0);
}

/* Freeze the FREEZE entries in order; see freeze.h. */
int
freeze_apply(struct freeze_plan *plan, char **cause)
{
	struct freeze_entry	*e;
	struct timespec		 before;
	char			*why = NULL, *thaw_cause = NULL, *reason;
	char			 mp[256];
	size_t			 i;

	if (plan->applied) {
		*cause = xstrdup("freeze plan already applied");
		return (-1);
	}
	if (freeze_prepare(plan, cause) == -1) {
		plan->applied = 1;
		return (-1);
	}
	plan->applied = 1;
	for (i = 0; i < plan->n; i++) {
		e = plan->entries[i];
		if (e->action != FREEZE_ACTION_FREEZE)
			continue;
		if (!plan->held) {
			log_hold(1);
			plan->held = 1;
		}
		/* The freeze counts from before its first FIFREEZE. */
		before = freeze_now();
		if (ioctl(e->fd, FIFREEZE, 0) == -1) {
			if (errno == EOPNOTSUPP || errno == ENOTTY) {
				xasprintf(&reason, "%s does not support "
				    "freezing", e->fstype);
				log_info("%s: %s: %s", __func__, log_escape(mp,
				    sizeof mp, e->mountpoint,
				    strlen(e->mountpoint)), reason);
				freeze_skip(plan, e, reason);
				free(reason);
				close(e->fd);
				e->fd = -1;
				continue;
			}
			if (errno == EBUSY)
				xasprintf(&why, "%s is already frozen (by "
				    "another process)", e->mountpoint);
			else
				xasprintf(&why, "cannot freeze %s: %s",
				    e->mountpoint, strerror(errno));
			goto fail;
		}
		e->frozen = 1;
		e->frozen_at = before;
		if (!plan->started) {
			plan->first_freeze = before;
			plan->started = 1;
		}
	}
	freeze_unprepare(plan);
	if (plan->held && freeze_plan_frozen_count(plan) == 0) {
		plan->held = 0;
		log_hold(0);
	}
	log_info("%s: froze %zu filesystems", __func__,
	    freeze_plan_frozen_count(plan));
	return (0);

fail:
	if (freeze_thaw(plan, &thaw_cause) == -1) {
		xasprintf(cause, "%s; and then %s", why, thaw_cause);
		free(why);
		free(thaw_cause);
	} else
		*cause = why;
	freeze_unprepare(plan);
	freeze_warn(__func__, *cause);
	return (-1);
}

/* Thaw what is still frozen and free the plan. */
void
freeze_plan_free(struct freeze_plan *plan)
{
	char	*cause = NULL;
	size_t	 i;

	if (plan == NULL)
		return;
	if (freeze_plan_frozen_count(plan) != 0) {
		log_warnx("%s: %zu filesystems still frozen, thawing",
		    __func__, freeze_plan_frozen_count(plan));
		if (freeze_thaw(plan, &cause) == -1) {
			freeze_warn(__func__, cause);
			free(cause);
		}
	}
	if (plan->held)
		log_hold(0);
	for (i = 0; i < plan->n; i++)
		freeze_entry_free(plan->entries[i]);
	free(plan->entries);
	free(plan);
}

/* Number of entries. */
size_t
freeze_plan_count(const struct freeze_plan *plan)
{
	return (plan->n);
}

/* Entry i. */
const struct freeze_entry *
freeze_plan_entry(const struct freeze_plan *plan, size_t i)
{
	if (i >= plan->n)
		fatalx("%s: entry %zu of %zu", __func__, i, plan->n);
	return (plan->entries[i]);
}

/* Entries frozen now. */
size_t
freeze_plan_frozen_count(const struct freeze_plan *plan)
{
	size_t	i, n = 0;

	for (i = 0; i < plan->n; i++) {
		if (plan->entries[i]->frozen)
			n++;
	}
	return (n);
}

/* First freeze to last thaw, or to now while frozen. */
unsigned int
freeze_plan_duration_ms(const struct freeze_plan *plan)
{
	struct timespec	now;

	if (!plan->started)
		return (0);
	if (plan->ended)
		return (freeze_ms_between(&plan->first_freeze,
		    &plan->last_thaw));
	now = freeze_now();
	return (freeze_ms_between(&plan->first_freeze, &now));
}

/* When the first entry was frozen. */
const struct timespec *
freeze_plan_started_at(const struct freeze_plan *plan)
{
	return (&plan->first_freeze);
}

/* The mount point. */
const char *
freeze_entry_mountpoint(const struct freeze_entry *e)
{
	return (e->mountpoint);
}

/* The mount source. */
const char *
freeze_entry_device(const struct freeze_entry *e)
{
	return (e->device);
}

/* The filesystem type. */
const char *
freeze_entry_fstype(const struct freeze_entry *e)
{
	return (e->fstype);
}

/* The accepted block device number. */
void
freeze_entry_devnum(const struct freeze_entry *e, unsigned int *maj,
    unsigned int *min)
{
	*maj = e->maj;
	*min = e->min;
}

/* FREEZE or SKIP. */
enum freeze_action
freeze_entry_action(const struct freeze_entry *e)
{
	return (e->action);
}

/* Why SKIP, or NULL. */
const char *
freeze_entry_reason(const struct freeze_entry *e)
{
	return (e->action == FREEZE_ACTION_SKIP ? e->reason : NULL);
}

/* Frozen by us right now. */
int
freeze_entry_frozen(const struct freeze_entry *e)
{
	return (e->frozen);
}

/* The entry's open descriptor, or -1. */
int
freeze_entry_fd(const struct freeze_entry *e)
{
	return (e->fd);
}

/* When the entry was last frozen. */
const struct timespec *
freeze_entry_frozen_at(const struct freeze_entry *e)
{
	return (&e->frozen_at);
}

/* Name of an action for reports. */
const char *
freeze_action_name(enum freeze_action a)
{
	return (a == FREEZE_ACTION_FREEZE ? "freeze" : "skip");
}

/* Clamp a lease deadline to its bounds. */
unsigned int
freeze_lease_clamp(unsigned int ms)
{
	if (ms < FREEZE_LEASE_MIN_MS)
		return (FREEZE_LEASE_MIN_MS);
	if (ms > FREEZE_LEASE_MAX_MS)
		return (FREEZE_LEASE_MAX_MS);
	return (ms);
}

/* (Re)arm the lease's timer for ms (clamped) from now. */
static void
freeze_lease_arm(struct freeze_lease *lease, unsigned int ms)
{
	struct timeval	tv;

	ms = freeze_lease_clamp(ms);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	lease->armed = freeze_now();
	/*
	 * libevent times a timer from the loop's cached clock, which inside a
	 * callback is as old as the callback; after a long syncfs() the lease
	 * would otherwise be short by that long.
	 */
	event_base_update_cache_time(event_get_base(lease->ev));
	if (evtimer_add(lease->ev, &tv) == -1)
		fatalx("%s: evtimer_add failed", __func__);
}

/* The deadline passed: thaw, log, then tell the owner. */
static void
freeze_lease_expire(evutil_socket_t fd, short events, void *arg)
{
	struct freeze_lease	*lease = arg;
	struct freeze_plan	*plan = lease->plan;
	struct timespec		 now = freeze_now();
	char			*cause = NULL;
	size_t			 before;

	(void)fd;
	(void)events;
	lease->expired = 1;
	before = freeze_plan_frozen_count(plan);
	freeze_thaw(plan, &cause);
	log_warnx("%s: lease expired after %u ms: thawed %zu filesystems",
	    __func__, freeze_ms_between(&lease->armed, &now),
	    before - freeze_plan_frozen_count(plan));
	if (cause != NULL)
		freeze_warn(__func__, cause);
	/* The callback may free the lease: touch nothing of it afterwards. */
	lease->cb(lease, plan, cause, lease->arg);
	free(cause);
}

/* Start an auto-thaw deadline; see freeze.h. */
struct freeze_lease *
freeze_lease_start(struct event_base *base, struct freeze_plan *plan,
    unsigned int ms, freeze_lease_cb cb, void *arg)
{
	struct freeze_lease	*lease;

	lease = xcalloc(1, sizeof *lease);
	lease->plan = plan;
	lease->cb = cb;
	lease->arg = arg;
	if ((lease->ev = evtimer_new(base, freeze_lease_expire, lease)) ==
	    NULL)
		fatalx("%s: evtimer_new failed", __func__);
	freeze_lease_arm(lease, ms);
	return (lease);
}

/* Push the deadline out; -1 if it already passed. */
int
freeze_lease_renew(struct freeze_lease *lease, unsigned int ms)
{
	if (lease->expired)
		return (-1);
	freeze_lease_arm(lease, ms);
	return (0);
}

/* Has the lease expired? */
int
freeze_lease_expired(const struct freeze_lease *lease)
{
	return (lease->expired);
}

/* Disarm and free. */
void
freeze_lease_stop(struct freeze_lease *lease)
{
	if (lease == NULL)
		return;
	event_free(lease->ev);
	free(lease);
}
