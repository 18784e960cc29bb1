/*
 * Who uses a disk (guest/diskuse.c), on a fake /proc: a mount of the
 * disk, a process holding it open (named with its command and user from
 * the passwd file), and a disk nothing uses.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "diskuse.h"
#include "suites.h"
#include "testutil.h"

static char	root[64];

/* Write text to root/rel. */
static void
put(const char *rel, const char *text)
{
	char	 path[256];
	FILE	*f;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static void
setup(void)
{
	snprintf(root, sizeof root, "/tmp/evg-diskuse-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	testutil_mkdirs(root, "proc/self");
	testutil_mkdirs(root, "proc/4242/fd");
	testutil_mkdirs(root, "sys");
	testutil_mkdirs(root, "etc");
	put("proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n");
	put("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
	    "postgres:x:999:999::/var/lib/postgresql:/bin/sh\n");
	put("proc/4242/comm", "postgres\n");
	put("proc/4242/status", "Name:\tpostgres\nUid:\t999\t999\t999\t999\n");
	disk_set_root(root);
}

static void
teardown(void)
{
	diskuse_set_roots(NULL, NULL);
	disk_set_root(NULL);
	testutil_rmtree(root);
}

/* The fake disk 250:7, its node in the tree (no such real device). */
static void
fake_disk(struct disk *d)
{
	memset(d, 0, sizeof *d);
	snprintf(d->name, sizeof d->name, "vdz");
	snprintf(d->devpath, sizeof d->devpath, "%s/vdz", root);
	d->maj = 250;
	d->min = 7;
}

/* Point diskuse at the fake tree. */
static void
enter(void)
{
	static char	proc[128], passwd[128];

	snprintf(proc, sizeof proc, "%s/proc", root);
	snprintf(passwd, sizeof passwd, "%s/etc/passwd", root);
	diskuse_set_roots(proc, passwd);
}

/*
 * Proves a disk nothing uses passes, a mount of it is named by its
 * mountpoint, and a process holding it open by pid, command and user.
 */
START_TEST(test_diskuse)
{
	struct disk	 d;
	char		*why = NULL, node[128], link[128];

	fake_disk(&d);
	enter();
	put("proc/self/mountinfo", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n");
	ck_assert_int_eq(diskuse_check(&d, 1, "/dev/vdz", &why), 0);
	ck_assert_ptr_null(why);

	put("proc/self/mountinfo", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
	    "40 22 250:7 / /srv/data rw - ext4 /dev/vdz rw\n");
	ck_assert_int_eq(diskuse_check(&d, 1, "/dev/vdz", &why), -1);
	ck_assert_str_eq(why, "cannot roll back /dev/vdz: /srv/data is "
	    "mounted on it; unmount it first");
	free(why);
	why = NULL;

	put("proc/self/mountinfo", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n");
	snprintf(node, sizeof node, "%s/vdz", root);
	if (mknod(node, S_IFBLK | 0600, makedev(250, 7)) == -1) {
		fprintf(stderr, "test_diskuse: mknod: %s: the process case "
		    "needs root, skipped\n", strerror(errno));
		return;
	}
	snprintf(link, sizeof link, "%s/proc/4242/fd/5", root);
	ck_assert_int_eq(symlink(node, link), 0);
	ck_assert_int_eq(diskuse_check(&d, 1, "/dev/vdz", &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "cannot roll back /dev/vdz: process "
	    "4242 (postgres, user postgres) holds "));
	ck_assert_ptr_nonnull(strstr(why, "/vdz open; stop it or close the "
	    "device first"));
	free(why);
}
END_TEST

Suite *
suite_diskuse(void)
{
	Suite	*s = suite_create("diskuse");
	TCase	*tc = tcase_create("fake");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_diskuse);
	suite_add_tcase(s, tc);
	return (s);
}
