/*
 * Unit tests for guest/freeze.c.  The "plan" and "lease" cases use fake
 * mountinfo files and freeze nothing.  The "real" case (root only) makes
 * its own loop filesystems in a temp dir and freezes only those: before
 * every freeze_apply() and every FIFREEZE here, each mount point about to
 * be frozen is checked to be inside the temp dir and on one of the devices
 * the fixture made, because freezing "/" by mistake hangs the machine.
 * The fixture thaws, unmounts and detaches everything in teardown, which
 * runs in the runner's own process so that it happens even when a test
 * fails or is killed.
 */
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "freeze.h"
#include "guardian.h"
#include "suites.h"
#include "testutil.h"
#include "xmalloc.h"

#define IMAGE_MB	24
/* How long a write to a frozen filesystem must stay blocked. */
#define BLOCKED_MS	500
/* How long a write to a writable filesystem may take. */
#define WRITE_MS	2000

/* Block devices a test predicate accepts. */
struct devset {
	unsigned int	maj[8];
	unsigned int	min[8];
	size_t		n;
};

static char	plan_dir[64];

/* Predicate for tests: is maj:min in the devset? */
static int
devset_holds(unsigned int maj, unsigned int min, void *arg)
{
	const struct devset	*ds = arg;
	size_t			 i;

	for (i = 0; i < ds->n; i++) {
		if (ds->maj[i] == maj && ds->min[i] == min)
			return (1);
	}
	return (0);
}

/* Add maj:min to a devset. */
static void
devset_add(struct devset *ds, unsigned int maj, unsigned int min)
{
	ck_assert_uint_lt(ds->n, sizeof ds->maj / sizeof ds->maj[0]);
	ds->maj[ds->n] = maj;
	ds->min[ds->n] = min;
	ds->n++;
}

/* Checked fixture of the plan tests: a temp dir for fake mountinfo. */
static void
plan_setup(void)
{
	snprintf(plan_dir, sizeof plan_dir, "/tmp/evg-freeze-plan-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(plan_dir));
}

/* Remove the fake mountinfo and the dir. */
static void
plan_teardown(void)
{
	char	path[128];

	snprintf(path, sizeof path, "%s/mountinfo", plan_dir);
	unlink(path);
	rmdir(plan_dir);
}

/* Write text as the fake mountinfo; returns its path (static). */
static const char *
fake_mountinfo(const char *text)
{
	static char	 path[128];
	FILE		*f;

	snprintf(path, sizeof path, "%s/mountinfo", plan_dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	return (path);
}

/* Plan from text with ds, asserting success. */
static struct freeze_plan *
plan_text(const char *text, struct devset *ds)
{
	struct freeze_plan	*plan = NULL;
	char			*cause = NULL;

	ck_assert_msg(freeze_plan(fake_mountinfo(text), devset_holds, ds,
	    &plan, &cause) == 0, "freeze_plan: %s", cause);
	ck_assert_ptr_nonnull(plan);
	return (plan);
}

/* The entry mounted at mp, or NULL. */
static const struct freeze_entry *
find_entry(const struct freeze_plan *plan, const char *mp)
{
	const struct freeze_entry	*e;
	size_t				 i;

	for (i = 0; i < freeze_plan_count(plan); i++) {
		e = freeze_plan_entry(plan, i);
		if (strcmp(freeze_entry_mountpoint(e), mp) == 0)
			return (e);
	}
	return (NULL);
}

/* Assert the entry at mp exists with this action and reason (or NULL). */
static void
assert_entry(const struct freeze_plan *plan, const char *mp,
    enum freeze_action action, const char *reason)
{
	const struct freeze_entry	*e = find_entry(plan, mp);

	ck_assert_msg(e != NULL, "no entry for %s", mp);
	ck_assert_msg(freeze_entry_action(e) == action, "%s: action %s",
	    mp, freeze_action_name(freeze_entry_action(e)));
	if (reason == NULL)
		ck_assert_ptr_null(freeze_entry_reason(e));
	else {
		ck_assert_ptr_nonnull(freeze_entry_reason(e));
		ck_assert_str_eq(freeze_entry_reason(e), reason);
	}
	ck_assert_int_eq(freeze_entry_frozen(e), 0);
}

/* A guest as it looks: / and /boot on 254:x, the target disk on 7:0. */
static const char realistic[] =
    "22 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc "
    "proc rw\n"
    "23 27 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs "
    "sysfs rw\n"
    "24 27 0:5 / /dev rw,nosuid,relatime shared:8 - devtmpfs udev "
    "rw,size=987654k,nr_inodes=246913,mode=755\n"
    "27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 "
    "rw,errors=remount-ro\n"
    "28 27 254:2 / /boot rw,relatime shared:30 - ext4 /dev/vda2 rw\n"
    "29 27 0:26 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs "
    "tmpfs rw,size=202020k,mode=755\n"
    "40 27 7:0 / /mnt/data rw,relatime shared:40 - ext4 /dev/loop0 rw\n"
    "41 27 254:1 /var/lib/docker /var/lib/docker rw,relatime shared:1 - "
    "ext4 /dev/vda1 rw,errors=remount-ro\n";

/* Proves only mounts the predicate accepts appear: nothing on 254:x. */
START_TEST(test_plan_select)
{
	struct devset		 ds = { .n = 0 };
	struct freeze_plan	*plan;
	const struct freeze_entry *e;
	unsigned int		 maj, min;

	devset_add(&ds, 7, 0);
	plan = plan_text(realistic, &ds);
	ck_assert_uint_eq(freeze_plan_count(plan), 1);
	e = freeze_plan_entry(plan, 0);
	ck_assert_str_eq(freeze_entry_mountpoint(e), "/mnt/data");
	ck_assert_str_eq(freeze_entry_device(e), "/dev/loop0");
	ck_assert_str_eq(freeze_entry_fstype(e), "ext4");
	freeze_entry_devnum(e, &maj, &min);
	ck_assert_uint_eq(maj, 7);
	ck_assert_uint_eq(min, 0);
	ck_assert_int_eq(freeze_entry_action(e), FREEZE_ACTION_FREEZE);
	ck_assert_ptr_null(find_entry(plan, "/"));
	ck_assert_uint_eq(freeze_plan_frozen_count(plan), 0);
	ck_assert_uint_eq(freeze_plan_duration_ms(plan), 0);
	ck_assert_int_eq(freeze_plan_started_at(plan)->tv_sec, 0);
	freeze_plan_free(plan);
}
END_TEST

/* A devset predicate that counts the questions. */
struct counted {
	struct devset	ds;
	unsigned int	calls;
};

static int
counted_holds(unsigned int maj, unsigned int min, void *arg)
{
	struct counted	*c = arg;

	c->calls++;
	return (devset_holds(maj, min, &c->ds));
}

/*
 * Proves the predicate (which reads sysfs) is asked once per device
 * number, however many mounts share it: the realistic guest has eight
 * mounts on seven (254:1 twice), and the second mount of 254:1 gets the
 * first one's answer.
 */
START_TEST(test_plan_holds_once)
{
	struct counted		 c;
	struct freeze_plan	*plan = NULL;
	char			*cause = NULL;

	memset(&c, 0, sizeof c);
	devset_add(&c.ds, 254, 1);
	ck_assert_msg(freeze_plan(fake_mountinfo(realistic), counted_holds,
	    &c, &plan, &cause) == 0, "freeze_plan: %s", cause);
	ck_assert_uint_eq(c.calls, 7);
	ck_assert_uint_eq(freeze_plan_count(plan), 2);
	ck_assert_ptr_nonnull(find_entry(plan, "/"));
	ck_assert_ptr_nonnull(find_entry(plan, "/var/lib/docker"));
	freeze_plan_free(plan);
}
END_TEST

/* Proves a predicate that accepts nothing gives an empty plan. */
START_TEST(test_plan_rejects_all)
{
	struct devset		 ds = { .n = 0 };
	struct freeze_plan	*plan;

	devset_add(&ds, 8, 32);
	plan = plan_text(realistic, &ds);
	ck_assert_uint_eq(freeze_plan_count(plan), 0);
	freeze_plan_free(plan);
}
END_TEST

/*
 * Proves each superblock is frozen once: the mount of the whole filesystem
 * wins even when a bind mount of a subdirectory is listed first, and the
 * others are reported as bind mounts.  Without a root mount, the first
 * listed wins.
 */
START_TEST(test_plan_bind_dedup)
{
	struct devset		 ds = { .n = 0 };
	struct freeze_plan	*plan;

	devset_add(&ds, 7, 0);
	devset_add(&ds, 7, 1);
	plan = plan_text(
	    "27 1 254:1 / / rw - ext4 /dev/vda1 rw\n"
	    "50 27 7:0 /export /srv/export rw - ext4 /dev/loop0 rw\n"
	    "51 27 7:0 / /mnt/data rw - ext4 /dev/loop0 rw\n"
	    "52 27 7:0 / /mnt/again rw - ext4 /dev/loop0 rw\n"
	    "53 27 7:1 /x /mnt/x rw - xfs /dev/loop1 rw\n"
	    "54 27 7:1 /y /mnt/y rw - xfs /dev/loop1 rw\n", &ds);
	ck_assert_uint_eq(freeze_plan_count(plan), 5);
	assert_entry(plan, "/mnt/data", FREEZE_ACTION_FREEZE, NULL);
	assert_entry(plan, "/srv/export", FREEZE_ACTION_SKIP,
	    "bind mount of /mnt/data, frozen once");
	assert_entry(plan, "/mnt/again", FREEZE_ACTION_SKIP,
	    "bind mount of /mnt/data, frozen once");
	assert_entry(plan, "/mnt/x", FREEZE_ACTION_FREEZE, NULL);
	assert_entry(plan, "/mnt/y", FREEZE_ACTION_SKIP,
	    "bind mount of /mnt/x, frozen once");
	freeze_plan_free(plan);
}
END_TEST

/*
 * Proves children come before parents whatever the mountinfo order, and
 * that mounts of equal depth keep the mountinfo order.
 */
START_TEST(test_plan_nested_order)
{
	struct devset		 ds = { .n = 0 };
	struct freeze_plan	*plan;
	static const char	*want[] = { "/mnt/data/sub/deeper",
				    "/mnt/data/sub", "/mnt/data", "/mnt/other",
				    "/" };
	size_t			 i;

	for (i = 0; i < 5; i++)
		devset_add(&ds, 7, (unsigned int)i);
	plan = plan_text(
	    "27 1 7:4 / / rw - ext4 /dev/loop4 rw\n"
	    "60 27 7:0 / /mnt/data rw - ext4 /dev/loop0 rw\n"
	    "61 60 7:1 / /mnt/data/sub rw - ext4 /dev/loop1 rw\n"
	    "62 27 7:2 / /mnt/other rw - ext4 /dev/loop2 rw\n"
	    "63 61 7:3 / /mnt/data/sub/deeper rw - ext4 /dev/loop3 rw\n", &ds);
	ck_assert_uint_eq(freeze_plan_count(plan), 5);
	for (i = 0; i < 5; i++)
		ck_assert_str_eq(freeze_entry_mountpoint(freeze_plan_entry(plan,
		    i)), want[i]);
	freeze_plan_free(plan);
}
END_TEST

/*
 * Proves read-only filesystems are skipped ("ro" per mount or per
 * superblock), but a read-only bind mount of a writable one is not enough.
 */
START_TEST(test_plan_read_only)
{
	struct devset		 ds = { .n = 0 };
	struct freeze_plan	*plan;

	devset_add(&ds, 7, 0);
	devset_add(&ds, 7, 1);
	devset_add(&ds, 7, 2);
	plan = plan_text(
	    "70 27 7:0 / /mnt/ro ro,relatime - ext4 /dev/loop0 ro\n"
	    "71 27 7:1 / /mnt/sro rw,relatime - ext4 /dev/loop1 ro,data=ordered\n"
	    "72 27 7:2 / /mnt/rw rw,relatime - ext4 /dev/loop2 rw\n"
	    "73 27 7:2 / /mnt/rw-view ro,relatime - ext4 /dev/loop2 rw\n"
	    "74 27 7:0 / /mnt/ro2 ro,noatime - ext4 /dev/loop0 ro\n", &ds);
	assert_entry(plan, "/mnt/ro", FREEZE_ACTION_SKIP, "read-only");
	assert_entry(plan, "/mnt/ro2", FREEZE_ACTION_SKIP,
	    "bind mount of /mnt/ro (read-only)");
	assert_entry(plan, "/mnt/sro", FREEZE_ACTION_SKIP, "read-only");
	assert_entry(plan, "/mnt/rw", FREEZE_ACTION_FREEZE, NULL);
	assert_entry(plan, "/mnt/rw-view", FREEZE_ACTION_SKIP,
	    "bind mount of /mnt/rw, frozen once");
	freeze_plan_free(plan);
}
END_TEST

/* Proves unfreezable types are skipped, each with its type in the reason. */
START_TEST(test_plan_unfreezable)
{
	struct devset		 ds = { .n = 0 };
	struct freeze_plan	*plan;
	unsigned int		 i;

	for (i = 0; i < 6; i++)
		devset_add(&ds, 8, i);
	plan = plan_text(
	    "80 27 8:0 / /mnt/usb rw,relatime - vfat /dev/sda1 "
	    "rw,fmask=0022,dmask=0022,codepage=437,errors=remount-ro\n"
	    "81 27 8:1 / /mnt/sshfs rw,nosuid,nodev - fuse.sshfs me@h:/ "
	    "rw,user_id=0,group_id=0\n"
	    "82 27 8:2 / /mnt/ntfs rw,relatime - fuseblk /dev/sdb1 "
	    "rw,user_id=0,group_id=0,allow_other\n"
	    "83 27 8:3 / /mnt/fuse rw - fuse /dev/fuse rw\n"
	    "84 27 8:4 / /mnt/share rw - virtiofs share rw\n"
	    "85 27 8:5 / /mnt/ext rw - ext4 /dev/sdc1 rw\n", &ds);
	ck_assert_uint_eq(freeze_plan_count(plan), 6);
	assert_entry(plan, "/mnt/usb", FREEZE_ACTION_SKIP,
	    "vfat cannot be frozen");
	assert_entry(plan, "/mnt/sshfs", FREEZE_ACTION_SKIP,
	    "fuse.sshfs cannot be frozen");
	assert_entry(plan, "/mnt/ntfs", FREEZE_ACTION_SKIP,
	    "fuseblk cannot be frozen");
	assert_entry(plan, "/mnt/fuse", FREEZE_ACTION_SKIP,
	    "fuse cannot be frozen");
	assert_entry(plan, "/mnt/share", FREEZE_ACTION_SKIP,
	    "virtiofs cannot be frozen");
	assert_entry(plan, "/mnt/ext", FREEZE_ACTION_FREEZE, NULL);
	freeze_plan_free(plan);
}
END_TEST

/* Proves octal escapes in mount points and sources are undone. */
START_TEST(test_plan_escapes)
{
	struct devset		 ds = { .n = 0 };
	struct freeze_plan	*plan;
	const struct freeze_entry *e;

	devset_add(&ds, 7, 0);
	devset_add(&ds, 7, 1);
	plan = plan_text(
	    "90 27 7:0 / /mnt/my\\040disk rw - ext4 /dev/loop0 rw\n"
	    "91 27 7:1 / /mnt/tab\\011back\\134slash rw - ext4 "
	    "/dev/disk/by-label/a\\040b rw\n", &ds);
	ck_assert_uint_eq(freeze_plan_count(plan), 2);
	assert_entry(plan, "/mnt/my disk", FREEZE_ACTION_FREEZE, NULL);
	e = find_entry(plan, "/mnt/tab\tback\\slash");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(freeze_entry_device(e), "/dev/disk/by-label/a b");
	freeze_plan_free(plan);
}
END_TEST

/*
 * Proves a filesystem on an anonymous device (btrfs shows 0:N) is judged
 * by the block device its source names.
 */
START_TEST(test_plan_anonymous_dev)
{
	struct devset		 ds = { .n = 0 };
	struct freeze_plan	*plan;
	struct stat		 st;
	unsigned int		 maj, min;

	if (stat("/dev/loop0", &st) == -1 || !S_ISBLK(st.st_mode)) {
		printf("freeze: no /dev/loop0; skipping the anonymous device "
		    "test\n");
		return;
	}
	devset_add(&ds, major(st.st_rdev), minor(st.st_rdev));
	plan = plan_text(
	    "95 27 0:77 / /mnt/btrfs rw - btrfs /dev/loop0 rw,space_cache=v2\n"
	    "96 27 0:78 / /mnt/tmp rw - tmpfs tmpfs rw\n", &ds);
	ck_assert_uint_eq(freeze_plan_count(plan), 1);
	assert_entry(plan, "/mnt/btrfs", FREEZE_ACTION_FREEZE, NULL);
	freeze_entry_devnum(find_entry(plan, "/mnt/btrfs"), &maj, &min);
	ck_assert_uint_eq(maj, major(st.st_rdev));
	ck_assert_uint_eq(min, minor(st.st_rdev));
	freeze_plan_free(plan);
}
END_TEST

/* Proves a malformed line or a missing file fails with a cause. */
START_TEST(test_plan_malformed)
{
	struct devset		 ds = { .n = 0 };
	struct freeze_plan	*plan = NULL;
	char			*cause = NULL;
	static const char	*bad[] = {
		"27 1 254:1 / / rw\n",
		"27 1 254:1 / / rw shared:1 ext4 /dev/vda1 rw\n",
		"27 1 2541 / / rw - ext4 /dev/vda1 rw\n",
		"x 1 254:1 / / rw - ext4 /dev/vda1 rw\n",
		"27 1 254:1 / relative rw - ext4 /dev/vda1 rw\n",
		"27 1 254:1 / / rw - ext4 /dev/vda1\n",
	};
	size_t			 i;

	devset_add(&ds, 254, 1);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char	text[256];

		snprintf(text, sizeof text, "22 27 0:21 / /proc rw - proc "
		    "proc rw\n%s", bad[i]);
		ck_assert_int_eq(freeze_plan(fake_mountinfo(text),
		    devset_holds, &ds, &plan, &cause), -1);
		ck_assert_ptr_null(plan);
		ck_assert_msg(strstr(cause, "line 2: malformed") != NULL,
		    "case %zu: %s", i, cause);
		free(cause);
		cause = NULL;
	}
	ck_assert_int_eq(freeze_plan("/nonexistent/mountinfo", devset_holds,
	    &ds, &plan, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "/nonexistent/mountinfo"));
	free(cause);
}
END_TEST

/*
 * Proves freeze_plan_text() plans from text as freeze_plan() does from the
 * file (a line ends at a NUL byte for the parser, the last needs no
 * newline) and names the name given in a malformed line's cause.
 */
START_TEST(test_plan_text)
{
	static const char	 text[] = "22 27 0:21 / /proc rw - proc proc "
	    "rw\0 junk\n\n40 27 7:0 / /mnt/data rw - ext4 /dev/loop0 rw";
	struct devset		 ds = { .n = 0 };
	struct freeze_plan	*plan = NULL;
	char			*cause = NULL;

	devset_add(&ds, 7, 0);
	ck_assert_int_eq(freeze_plan_text(text, sizeof text - 1, "mi",
	    devset_holds, &ds, &plan, &cause), 0);
	ck_assert_uint_eq(freeze_plan_count(plan), 1);
	assert_entry(plan, "/mnt/data", FREEZE_ACTION_FREEZE, NULL);
	freeze_plan_free(plan);
	ck_assert_int_eq(freeze_plan_text("\n\nx\n", 5, "mi", devset_holds,
	    &ds, &plan, &cause), -1);
	ck_assert_ptr_null(plan);
	ck_assert_str_eq(cause, "mi: line 3: malformed mount entry");
	free(cause);
}
END_TEST

/* Proves the lease bounds: below and above are clamped. */
START_TEST(test_lease_clamp)
{
	ck_assert_uint_eq(freeze_lease_clamp(0), FREEZE_LEASE_MIN_MS);
	ck_assert_uint_eq(freeze_lease_clamp(99), 100);
	ck_assert_uint_eq(freeze_lease_clamp(100), 100);
	ck_assert_uint_eq(freeze_lease_clamp(5000), 5000);
	ck_assert_uint_eq(freeze_lease_clamp(600000), 600000);
	ck_assert_uint_eq(freeze_lease_clamp(600001), FREEZE_LEASE_MAX_MS);
	ck_assert_uint_eq(freeze_lease_clamp(0xffffffffU), 600000);
}
END_TEST

/* What a lease callback saw. */
struct expiry {
	int			 calls;
	int			 had_cause;
	size_t			 frozen;
	struct timespec		 at;
	struct event_base	*base;
	struct freeze_lease	*lease;
};

/* Lease callback: record, and stop the loop. */
static void
expiry_cb(struct freeze_lease *lease, struct freeze_plan *plan,
    const char *cause, void *arg)
{
	struct expiry	*x = arg;

	x->calls++;
	x->had_cause = (cause != NULL);
	x->frozen = freeze_plan_frozen_count(plan);
	x->lease = lease;
	clock_gettime(CLOCK_MONOTONIC, &x->at);
	event_base_loopbreak(x->base);
}

/* Run base for at most ms (a guard: the loop must not hang a test). */
static void
run_loop(struct event_base *base, unsigned int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/*
 * Proves a lease fires once after its deadline and not before, that a
 * renewal pushes it out, and that the callback may stop the lease.
 */
START_TEST(test_lease_expire_renew)
{
	struct devset		 ds = { .n = 0 };
	struct freeze_plan	*plan;
	struct freeze_lease	*lease;
	struct expiry		 x;
	struct timespec		 start;
	long			 ms;

	memset(&x, 0, sizeof x);
	x.base = event_base_new();
	plan = plan_text(realistic, &ds);

	clock_gettime(CLOCK_MONOTONIC, &start);
	lease = freeze_lease_start(x.base, plan, 10, expiry_cb, &x);
	run_loop(x.base, 60);
	ck_assert_int_eq(x.calls, 0);
	ck_assert_int_eq(freeze_lease_renew(lease, 200), 0);
	run_loop(x.base, 3000);
	ms = testutil_ms_since(&start);
	ck_assert_int_eq(x.calls, 1);
	ck_assert_int_eq(x.had_cause, 0);
	ck_assert_ptr_eq(x.lease, lease);
	ck_assert_int_eq(freeze_lease_expired(lease), 1);
	ck_assert_msg(ms >= 250 && ms < 2000, "expired after %ld ms", ms);
	ck_assert_int_eq(freeze_lease_renew(lease, 200), -1);
	freeze_lease_stop(lease);

	/* Stopped before the deadline: never fires. */
	lease = freeze_lease_start(x.base, plan, 100, expiry_cb, &x);
	freeze_lease_stop(lease);
	run_loop(x.base, 250);
	ck_assert_int_eq(x.calls, 1);

	freeze_plan_free(plan);
	event_base_free(x.base);
}
END_TEST

/* Lease callback that frees its lease, as a daemon would. */
static void
expiry_stop_cb(struct freeze_lease *lease, struct freeze_plan *plan,
    const char *cause, void *arg)
{
	expiry_cb(lease, plan, cause, arg);
	freeze_lease_stop(lease);
}

/* Proves freeing the lease inside its own callback is safe. */
START_TEST(test_lease_stop_in_callback)
{
	struct devset		 ds = { .n = 0 };
	struct freeze_plan	*plan;
	struct expiry		 x;

	memset(&x, 0, sizeof x);
	x.base = event_base_new();
	plan = plan_text(realistic, &ds);
	freeze_lease_start(x.base, plan, 100, expiry_stop_cb, &x);
	run_loop(x.base, 3000);
	ck_assert_int_eq(x.calls, 1);
	freeze_plan_free(plan);
	event_base_free(x.base);
}
END_TEST

/*
 * The real fixture: in dir, ext4 filesystems A and B on loop devices, a
 * bind mount of A, V (vfat, or tmpfs where the kernel has no vfat) and a
 * tmpfs T.  Set up in the runner's process, so no ck_assert here: a
 * failure is kept in why and reported by each test.
 */
static struct {
	char	 dir[64];
	char	 why[512];
	char	 skip[128];
	int	 vfat;			/* V is vfat (else tmpfs) */
	char	 img[3][96];		/* a, b, v */
	char	 loop[3][32];
	char	 mnt_a[96], mnt_b[96], mnt_bind[96], mnt_v[96], mnt_t[96];
	int	 mounted[5];		/* a, b, bind, v, t */
	dev_t	 dev_a, dev_b, dev_v, dev_t;
	char	 file_a[128], file_b[128];
} fx;

/* Make an image of IMAGE_MB with mkfs, attach it; 0 or -1 with fx.why. */
static int
fx_image(int i, const char *name, const char *mkfs)
{
	char	*mk[] = { (char *)mkfs, (char *)"-q", (char *)"-F", fx.img[i],
		    NULL };
	char	*mkv[] = { (char *)mkfs, fx.img[i], NULL };
	char	*lo[] = { (char *)"losetup", (char *)"--find", (char *)"--show",
		    fx.img[i], NULL };
	char	 path[sizeof fx.img[i]];
	int	 fd;

	/* Through path: fx.dir and fx.img[i] are one object to snprintf. */
	snprintf(path, sizeof path, "%s/%s.img", fx.dir, name);
	memcpy(fx.img[i], path, sizeof path);
	if ((fd = open(fx.img[i], O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    ftruncate(fd, (off_t)IMAGE_MB << 20) == -1) {
		snprintf(fx.why, sizeof fx.why, "%s: %s", fx.img[i],
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return (-1);
	}
	close(fd);
	if (testutil_run(strcmp(mkfs, "mkfs.ext4") == 0 ? mk : mkv, NULL, 0) != 0) {
		snprintf(fx.why, sizeof fx.why, "%s %s failed", mkfs,
		    fx.img[i]);
		return (-1);
	}
	if (testutil_run(lo, fx.loop[i], sizeof fx.loop[i]) != 0 ||
	    strncmp(fx.loop[i], "/dev/loop", 9) != 0) {
		snprintf(fx.why, sizeof fx.why, "losetup %s failed: '%s'",
		    fx.img[i], fx.loop[i]);
		fx.loop[i][0] = '\0';
		return (-1);
	}
	return (0);
}

/* The device a path's filesystem is on, or 0. */
static dev_t
fx_dev_of(const char *path)
{
	struct stat	st;

	return (stat(path, &st) == 0 ? st.st_dev : 0);
}

/* The device number of a block device node, or 0. */
static dev_t
fx_rdev(const char *path)
{
	struct stat	st;

	return (stat(path, &st) == 0 && S_ISBLK(st.st_mode) ? st.st_rdev : 0);
}

/* Make a directory under fx.dir into buf. */
static void
fx_mkdir(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", fx.dir, name);
	mkdir(buf, 0755);
}

/* Create a small file with content, synced. */
static int
fx_file(char *buf, size_t size, const char *mnt)
{
	int	fd;

	snprintf(buf, size, "%s/file", mnt);
	if ((fd = open(buf, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1)
		return (-1);
	if (write(fd, "x\n", 2) != 2 || fsync(fd) == -1) {
		close(fd);
		return (-1);
	}
	return (close(fd));
}

static void	fx_teardown(void);

/* Unchecked fixture: build everything, or say why not in fx.why/skip. */
static void
fx_setup(void)
{
	memset(&fx, 0, sizeof fx);
	if (geteuid() != 0) {
		snprintf(fx.skip, sizeof fx.skip, "not root");
		return;
	}
	if (!testutil_have("losetup") || !testutil_have("mkfs.ext4")) {
		snprintf(fx.skip, sizeof fx.skip, "losetup or mkfs.ext4 "
		    "missing");
		return;
	}
	snprintf(fx.dir, sizeof fx.dir, "/tmp/evg-freeze-XXXXXX");
	if (mkdtemp(fx.dir) == NULL) {
		snprintf(fx.why, sizeof fx.why, "mkdtemp: %s",
		    strerror(errno));
		fx.dir[0] = '\0';
		return;
	}
	fx_mkdir(fx.mnt_a, sizeof fx.mnt_a, "a");
	fx_mkdir(fx.mnt_b, sizeof fx.mnt_b, "b");
	fx_mkdir(fx.mnt_bind, sizeof fx.mnt_bind, "a-bind");
	fx_mkdir(fx.mnt_v, sizeof fx.mnt_v, "v");
	fx_mkdir(fx.mnt_t, sizeof fx.mnt_t, "t");
	if (fx_image(0, "a", "mkfs.ext4") == -1 ||
	    fx_image(1, "b", "mkfs.ext4") == -1)
		goto fail;

	if (mount(fx.loop[0], fx.mnt_a, "ext4", 0, NULL) == -1)
		goto fail_mount;
	fx.mounted[0] = 1;
	if (mount(fx.loop[1], fx.mnt_b, "ext4", 0, NULL) == -1)
		goto fail_mount;
	fx.mounted[1] = 1;
	if (mount(fx.mnt_a, fx.mnt_bind, NULL, MS_BIND, NULL) == -1)
		goto fail_mount;
	fx.mounted[2] = 1;

	if (testutil_have("mkfs.vfat") && fx_image(2, "v", "mkfs.vfat") == 0 &&
	    mount(fx.loop[2], fx.mnt_v, "vfat", 0, NULL) == 0) {
		fx.vfat = 1;
		fx.dev_v = fx_rdev(fx.loop[2]);
	} else {
		fx.why[0] = '\0';
		printf("freeze: no vfat here (kernel or mkfs.vfat); V is a "
		    "tmpfs, skipped by type just the same\n");
		if (mount("evg-freeze-v", fx.mnt_v, "tmpfs", 0,
		    "size=1m") == -1)
			goto fail_mount;
		fx.dev_v = fx_dev_of(fx.mnt_v);
	}
	fx.mounted[3] = 1;
	if (mount("evg-freeze-t", fx.mnt_t, "tmpfs", 0, "size=1m") == -1)
		goto fail_mount;
	fx.mounted[4] = 1;

	fx.dev_a = fx_rdev(fx.loop[0]);
	fx.dev_b = fx_rdev(fx.loop[1]);
	fx.dev_t = fx_dev_of(fx.mnt_t);
	if (fx.dev_a == 0 || fx.dev_b == 0 || fx.dev_v == 0 ||
	    fx.dev_t == 0 || fx_dev_of(fx.mnt_a) != fx.dev_a ||
	    fx_dev_of(fx.mnt_b) != fx.dev_b) {
		snprintf(fx.why, sizeof fx.why, "devices do not match mounts");
		goto fail;
	}
	if (fx_file(fx.file_a, sizeof fx.file_a, fx.mnt_a) == -1 ||
	    fx_file(fx.file_b, sizeof fx.file_b, fx.mnt_b) == -1) {
		snprintf(fx.why, sizeof fx.why, "cannot write test files: %s",
		    strerror(errno));
		goto fail;
	}
	return;

fail_mount:
	snprintf(fx.why, sizeof fx.why, "mount: %s", strerror(errno));
fail:
	fx_teardown();
}

/* Thaw one of our mounts, ignoring errors (it is usually not frozen). */
static void
fx_thaw(const char *mnt)
{
	int	fd;

	if ((fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	ioctl(fd, FITHAW, 0);
	close(fd);
}

/* Unmount, retrying while a straggling writer still holds a file open. */
static void
fx_umount(const char *mnt)
{
	int	i;

	for (i = 0; i < 50; i++) {
		if (umount(mnt) == 0 || errno != EBUSY)
			return;
		usleep(100000);
	}
	umount2(mnt, MNT_DETACH);
}

/* Unchecked fixture: thaw, unmount, detach, remove; whatever happened. */
static void
fx_teardown(void)
{
	char	*lo[] = { (char *)"losetup", (char *)"-d", NULL, NULL };
	int	 i;

	if (fx.dir[0] == '\0')
		return;
	if (fx.mounted[0])
		fx_thaw(fx.mnt_a);
	if (fx.mounted[1])
		fx_thaw(fx.mnt_b);
	if (fx.mounted[3] && fx.vfat)
		fx_thaw(fx.mnt_v);
	if (fx.mounted[2])
		fx_umount(fx.mnt_bind);
	if (fx.mounted[0])
		fx_umount(fx.mnt_a);
	if (fx.mounted[1])
		fx_umount(fx.mnt_b);
	if (fx.mounted[3])
		fx_umount(fx.mnt_v);
	if (fx.mounted[4])
		fx_umount(fx.mnt_t);
	memset(fx.mounted, 0, sizeof fx.mounted);
	for (i = 0; i < 3; i++) {
		if (fx.loop[i][0] != '\0') {
			lo[2] = fx.loop[i];
			testutil_run(lo, NULL, 0);
			fx.loop[i][0] = '\0';
		}
		if (fx.img[i][0] != '\0')
			unlink(fx.img[i]);
	}
	rmdir(fx.mnt_a);
	rmdir(fx.mnt_b);
	rmdir(fx.mnt_bind);
	rmdir(fx.mnt_v);
	rmdir(fx.mnt_t);
	rmdir(fx.dir);
	fx.dir[0] = '\0';
}

/*
 * Start of every real test: false (and a message) when the fixture is
 * skipped; fails when it could not be built; thaws whatever an earlier
 * failed test may have left frozen.
 */
static int
fx_ready(const char *test)
{
	if (fx.skip[0] != '\0') {
		printf("freeze: %s; skipping %s\n", fx.skip, test);
		return (0);
	}
	ck_assert_msg(fx.why[0] == '\0', "fixture: %s", fx.why);
	fx_thaw(fx.mnt_a);
	fx_thaw(fx.mnt_b);
	return (1);
}

/* Is dev one the fixture made? */
static int
fx_ours(dev_t dev)
{
	return (dev != 0 && (dev == fx.dev_a || dev == fx.dev_b ||
	    dev == fx.dev_v || dev == fx.dev_t));
}

/*
 * The safety check before anything could be frozen: mnt is inside the
 * temp dir and on one of our own filesystems.
 */
static void
fx_assert_safe(const char *mnt)
{
	size_t	len = strlen(fx.dir);

	ck_assert_msg(strncmp(mnt, fx.dir, len) == 0 && mnt[len] == '/',
	    "refusing to freeze %s: outside %s", mnt, fx.dir);
	ck_assert_msg(fx_ours(fx_dev_of(mnt)), "refusing to freeze %s: not "
	    "a filesystem of this test", mnt);
}

/* Apply a plan after checking every FREEZE entry is safe to freeze. */
static int
fx_apply(struct freeze_plan *plan, char **cause)
{
	const struct freeze_entry	*e;
	size_t				 i;

	for (i = 0; i < freeze_plan_count(plan); i++) {
		e = freeze_plan_entry(plan, i);
		if (freeze_entry_action(e) == FREEZE_ACTION_FREEZE)
			fx_assert_safe(freeze_entry_mountpoint(e));
	}
	return (freeze_apply(plan, cause));
}

/* Plan from the real mountinfo for the given devices. */
static struct freeze_plan *
fx_plan(const char *mountinfo, dev_t d1, dev_t d2)
{
	struct devset		 ds = { .n = 0 };
	struct freeze_plan	*plan = NULL;
	char			*cause = NULL;

	devset_add(&ds, major(d1), minor(d1));
	if (d2 != 0)
		devset_add(&ds, major(d2), minor(d2));
	ck_assert_msg(freeze_plan(mountinfo, devset_holds, &ds, &plan,
	    &cause) == 0, "freeze_plan: %s", cause);
	return (plan);
}

/* Compare two times: <0, 0, >0. */
static int
ts_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return (a->tv_sec < b->tv_sec ? -1 : 1);
	if (a->tv_nsec != b->tv_nsec)
		return (a->tv_nsec < b->tv_nsec ? -1 : 1);
	return (0);
}

/* Whole milliseconds from a to b, rounded down (0 if b is earlier). */
static unsigned int
ms_between(const struct timespec *a, const struct timespec *b)
{
	long long	ns;

	ns = (long long)(b->tv_sec - a->tv_sec) * 1000000000 +
	    (b->tv_nsec - a->tv_nsec);
	return (ns < 0 ? 0 : (unsigned int)(ns / 1000000));
}

/* Assert a write to path completes within WRITE_MS. */
static void
assert_writable(const char *path)
{
	pid_t	pid = testutil_writer_start(path);
	int	rc = testutil_writer_wait(pid, WRITE_MS);

	if (rc == -1)
		testutil_writer_kill(pid);
	ck_assert_msg(rc == 0, "write to %s: %s", path, rc == -1 ?
	    "still blocked" : "failed");
}

/*
 * Proves the whole cycle on real filesystems: only A (and the unfreezable
 * V) are planned, A once despite its bind mount, V skipped with a reason,
 * B untouched; while A is frozen a write there blocks and one to B does
 * not; after the thaw the blocked write finishes and the duration is
 * recorded.
 */
START_TEST(test_real_freeze_thaw)
{
	struct freeze_plan		*plan;
	const struct freeze_entry	*e;
	struct timespec			 before, after;
	char				*cause = NULL, reason[160];
	size_t				 i, nfreeze = 0;
	unsigned int			 ms;
	pid_t				 pid;
	int				 rc;

	if (!fx_ready(__func__))
		return;
	plan = fx_plan("/proc/self/mountinfo", fx.dev_a, fx.dev_v);
	for (i = 0; i < freeze_plan_count(plan); i++) {
		e = freeze_plan_entry(plan, i);
		if (freeze_entry_action(e) == FREEZE_ACTION_FREEZE) {
			nfreeze++;
			ck_assert_str_eq(freeze_entry_mountpoint(e), fx.mnt_a);
		}
		ck_assert_msg(strcmp(freeze_entry_mountpoint(e), fx.mnt_b) != 0,
		    "B is in the plan");
	}
	ck_assert_uint_eq(nfreeze, 1);
	snprintf(reason, sizeof reason, "bind mount of %s, frozen once",
	    fx.mnt_a);
	assert_entry(plan, fx.mnt_bind, FREEZE_ACTION_SKIP, reason);
	assert_entry(plan, fx.mnt_v, FREEZE_ACTION_SKIP, fx.vfat ?
	    "vfat cannot be frozen" : "tmpfs cannot be frozen");

	clock_gettime(CLOCK_MONOTONIC, &before);
	ck_assert_msg(fx_apply(plan, &cause) == 0, "apply: %s", cause);
	clock_gettime(CLOCK_MONOTONIC, &after);
	ck_assert_uint_eq(freeze_plan_frozen_count(plan), 1);
	e = find_entry(plan, fx.mnt_a);
	ck_assert_int_eq(freeze_entry_frozen(e), 1);
	/* The freeze counts from within the apply: before its FIFREEZE. */
	ck_assert_int_ge(ts_cmp(freeze_plan_started_at(plan), &before), 0);
	ck_assert_int_le(ts_cmp(freeze_plan_started_at(plan), &after), 0);
	ck_assert_int_ne(freeze_entry_frozen_at(e)->tv_sec +
	    freeze_entry_frozen_at(e)->tv_nsec, 0);
	ck_assert_int_eq(freeze_plan_started_at(plan)->tv_sec,
	    freeze_entry_frozen_at(e)->tv_sec);
	ck_assert_int_eq(freeze_plan_started_at(plan)->tv_nsec,
	    freeze_entry_frozen_at(e)->tv_nsec);

	pid = testutil_writer_start(fx.file_a);
	rc = testutil_writer_wait(pid, BLOCKED_MS);
	if (rc != -1) {
		freeze_plan_free(plan);
		ck_abort_msg("write to frozen A finished (%d)", rc);
	}
	assert_writable(fx.file_b);
	ck_assert_uint_ge(freeze_plan_duration_ms(plan), BLOCKED_MS);

	clock_gettime(CLOCK_MONOTONIC, &before);
	ck_assert_msg(freeze_thaw(plan, &cause) == 0, "thaw: %s", cause);
	clock_gettime(CLOCK_MONOTONIC, &after);
	ck_assert_uint_eq(freeze_plan_frozen_count(plan), 0);
	/*
	 * It ends after the last FITHAW returned, within the thaw call: the
	 * duration is from before the first FIFREEZE to then.
	 */
	ms = ms_between(freeze_plan_started_at(plan), &before);
	ck_assert_uint_ge(freeze_plan_duration_ms(plan), ms);
	ck_assert_uint_le(freeze_plan_duration_ms(plan),
	    ms_between(freeze_plan_started_at(plan), &after) + 1);
	rc = testutil_writer_wait(pid, WRITE_MS);
	if (rc == -1)
		testutil_writer_kill(pid);
	ck_assert_msg(rc == 0, "write to A after thaw: %s", rc == -1 ?
	    "still blocked" : "failed");
	ck_assert_uint_ge(freeze_plan_duration_ms(plan), BLOCKED_MS);
	ck_assert_uint_lt(freeze_plan_duration_ms(plan), 30000);
	rc = (int)freeze_plan_duration_ms(plan);
	usleep(20000);
	ck_assert_int_eq((int)freeze_plan_duration_ms(plan), rc);

	/* Thawing again is harmless. */
	ck_assert_int_eq(freeze_thaw(plan, &cause), 0);
	freeze_plan_free(plan);
}
END_TEST

/*
 * Proves the lease thaws on its own: apply, a 300 ms lease, run the loop;
 * the callback ran after the thaw and a write to A completes.
 */
START_TEST(test_real_lease)
{
	struct freeze_plan	*plan;
	struct freeze_lease	*lease;
	struct expiry		 x;
	struct timespec		 start;
	char			*cause = NULL;
	long			 ms;

	if (!fx_ready(__func__))
		return;
	memset(&x, 0, sizeof x);
	x.base = event_base_new();
	plan = fx_plan("/proc/self/mountinfo", fx.dev_a, 0);
	ck_assert_msg(fx_apply(plan, &cause) == 0, "apply: %s", cause);
	ck_assert_uint_eq(freeze_plan_frozen_count(plan), 1);

	clock_gettime(CLOCK_MONOTONIC, &start);
	lease = freeze_lease_start(x.base, plan, 300, expiry_cb, &x);
	run_loop(x.base, 5000);
	ms = testutil_ms_since(&start);
	ck_assert_int_eq(x.calls, 1);
	ck_assert_int_eq(x.had_cause, 0);
	ck_assert_uint_eq(x.frozen, 0);
	ck_assert_msg(ms >= 290 && ms < 3000, "expired after %ld ms", ms);
	ck_assert_uint_eq(freeze_plan_frozen_count(plan), 0);
	ck_assert_uint_ge(freeze_plan_duration_ms(plan), 290);
	assert_writable(fx.file_a);

	freeze_lease_stop(lease);
	freeze_plan_free(plan);
	event_base_free(x.base);
}
END_TEST

/*
 * Proves a filesystem already frozen by someone else is an error, and that
 * what was frozen before it is thawed again.
 */
START_TEST(test_real_busy)
{
	struct freeze_plan	*plan;
	char			*cause = NULL;
	int			 fd;

	if (!fx_ready(__func__))
		return;
	plan = fx_plan("/proc/self/mountinfo", fx.dev_a, fx.dev_b);
	ck_assert_uint_eq(freeze_plan_count(plan), 3);
	ck_assert_str_eq(freeze_entry_mountpoint(freeze_plan_entry(plan, 0)),
	    fx.mnt_a);
	ck_assert_str_eq(freeze_entry_mountpoint(freeze_plan_entry(plan, 1)),
	    fx.mnt_b);

	fx_assert_safe(fx.mnt_b);
	ck_assert_uint_eq(fx_dev_of(fx.mnt_b), fx.dev_b);
	fd = open(fx.mnt_b, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(ioctl(fd, FIFREEZE, 0), 0);

	ck_assert_int_eq(fx_apply(plan, &cause), -1);
	ioctl(fd, FITHAW, 0);
	close(fd);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, fx.mnt_b) != NULL &&
	    strstr(cause, "already frozen") != NULL, "cause: %s", cause);
	free(cause);
	ck_assert_uint_eq(freeze_plan_frozen_count(plan), 0);
	assert_writable(fx.file_a);
	assert_writable(fx.file_b);
	freeze_plan_free(plan);
}
END_TEST

/* The real mountinfo line of mnt, with its type replaced by type. */
static char *
real_line(const char *mnt, const char *type)
{
	FILE	*f;
	char	*line = NULL, *out = NULL, *p, *q, *rest;
	size_t	 size = 0;
	int	 field;

	f = fopen("/proc/self/mountinfo", "r");
	ck_assert_ptr_nonnull(f);
	while (out == NULL && getline(&line, &size, f) != -1) {
		for (p = line, field = 0; field < 4 && p != NULL; field++)
			if ((p = strchr(p, ' ')) != NULL)
				p++;
		if (p == NULL || strncmp(p, mnt, strlen(mnt)) != 0 ||
		    p[strlen(mnt)] != ' ')
			continue;
		if (type == NULL) {
			out = xstrdup(line);
			break;
		}
		q = strstr(p, " - ");
		ck_assert_ptr_nonnull(q);
		rest = strchr(q + 3, ' ');
		ck_assert_ptr_nonnull(rest);
		xasprintf(&out, "%.*s - %s%s", (int)(q - line), line, type,
		    rest);
	}
	free(line);
	fclose(f);
	ck_assert_msg(out != NULL, "%s not in mountinfo", mnt);
	return (out);
}

/*
 * Proves a filesystem the kernel cannot freeze turns into SKIP at apply
 * time and the rest still freezes: T (tmpfs) is presented under a type the
 * planner does not know, so only FIFREEZE can tell.
 */
START_TEST(test_real_unsupported)
{
	struct freeze_plan	*plan;
	char			*cause = NULL, *t, *a, *text;

	if (!fx_ready(__func__))
		return;
	t = real_line(fx.mnt_t, "evgtestfs");
	a = real_line(fx.mnt_a, NULL);
	xasprintf(&text, "%s%s", t, a);
	free(t);
	free(a);
	plan_setup();
	plan = fx_plan(fake_mountinfo(text), fx.dev_t, fx.dev_a);
	free(text);
	plan_teardown();
	ck_assert_uint_eq(freeze_plan_count(plan), 2);
	assert_entry(plan, fx.mnt_t, FREEZE_ACTION_FREEZE, NULL);
	assert_entry(plan, fx.mnt_a, FREEZE_ACTION_FREEZE, NULL);

	ck_assert_msg(fx_apply(plan, &cause) == 0, "apply: %s", cause);
	ck_assert_uint_eq(freeze_plan_frozen_count(plan), 1);
	ck_assert_int_eq(freeze_entry_frozen(find_entry(plan, fx.mnt_a)), 1);
	ck_assert_int_eq(freeze_entry_action(find_entry(plan, fx.mnt_t)),
	    FREEZE_ACTION_SKIP);
	ck_assert_str_eq(freeze_entry_reason(find_entry(plan, fx.mnt_t)),
	    "evgtestfs does not support freezing");
	ck_assert_msg(freeze_thaw(plan, &cause) == 0, "thaw: %s", cause);
	assert_writable(fx.file_a);
	freeze_plan_free(plan);
}
END_TEST

/*
 * Proves apply refuses a mount point that is no longer the planned mount
 * (here: a mount id that does not match), freezing nothing: the guard
 * against freezing a parent filesystem after an unmount.
 */
START_TEST(test_real_changed_mount)
{
	struct freeze_plan	*plan;
	char			*cause = NULL, *a, *text, *sp;

	if (!fx_ready(__func__))
		return;
	a = real_line(fx.mnt_a, NULL);
	sp = strchr(a, ' ');
	ck_assert_ptr_nonnull(sp);
	xasprintf(&text, "999999%s", sp);
	free(a);
	plan_setup();
	plan = fx_plan(fake_mountinfo(text), fx.dev_a, 0);
	free(text);
	plan_teardown();
	assert_entry(plan, fx.mnt_a, FREEZE_ACTION_FREEZE, NULL);
	ck_assert_int_eq(fx_apply(plan, &cause), -1);
	ck_assert_msg(strstr(cause, "no longer") != NULL, "cause: %s", cause);
	free(cause);
	ck_assert_uint_eq(freeze_plan_frozen_count(plan), 0);
	assert_writable(fx.file_a);
	freeze_plan_free(plan);
}
END_TEST

/*
 * Proves a freeze cannot outlive its owner (issue 11): an owner that froze
 * A with a guardian and a 10 s lease dies by SIGKILL without thawing; the
 * guardian thaws A at once, long before the lease.
 */
START_TEST(test_real_guardian_owner_killed)
{
	struct freeze_plan	*plan;
	struct guardian		*g;
	struct timespec		 start;
	char			*cause = NULL;
	pid_t			 owner;
	int			 status;

	if (!fx_ready(__func__))
		return;
	plan = fx_plan("/proc/self/mountinfo", fx.dev_a, 0);
	if ((owner = fork()) == 0) {
		if ((g = guardian_start(plan, &cause)) == NULL ||
		    fx_apply(plan, &cause) != 0 ||
		    guardian_renew(g, 10000) != 0)
			_exit(1);
		kill(getpid(), SIGKILL);
		_exit(2);
	}
	ck_assert_int_eq(waitpid(owner, &status, 0), owner);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "the owner did not freeze (status %d)", status);
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_writable(fx.file_a);
	ck_assert_int_lt(testutil_ms_since(&start), 2000);
	freeze_plan_free(plan);
}
END_TEST

/*
 * Start a guardian for plan, apply the plan (checked safe), then arm the
 * guardian's lease of lease_ms, as serve.c does; each step must work.
 */
static struct guardian *
fx_guarded_apply(struct freeze_plan *plan, unsigned int lease_ms)
{
	struct guardian	*g;
	char		*cause = NULL;

	g = guardian_start(plan, &cause);
	ck_assert_msg(g != NULL, "guardian_start: %s", cause);
	ck_assert_msg(fx_apply(plan, &cause) == 0, "apply: %s", cause);
	ck_assert_int_eq(guardian_renew(g, lease_ms), 0);
	return (g);
}

/*
 * Proves the guardian thaws when the lease runs out and the owner, alive
 * but stuck, neither renews nor thaws; and that a thaw it already did is
 * harmless to the owner afterwards.
 */
START_TEST(test_real_guardian_lease)
{
	struct freeze_plan	*plan;
	struct guardian		*g;
	char			*cause = NULL;
	pid_t			 pid;
	int			 rc;

	if (!fx_ready(__func__))
		return;
	plan = fx_plan("/proc/self/mountinfo", fx.dev_a, 0);
	g = fx_guarded_apply(plan, 1500);
	pid = testutil_writer_start(fx.file_a);
	ck_assert_msg(testutil_writer_wait(pid, BLOCKED_MS) == -1,
	    "A was not frozen");
	/* The guardian thaws about 1 s later: the blocked write ends. */
	rc = testutil_writer_wait(pid, WRITE_MS);
	if (rc == -1)
		testutil_writer_kill(pid);
	ck_assert_msg(rc == 0, "the guardian did not thaw at the lease");
	ck_assert_int_eq(freeze_thaw(plan, &cause), 0);
	guardian_release(g);
	freeze_plan_free(plan);
}
END_TEST

/*
 * Proves a released guardian touches nothing: after the owner thawed and
 * released it, a later freeze of A by someone else stays in place past
 * the released guardian's lease.
 */
START_TEST(test_real_guardian_release)
{
	struct freeze_plan	*plan, *again;
	struct guardian		*g;
	char			*cause = NULL;
	pid_t			 pid;
	int			 rc;

	if (!fx_ready(__func__))
		return;
	plan = fx_plan("/proc/self/mountinfo", fx.dev_a, 0);
	g = fx_guarded_apply(plan, 300);
	ck_assert_int_eq(freeze_thaw(plan, &cause), 0);
	guardian_release(g);
	again = fx_plan("/proc/self/mountinfo", fx.dev_a, 0);
	ck_assert_msg(fx_apply(again, &cause) == 0, "apply: %s", cause);
	/* Past the released guardian's 300 ms lease, A stays frozen. */
	pid = testutil_writer_start(fx.file_a);
	rc = testutil_writer_wait(pid, 800);
	ck_assert_int_eq(freeze_thaw(again, &cause), 0);
	if (rc != -1)
		ck_abort_msg("the released guardian thawed a freeze that was "
		    "not its own");
	rc = testutil_writer_wait(pid, WRITE_MS);
	if (rc == -1)
		testutil_writer_kill(pid);
	ck_assert_int_eq(rc, 0);
	freeze_plan_free(again);
	freeze_plan_free(plan);
}
END_TEST

/*
 * Whether this kernel has EXT4_IOC_CHECKPOINT (Linux 5.14): asked on the
 * ext4 at mnt with the dry-run flag, which only checks the flags.
 */
static int
checkpoint_supported(const char *mnt)
{
	uint32_t	flags = 4;	/* EXT4_IOC_CHECKPOINT_FLAG_DRY_RUN */
	int		fd, rc;

	if ((fd = open(mnt, O_RDONLY | O_DIRECTORY)) == -1)
		return (0);
	rc = ioctl(fd, _IOW('f', 43, uint32_t), &flags);
	close(fd);
	return (rc == 0);
}

/* "Journal start" of the ext4 on dev, as dumpe2fs reads it ("0": empty). */
static const char *
journal_start(const char *dev)
{
	static char	 out[64];
	char		 cmd[160];
	char *const	 argv[] = { "sh", "-c", cmd, NULL };

	snprintf(cmd, sizeof cmd, "dumpe2fs -h %s 2>/dev/null | "
	    "sed -n 's/^Journal start: *//p'", dev);
	ck_assert_int_eq(testutil_run(argv, out, sizeof out), 0);
	ck_assert_msg(out[0] != '\0', "no journal start in dumpe2fs -h %s",
	    dev);
	return (out);
}

/*
 * Proves the preparation outside the frozen window: it opens exactly the
 * FREEZE entries (A; not its bind mount, not V), checkpoints A's ext4
 * journal, freezes nothing, is done once, and the apply then freezes
 * through those descriptors; afterwards only the frozen entry keeps one,
 * and none after the thaw.
 */
START_TEST(test_real_prepare)
{
	struct freeze_plan		*plan;
	const struct freeze_entry	*a, *bind, *v;
	char				*cause = NULL;
	int				 fd;

	if (!fx_ready(__func__))
		return;
	plan = fx_plan("/proc/self/mountinfo", fx.dev_a, fx.dev_v);
	a = find_entry(plan, fx.mnt_a);
	bind = find_entry(plan, fx.mnt_bind);
	v = find_entry(plan, fx.mnt_v);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(bind);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(freeze_entry_fd(a), -1);
	/* Something in A's journal: a write, synced. */
	assert_writable(fx.file_a);
	sync();
	ck_assert_str_ne(journal_start(fx.loop[0]), "0");
	ck_assert_msg(freeze_prepare(plan, &cause) == 0, "prepare: %s", cause);
	/* Checkpointed: the freeze will find the journal empty. */
	if (checkpoint_supported(fx.mnt_a))
		ck_assert_str_eq(journal_start(fx.loop[0]), "0");
	else
		printf("freeze: no EXT4_IOC_CHECKPOINT in this kernel; the "
		    "journal is left to FIFREEZE\n");
	fd = freeze_entry_fd(a);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(freeze_entry_fd(bind), -1);
	ck_assert_int_eq(freeze_entry_fd(v), -1);
	ck_assert_uint_eq(freeze_plan_frozen_count(plan), 0);
	assert_writable(fx.file_a);
	ck_assert_msg(freeze_prepare(plan, &cause) == 0, "again: %s", cause);
	ck_assert_int_eq(freeze_entry_fd(a), fd);

	ck_assert_msg(fx_apply(plan, &cause) == 0, "apply: %s", cause);
	ck_assert_int_eq(freeze_entry_frozen(a), 1);
	ck_assert_int_eq(freeze_entry_fd(a), fd);
	ck_assert_int_eq(freeze_entry_fd(v), -1);
	ck_assert_int_eq(freeze_prepare(plan, &cause), -1);
	ck_assert_str_eq(cause, "freeze plan already applied");
	free(cause);
	cause = NULL;
	ck_assert_msg(freeze_thaw(plan, &cause) == 0, "thaw: %s", cause);
	ck_assert_int_eq(freeze_entry_fd(a), -1);
	assert_writable(fx.file_a);
	freeze_plan_free(plan);
}
END_TEST

/*
 * Proves a prepared plan whose apply fails leaves no descriptor open and
 * nothing frozen: B is frozen by someone else, so A (frozen first) is
 * thawed again.
 */
START_TEST(test_real_prepare_busy)
{
	struct freeze_plan	*plan;
	char			*cause = NULL;
	size_t			 i;
	int			 fd;

	if (!fx_ready(__func__))
		return;
	plan = fx_plan("/proc/self/mountinfo", fx.dev_a, fx.dev_b);
	ck_assert_msg(freeze_prepare(plan, &cause) == 0, "prepare: %s", cause);
	fx_assert_safe(fx.mnt_b);
	fd = open(fx.mnt_b, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(ioctl(fd, FIFREEZE, 0), 0);
	ck_assert_int_eq(fx_apply(plan, &cause), -1);
	ioctl(fd, FITHAW, 0);
	close(fd);
	ck_assert_msg(strstr(cause, "already frozen") != NULL, "%s", cause);
	free(cause);
	for (i = 0; i < freeze_plan_count(plan); i++)
		ck_assert_int_eq(freeze_entry_fd(freeze_plan_entry(plan, i)),
		    -1);
	ck_assert_uint_eq(freeze_plan_frozen_count(plan), 0);
	assert_writable(fx.file_a);
	freeze_plan_free(plan);
}
END_TEST

/*
 * Read /proc/PID/NAME (NUL-separated fields) into buf; its length.  A
 * program just started may not have its arguments and environment in
 * place yet (the kernel sets them up after the point where the parent
 * goes on): read again for a while.
 */
static size_t
proc_file(long pid, const char *name, char *buf, size_t size)
{
	char	path[64];
	ssize_t	n;
	int	fd, tries = 0;

	snprintf(path, sizeof path, "/proc/%ld/%s", pid, name);
	do {
		if (tries != 0)
			usleep(10000);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		ck_assert_msg(fd != -1, "%s: %s", path, strerror(errno));
		n = read(fd, buf, size - 1);
		close(fd);
	} while (n == 0 && ++tries < 100);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	return ((size_t)n);
}

/*
 * Proves the guardian is this program run again, not a copy of this
 * process: the same executable and arguments, the environment variable
 * that makes it one, its own session, none of our descriptors but its
 * socket (0-2 are /dev/null), and SCHED_BATCH.
 */
START_TEST(test_real_guardian_runs_again)
{
	struct guardian	*g;
	char		*cause = NULL, mine[4096], its[4096], env[65536];
	char		 link[64], a[PATH_MAX], b[PATH_MAX], want[64];
	size_t		 n, m, i;
	ssize_t		 k;
	int		 fd, found = 0;
	long		 pid;

	if (!fx_ready(__func__))
		return;
	/* One of ours, not close-on-exec: the guardian must not have it. */
	fd = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	g = guardian_spawn(&cause);
	ck_assert_msg(g != NULL, "guardian_spawn: %s", cause);
	close(fd);
	pid = guardian_pid(g);
	ck_assert_int_gt(pid, 0);
	k = readlink("/proc/self/exe", a, sizeof a - 1);
	ck_assert_int_gt(k, 0);
	a[k] = '\0';
	snprintf(link, sizeof link, "/proc/%ld/exe", pid);
	k = readlink(link, b, sizeof b - 1);
	ck_assert_int_gt(k, 0);
	b[k] = '\0';
	ck_assert_str_eq(a, b);
	n = proc_file((long)getpid(), "cmdline", mine, sizeof mine);
	m = proc_file(pid, "cmdline", its, sizeof its);
	ck_assert_uint_eq(n, m);
	ck_assert_int_eq(memcmp(mine, its, n), 0);
	n = proc_file(pid, "environ", env, sizeof env);
	for (i = 0; i < n; i += strlen(env + i) + 1) {
		if (strcmp(env + i, GUARDIAN_ENV "=3") == 0)
			found = 1;
	}
	ck_assert_msg(found, "no %s=3 in the guardian's environment",
	    GUARDIAN_ENV);
	ck_assert_int_eq(getsid((pid_t)pid), (pid_t)pid);
	snprintf(want, sizeof want, "/proc/%ld/fd/%d", pid, fd);
	/* Give it the time to close what it got, should it be a copy. */
	usleep(100000);
	ck_assert_msg(access(want, F_OK) == -1, "the guardian holds our "
	    "descriptor %d", fd);
	/* Woken by a renewal while frozen, it must not preempt its owner. */
	ck_assert_int_eq(sched_getscheduler((pid_t)pid), SCHED_BATCH);
	guardian_release(g);
}
END_TEST

/*
 * Proves a guardian made idle after one freeze serves the next: it held
 * A, A was thawed by its owner and the guardian made idle, then handed A
 * again; the owner freezes once more and dies: A is thawed at once.
 */
START_TEST(test_real_guardian_reuse)
{
	struct freeze_plan	*plan, *again;
	struct guardian		*g;
	struct timespec		 start;
	char			*cause = NULL;
	pid_t			 owner;
	int			 status;

	if (!fx_ready(__func__))
		return;
	plan = fx_plan("/proc/self/mountinfo", fx.dev_a, 0);
	again = fx_plan("/proc/self/mountinfo", fx.dev_a, 0);
	if ((owner = fork()) == 0) {
		if ((g = guardian_start(plan, &cause)) == NULL ||
		    fx_apply(plan, &cause) != 0 ||
		    guardian_renew(g, 10000) != 0 ||
		    freeze_thaw(plan, &cause) != 0 ||
		    guardian_idle(g) != 0)
			_exit(1);
		if (freeze_prepare(again, &cause) != 0 ||
		    guardian_hold(g, again, &cause) != 0 ||
		    fx_apply(again, &cause) != 0 ||
		    guardian_renew(g, 10000) != 0)
			_exit(2);
		kill(getpid(), SIGKILL);
		_exit(3);
	}
	ck_assert_int_eq(waitpid(owner, &status, 0), owner);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "the owner did not freeze twice (status %d)", status);
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_writable(fx.file_a);
	ck_assert_int_lt(testutil_ms_since(&start), 2000);
	freeze_plan_free(again);
	freeze_plan_free(plan);
}
END_TEST

/*
 * Proves an idle guardian touches nothing: its owner froze A with it,
 * thawed, made it idle, then froze A again without it and died; the
 * guardian, holding nothing, leaves that freeze alone.
 */
START_TEST(test_real_guardian_idle_untouched)
{
	struct freeze_plan	*plan, *again;
	struct guardian		*g;
	char			*cause = NULL;
	pid_t			 owner, pid;
	int			 status, rc;

	if (!fx_ready(__func__))
		return;
	plan = fx_plan("/proc/self/mountinfo", fx.dev_a, 0);
	again = fx_plan("/proc/self/mountinfo", fx.dev_a, 0);
	if ((owner = fork()) == 0) {
		if ((g = guardian_start(plan, &cause)) == NULL ||
		    fx_apply(plan, &cause) != 0 ||
		    guardian_renew(g, 300) != 0 ||
		    freeze_thaw(plan, &cause) != 0 ||
		    guardian_idle(g) != 0 ||
		    fx_apply(again, &cause) != 0)
			_exit(1);
		kill(getpid(), SIGKILL);
		_exit(2);
	}
	ck_assert_int_eq(waitpid(owner, &status, 0), owner);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "the owner did not freeze (status %d)", status);
	/* Past the old 300 ms lease, A stays frozen. */
	pid = testutil_writer_start(fx.file_a);
	rc = testutil_writer_wait(pid, 800);
	fx_thaw(fx.mnt_a);
	if (rc != -1)
		ck_abort_msg("the idle guardian thawed a freeze that was not "
		    "its own");
	rc = testutil_writer_wait(pid, WRITE_MS);
	if (rc == -1)
		testutil_writer_kill(pid);
	ck_assert_int_eq(rc, 0);
	freeze_plan_free(again);
	freeze_plan_free(plan);
}
END_TEST

Suite *
suite_freeze(void)
{
	Suite	*s = suite_create("freeze");
	TCase	*tp = tcase_create("plan");
	TCase	*tl = tcase_create("lease");
	TCase	*tr = tcase_create("real");

	tcase_add_checked_fixture(tp, plan_setup, plan_teardown);
	tcase_add_test(tp, test_plan_select);
	tcase_add_test(tp, test_plan_rejects_all);
	tcase_add_test(tp, test_plan_holds_once);
	tcase_add_test(tp, test_plan_bind_dedup);
	tcase_add_test(tp, test_plan_nested_order);
	tcase_add_test(tp, test_plan_read_only);
	tcase_add_test(tp, test_plan_unfreezable);
	tcase_add_test(tp, test_plan_escapes);
	tcase_add_test(tp, test_plan_anonymous_dev);
	tcase_add_test(tp, test_plan_malformed);
	tcase_add_test(tp, test_plan_text);
	suite_add_tcase(s, tp);

	tcase_set_timeout(tl, 20);
	tcase_add_checked_fixture(tl, plan_setup, plan_teardown);
	tcase_add_test(tl, test_lease_clamp);
	tcase_add_test(tl, test_lease_expire_renew);
	tcase_add_test(tl, test_lease_stop_in_callback);
	suite_add_tcase(s, tl);

	tcase_set_timeout(tr, 60);
	tcase_add_unchecked_fixture(tr, fx_setup, fx_teardown);
	tcase_add_test(tr, test_real_freeze_thaw);
	tcase_add_test(tr, test_real_lease);
	tcase_add_test(tr, test_real_busy);
	tcase_add_test(tr, test_real_unsupported);
	tcase_add_test(tr, test_real_changed_mount);
	tcase_add_test(tr, test_real_guardian_owner_killed);
	tcase_add_test(tr, test_real_guardian_lease);
	tcase_add_test(tr, test_real_guardian_release);
	tcase_add_test(tr, test_real_prepare);
	tcase_add_test(tr, test_real_prepare_busy);
	tcase_add_test(tr, test_real_guardian_runs_again);
	tcase_add_test(tr, test_real_guardian_reuse);
	tcase_add_test(tr, test_real_guardian_idle_untouched);
	suite_add_tcase(s, tr);
	return (s);
}
