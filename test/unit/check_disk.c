/*
 * Unit tests for guest/disk.c, against a fake sysfs tree and, where the
 * machine allows, a real loop device.
 *
 * The fake tree copies the shapes the kernel gives: /sys/dev/block/MAJ:MIN
 * and /sys/block/NAME are relative symlinks into /sys/devices; a disk's
 * "device" is a relative symlink to its parent device (virtio-blk: the
 * virtioN dir; SCSI: the H:C:T:L dir; NVMe: the nvmeN controller); a
 * partition is a subdirectory of its disk holding a "partition" file; a
 * dm device lives in /sys/devices/virtual/block with slaves/ symlinks.
 * The device nodes are made with mknod under the same temp root (the
 * numbers need no real device behind them), so the tests that stat one
 * skip, saying so, where mknod is not allowed.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "readfile.h"
#include "suites.h"
#include "testutil.h"
#include "xmalloc.h"

#define ROOT_PORT	"sys/devices/pci0000:00/0000:00:02.0"
#define VDA		ROOT_PORT "/0000:01:00.0/virtio2/block/vda"
#define VDB		"sys/devices/pci0000:00/0000:00:03.0/0000:02:00.0" \
			    "/virtio4/block/vdb"
#define HBA		"sys/devices/pci0000:00/0000:00:05.0/virtio3/host0" \
			    "/target0:0:0"
#define NVME_CTRL	"sys/devices/pci0000:00/0000:00:04.0/0000:03:00.0" \
			    "/nvme/nvme0"
#define VIRT		"sys/devices/virtual/block"
#define CCISS		"sys/devices/pci0000:00/0000:00:06.0/block/cciss!c0d0"

#define WWN_SDA		"naa.6001405abcdef012"
#define BACKING		"/var/lib/images/disk.img"

static char	root[64];
static char	nodes_why[128];	/* why device nodes are missing, or "" */

/* Write len bytes to root/rel, making its directory. */
static void
fake_write(const char *rel, const void *data, size_t len)
{
	char	*path, *dir;
	int	 fd;

	dir = xstrdup(rel);
	*strrchr(dir, '/') = '\0';
	testutil_mkdirs(root, dir);
	free(dir);
	xasprintf(&path, "%s/%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_msg(fd != -1, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	free(path);
}

/* Write a text attribute. */
static void
fake_text(const char *rel, const char *text)
{
	fake_write(rel, text, strlen(text));
}

/* Make root/rel a relative symlink to root/target, as sysfs does. */
static void
fake_link(const char *rel, const char *target)
{
	char		*path, *dir, *to;
	const char	*p;
	size_t		 up = 0;

	dir = xstrdup(rel);
	*strrchr(dir, '/') = '\0';
	testutil_mkdirs(root, dir);
	free(dir);
	for (p = rel; (p = strchr(p, '/')) != NULL; p++)
		up++;
	to = xcalloc(1, up * 3 + strlen(target) + 1);
	while (up-- > 0)
		strcat(to, "../");
	strcat(to, target);
	xasprintf(&path, "%s/%s", root, rel);
	ck_assert_msg(symlink(to, path) == 0, "symlink %s: %s", path,
	    strerror(errno));
	free(path);
	free(to);
}

/* A block device's node at dir: dev, /sys/dev/block link, /sys/block. */
static void
fake_blockdev(const char *dir, unsigned maj, unsigned min, int whole)
{
	char	*rel, *num;

	xasprintf(&num, "%u:%u\n", maj, min);
	xasprintf(&rel, "%s/dev", dir);
	fake_text(rel, num);
	free(rel);
	num[strlen(num) - 1] = '\0';
	xasprintf(&rel, "sys/dev/block/%s", num);
	fake_link(rel, dir);
	free(rel);
	free(num);
	if (whole) {
		xasprintf(&rel, "sys/block/%s", strrchr(dir, '/') + 1);
		fake_link(rel, dir);
		free(rel);
	} else {
		xasprintf(&rel, "%s/partition", dir);
		fake_text(rel, "1\n");
		free(rel);
	}
}

/* mknod root/dev/name; on failure remember why for the skip message. */
static void
fake_node(const char *name, mode_t type, unsigned maj, unsigned min)
{
	char	*path;

	if (nodes_why[0] != '\0')
		return;
	xasprintf(&path, "%s/dev/%s", root, name);
	if (mknod(path, type | 0600, makedev(maj, min)) == -1)
		snprintf(nodes_why, sizeof nodes_why, "mknod %s: %s", path,
		    strerror(errno));
	free(path);
}

/*
 * Build the fake tree described at the top in a fresh temp root, once for
 * the test case and in the runner process (an unchecked fixture): the
 * tests only read it, and it is removed even when a forked test fails.
 */
static void
fake_setup(void)
{
	static const char vpd_sda[] = "\x00\x80\x00\x0c" "SERIAL-SDA  ";
	static const char vpd_sdb[] = "\x00\x80\x00\x28" "SHORT";
	static const char vpd_sdc[] = "\x00\x80\x00\x0c" "  SERIAL-SDC";
	static const struct {
		const char	*name;
		mode_t		 type;
		unsigned	 maj, min;
	} nodes[] = {
		{ "vda", S_IFBLK, 254, 0 }, { "vda1", S_IFBLK, 254, 1 },
		{ "vdb", S_IFBLK, 254, 16 }, { "sda", S_IFBLK, 8, 0 },
		{ "sda1", S_IFBLK, 8, 1 }, { "sdb", S_IFBLK, 8, 16 },
		{ "sdc", S_IFBLK, 8, 32 }, { "nvme0n1", S_IFBLK, 259, 0 },
		{ "loop0", S_IFBLK, 7, 0 }, { "dm-0", S_IFBLK, 253, 0 },
		{ "dm-1", S_IFBLK, 253, 1 }, { "dm-9", S_IFBLK, 253, 9 },
		{ "cciss/c0d0", S_IFBLK, 104, 0 },
		{ "ghost", S_IFBLK, 99, 99 }, { "null", S_IFCHR, 1, 3 },
	};
	size_t	i;

	snprintf(root, sizeof root, "/tmp/evg-disk-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	nodes_why[0] = '\0';

	/* virtio-blk behind a PCIe root port, with a partition. */
	fake_blockdev(VDA, 254, 0, 1);
	fake_text(VDA "/serial", "vol-0001\n");
	fake_link(VDA "/device", ROOT_PORT "/0000:01:00.0/virtio2");
	fake_blockdev(VDA "/vda1", 254, 1, 0);

	/* virtio-blk whose host set no serial: an empty attribute. */
	fake_blockdev(VDB, 254, 16, 1);
	fake_text(VDB "/serial", "\n");
	fake_link(VDB "/device", "sys/devices/pci0000:00/0000:00:03.0"
	    "/0000:02:00.0/virtio4");

	/* virtio-scsi LUNs: wwid and VPD 0x80; a bad page; VPD only. */
	fake_blockdev(HBA "/0:0:0:0/block/sda", 8, 0, 1);
	fake_link(HBA "/0:0:0:0/block/sda/device", HBA "/0:0:0:0");
	fake_text(HBA "/0:0:0:0/wwid", WWN_SDA "\n");
	fake_write(HBA "/0:0:0:0/vpd_pg80", vpd_sda, sizeof vpd_sda - 1);
	fake_blockdev(HBA "/0:0:0:0/block/sda/sda1", 8, 1, 0);
	fake_blockdev(HBA "/0:0:0:1/block/sdb", 8, 16, 1);
	fake_link(HBA "/0:0:0:1/block/sdb/device", HBA "/0:0:0:1");
	fake_write(HBA "/0:0:0:1/vpd_pg80", vpd_sdb, sizeof vpd_sdb - 1);
	fake_blockdev(HBA "/0:0:0:2/block/sdc", 8, 32, 1);
	fake_link(HBA "/0:0:0:2/block/sdc/device", HBA "/0:0:0:2");
	fake_write(HBA "/0:0:0:2/vpd_pg80", vpd_sdc, sizeof vpd_sdc - 1);

	/* NVMe: serial on the controller, wwid on the namespace. */
	fake_blockdev(NVME_CTRL "/nvme0n1", 259, 0, 1);
	fake_link(NVME_CTRL "/nvme0n1/device", NVME_CTRL);
	fake_text(NVME_CTRL "/serial", "NVME-SER-1          \n");
	fake_text(NVME_CTRL "/nvme0n1/wwid", "eui.0025385b71b07e2f\n");

	/* A loop device, and a name with a '/' in it. */
	fake_blockdev(VIRT "/loop0", 7, 0, 1);
	fake_text(VIRT "/loop0/loop/backing_file", BACKING "\n");
	fake_blockdev(CCISS, 104, 0, 1);
	fake_link(CCISS "/device", "sys/devices/pci0000:00/0000:00:06.0");

	/* dm-0 on vda1; dm-1 on dm-0, sda1 and vda; dm-9 on itself. */
	fake_blockdev(VIRT "/dm-0", 253, 0, 1);
	fake_link(VIRT "/dm-0/slaves/vda1", VDA "/vda1");
	fake_blockdev(VIRT "/dm-1", 253, 1, 1);
	fake_link(VIRT "/dm-1/slaves/dm-0", VIRT "/dm-0");
	fake_link(VIRT "/dm-1/slaves/sda1", HBA "/0:0:0:0/block/sda/sda1");
	fake_link(VIRT "/dm-1/slaves/vda", VDA);
	fake_blockdev(VIRT "/dm-9", 253, 9, 1);
	fake_link(VIRT "/dm-9/slaves/dm-9", VIRT "/dm-9");
	/* The same stack seen from below, as the kernel shows it too. */
	fake_link(VDA "/vda1/holders/dm-0", VIRT "/dm-0");
	fake_link(VDA "/holders/dm-1", VIRT "/dm-1");
	fake_link(VIRT "/dm-0/holders/dm-1", VIRT "/dm-1");
	fake_link(HBA "/0:0:0:0/block/sda/sda1/holders/dm-1", VIRT "/dm-1");
	fake_link(VIRT "/dm-9/holders/dm-9", VIRT "/dm-9");

	testutil_mkdirs(root, "dev/cciss");
	fake_text("dev/notdev", "root:x:0:0::/root:/bin/sh\n");
	fake_link("dev/disk/by-id/virtio-vol-0001-part1", "dev/vda1");
	for (i = 0; i < sizeof nodes / sizeof nodes[0]; i++)
		fake_node(nodes[i].name, nodes[i].type, nodes[i].maj,
		    nodes[i].min);
}

/* Remove the fake tree. */
static void
fake_teardown(void)
{
	testutil_rmtree(root);
}

/* Each test reads the fake tree. */
static void
fake_enter(void)
{
	disk_set_root(root);
}

/* Back to the real root. */
static void
fake_leave(void)
{
	disk_set_root(NULL);
}

/* Skip the calling test, saying why, when the device nodes are missing. */
#define NEED_NODES() do {						\
	if (nodes_why[0] != '\0') {					\
		printf("check_disk: skipped: %s\n", nodes_why);	\
		return;							\
	}								\
} while (0)

/* Resolve root/dev/rel, asserting success; returns the disk count. */
static size_t
resolve_ok(const char *rel, struct disk **disks)
{
	char	*path, *cause = NULL;
	size_t	 n;

	xasprintf(&path, "%s/dev/%s", root, rel);
	ck_assert_msg(disk_resolve(path, disks, &n, &cause) == 0,
	    "%s: %s", path, cause);
	ck_assert_ptr_null(cause);
	ck_assert_ptr_nonnull(*disks);
	free(path);
	return (n);
}

/* The value of d's identifier of this kind, or NULL. */
static const char *
id_of(const struct disk *d, const char *kind)
{
	size_t	i;

	for (i = 0; i < d->nids; i++) {
		if (strcmp(d->ids[i].kind, kind) == 0)
			return (d->ids[i].value);
	}
	return (NULL);
}

/* d has exactly these identifiers (NULL: absent). */
static void
expect_ids(const struct disk *d, const char *serial, const char *wwn,
    const char *pci, const char *pcipath, const char *backing)
{
	const char	*want[] = { serial, wwn, pci, pcipath, backing };
	const char	*kinds[] = { DISK_ID_SERIAL, DISK_ID_WWN, DISK_ID_PCI,
			    DISK_ID_PCIPATH, DISK_ID_BACKING };
	const char	*have;
	size_t		 i, count = 0;

	for (i = 0; i < 5; i++) {
		have = id_of(d, kinds[i]);
		if (want[i] == NULL) {
			ck_assert_msg(have == NULL, "%s: unexpected %s '%s'",
			    d->name, kinds[i], have);
			continue;
		}
		count++;
		ck_assert_msg(have != NULL, "%s: no %s", d->name, kinds[i]);
		ck_assert_str_eq(have, want[i]);
	}
	ck_assert_uint_eq(d->nids, count);
}

/* Resolve root/dev/rel to the one disk name, with its number. */
static void
expect_one(const char *rel, const char *name, unsigned maj, unsigned min,
    struct disk **disks)
{
	char	devpath[128];

	ck_assert_uint_eq(resolve_ok(rel, disks), 1);
	ck_assert_str_eq((*disks)[0].name, name);
	snprintf(devpath, sizeof devpath, "/dev/%s", name);
	ck_assert_str_eq((*disks)[0].devpath, devpath);
	ck_assert_uint_eq((*disks)[0].maj, maj);
	ck_assert_uint_eq((*disks)[0].min, min);
}

/*
 * A virtio-blk disk, its partition and a by-id symlink to the partition
 * all resolve to the disk, with its serial and its own PCI function
 * (0000:01:00.0), not the root port's (0000:00:02.0) above it.
 */
START_TEST(test_resolve_virtio_partition)
{
	static const char *const paths[] = { "vda", "vda1",
	    "disk/by-id/virtio-vol-0001-part1" };
	struct disk	*disks;
	size_t		 i;

	NEED_NODES();
	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		expect_one(paths[i], "vda", 254, 0, &disks);
		expect_ids(&disks[0], "vol-0001", NULL,
		    "0000:01:00.0", "02.0/00.0", NULL);
		disk_free(disks, 1);
	}
}
END_TEST

/* An empty serial attribute (host set none) leaves only the PCI address. */
START_TEST(test_resolve_no_serial)
{
	struct disk	*disks;

	NEED_NODES();
	expect_one("vdb", "vdb", 254, 16, &disks);
	expect_ids(&disks[0], NULL, NULL, "0000:02:00.0", "03.0/00.0", NULL);
	disk_free(disks, 1);
}
END_TEST

/*
 * SCSI: the wwid as printed, the serial from VPD page 0x80 trimmed of its
 * padding on either side, the HBA's PCI function; a partition resolves to
 * the disk; a VPD page shorter than its length field gives no serial.
 */
START_TEST(test_resolve_scsi)
{
	struct disk	*disks;

	NEED_NODES();
	expect_one("sda1", "sda", 8, 0, &disks);
	expect_ids(&disks[0], "SERIAL-SDA", WWN_SDA,
	    "0000:00:05.0", "05.0", NULL);
	disk_free(disks, 1);
	expect_one("sdb", "sdb", 8, 16, &disks);
	expect_ids(&disks[0], NULL, NULL, "0000:00:05.0", "05.0", NULL);
	disk_free(disks, 1);
	expect_one("sdc", "sdc", 8, 32, &disks);
	expect_ids(&disks[0], "SERIAL-SDC", NULL, "0000:00:05.0", "05.0", NULL);
	disk_free(disks, 1);
}
END_TEST

/* NVMe: the controller's serial, the namespace's wwid, the function. */
START_TEST(test_resolve_nvme)
{
	struct disk	*disks;

	NEED_NODES();
	expect_one("nvme0n1", "nvme0n1", 259, 0, &disks);
	expect_ids(&disks[0], "NVME-SER-1", "eui.0025385b71b07e2f",
	    "0000:03:00.0", "04.0/00.0", NULL);
	disk_free(disks, 1);
}
END_TEST

/* A loop device has its backing file and nothing else. */
START_TEST(test_resolve_loop)
{
	struct disk	*disks;

	NEED_NODES();
	expect_one("loop0", "loop0", 7, 0, &disks);
	expect_ids(&disks[0], NULL, NULL, NULL, NULL, BACKING);
	disk_free(disks, 1);
}
END_TEST

/* A sysfs name with '!' is the /dev path with '/' (cciss!c0d0). */
START_TEST(test_resolve_bang_name)
{
	struct disk	*disks;

	NEED_NODES();
	ck_assert_uint_eq(resolve_ok("cciss/c0d0", &disks), 1);
	ck_assert_str_eq(disks[0].name, "cciss!c0d0");
	ck_assert_str_eq(disks[0].devpath, "/dev/cciss/c0d0");
	expect_ids(&disks[0], NULL, NULL, "0000:00:06.0", "06.0", NULL);
	disk_free(disks, 1);
}
END_TEST

/*
 * dm-0 on a partition resolves to the partition's disk; dm-1 on dm-0, a
 * SCSI partition and vda again resolves to vda and sda once each, in the
 * order the slaves are walked (sorted by name, depth first).
 */
START_TEST(test_resolve_dm)
{
	struct disk	*disks;

	NEED_NODES();
	expect_one("dm-0", "vda", 254, 0, &disks);
	expect_ids(&disks[0], "vol-0001", NULL,
	    "0000:01:00.0", "02.0/00.0", NULL);
	disk_free(disks, 1);

	ck_assert_uint_eq(resolve_ok("dm-1", &disks), 2);
	ck_assert_str_eq(disks[0].name, "vda");
	ck_assert_str_eq(disks[1].name, "sda");
	ck_assert_str_eq(disks[1].devpath, "/dev/sda");
	expect_ids(&disks[1], "SERIAL-SDA", WWN_SDA,
	    "0000:00:05.0", "05.0", NULL);
	disk_free(disks, 2);
}
END_TEST

/* Resolve root/dev/rel, expecting failure with cause root/dev/<want>. */
static void
expect_fail(const char *rel, const char *want)
{
	struct disk	*disks = (struct disk *)1;
	char		*path, *expect, *cause = NULL;
	size_t		 n = 99;

	xasprintf(&path, "%s/dev/%s", root, rel);
	xasprintf(&expect, "%s/dev/%s", root, want);
	ck_assert_int_eq(disk_resolve(path, &disks, &n, &cause), -1);
	ck_assert_ptr_null(disks);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(cause);
	ck_assert_str_eq(cause, expect);
	free(cause);
	free(expect);
	free(path);
}

/*
 * Each wrong path gives one clear cause naming it: missing, a regular
 * file, a directory, a character device, a block device sysfs does not
 * know, and a slaves loop that would never end.
 */
START_TEST(test_resolve_errors)
{
	NEED_NODES();
	expect_fail("nope", "nope: No such file or directory");
	expect_fail("notdev", "notdev: not a block device");
	expect_fail("cciss", "cciss: not a block device (directory)");
	expect_fail("null", "null: not a block device (character device)");
	expect_fail("ghost", "ghost: block device 99:99 not found in sysfs");
	expect_fail("dm-9", "dm-9: device stack deeper than 8 levels");
}
END_TEST

/*
 * Every fake disk's identifiers lead back to its /dev name, scanning
 * /sys/block; a wwn matches in any case; an unknown identifier, an empty
 * list or a too short buffer find nothing.
 */
START_TEST(test_find_by_ids)
{
	static const char *const names[] = { "vda", "vdb", "sda", "sdc",
	    "nvme0n1", "loop0" };
	struct disk_id	 id;
	struct disk	*disks;
	char		 devpath[128], want[128];
	size_t		 i;

	NEED_NODES();
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		ck_assert_uint_eq(resolve_ok(names[i], &disks), 1);
		ck_assert_int_eq(disk_find_by_ids(disks[0].ids,
		    disks[0].nids, devpath, sizeof devpath), 0);
		snprintf(want, sizeof want, "/dev/%s", names[i]);
		ck_assert_str_eq(devpath, want);
		disk_free(disks, 1);
	}

	snprintf(id.kind, sizeof id.kind, "%s", DISK_ID_WWN);
	snprintf(id.value, sizeof id.value, "NAA.6001405ABCDEF012");
	ck_assert_int_eq(disk_find_by_ids(&id, 1, devpath, sizeof devpath),
	    0);
	ck_assert_str_eq(devpath, "/dev/sda");
	ck_assert_int_eq(disk_find_by_ids(&id, 1, devpath, 8), -1);

	snprintf(id.kind, sizeof id.kind, "%s", DISK_ID_SERIAL);
	snprintf(id.value, sizeof id.value, "no-such-serial");
	ck_assert_int_eq(disk_find_by_ids(&id, 1, devpath, sizeof devpath),
	    -1);
	ck_assert_int_eq(disk_find_by_ids(&id, 0, devpath, sizeof devpath),
	    -1);
}
END_TEST

/*
 * The SCSI disks all share the HBA's PCI function: a disk whose serial or
 * wwn contradicts the wanted one is never chosen, one sharing a serial as
 * well beats one sharing only the function, and between disks sharing
 * only the function the first by name wins.
 */
START_TEST(test_find_by_ids_shared_pci)
{
	struct disk_id	ids[2];
	char		devpath[128];

	snprintf(ids[0].kind, sizeof ids[0].kind, "%s", DISK_ID_SERIAL);
	snprintf(ids[0].value, sizeof ids[0].value, "SERIAL-SDC");
	snprintf(ids[1].kind, sizeof ids[1].kind, "%s", DISK_ID_PCI);
	snprintf(ids[1].value, sizeof ids[1].value, "0000:00:05.0");
	ck_assert_int_eq(disk_find_by_ids(ids, 2, devpath, sizeof devpath),
	    0);
	ck_assert_str_eq(devpath, "/dev/sdc");

	snprintf(ids[0].kind, sizeof ids[0].kind, "%s", DISK_ID_WWN);
	snprintf(ids[0].value, sizeof ids[0].value, "naa.600140500000000f");
	ck_assert_int_eq(disk_find_by_ids(ids, 2, devpath, sizeof devpath),
	    0);
	ck_assert_str_eq(devpath, "/dev/sdb");
}
END_TEST

/*
 * The sysfs parsers on bytes alone: a text trimmed or blank, a VPD 0x80
 * serial within its stated length (not past what was read), a dev
 * number, the last PCI function of a path, and identifiers with control
 * characters or past DISK_MAX_IDS left out.
 */
START_TEST(test_parsers)
{
	static const unsigned char	 page[] = { 0, 0x80, 0, 6, ' ', 'S',
					    'N', '1', ' ', ' ', 'x' };
	struct disk			 d;
	char				 text[] = " \tABC \n", blank[] = " \n";
	char				 buf[16];
	unsigned			 maj, min;
	size_t				 i;

	ck_assert_str_eq(readfile_trim(text), "ABC");
	ck_assert_ptr_null(readfile_trim(blank));
	ck_assert_str_eq(disk_parse_vpd80(page, sizeof page, buf, sizeof buf),
	    "SN1");
	ck_assert_ptr_null(disk_parse_vpd80(page, 9, buf, sizeof buf));
	ck_assert_ptr_null(disk_parse_vpd80(page, sizeof page, buf, 6));
	ck_assert_int_eq(disk_parse_dev("8:32\n", &maj, &min), 0);
	ck_assert_uint_eq(maj, 8);
	ck_assert_uint_eq(min, 32);
	ck_assert_int_eq(disk_parse_dev("8\n", &maj, &min), -1);
	ck_assert_str_eq(disk_parse_pci("/sys/devices/pci0000:00/0000:00:1c.0/"
	    "0000:02:00.0/virtio3/block/vda", buf, sizeof buf), "0000:02:00.0");
	ck_assert_ptr_null(disk_parse_pci("/sys/devices/virtual/block/loop0",
	    buf, sizeof buf));
	/* EVE's virtio-blk behind the root port in slot 4 of pcie.0. */
	ck_assert_str_eq(disk_parse_pcipath("/sys/devices/pci0000:00/"
	    "0000:00:04.0/0000:01:00.0/virtio3/block/vda", buf, sizeof buf),
	    "04.0/00.0");
	/* A disk on the root bus; another domain; a VMD domain; hex case. */
	ck_assert_str_eq(disk_parse_pcipath("/sys/devices/pci0000:00/"
	    "0000:00:1F.2/ata1/host0", buf, sizeof buf), "1f.2");
	ck_assert_str_eq(disk_parse_pcipath("/sys/devices/pci0001:00/"
	    "0001:00:02.0/0001:05:00.3/nvme/nvme0", buf, sizeof buf),
	    "0001:02.0/00.3");
	ck_assert_str_eq(disk_parse_pcipath("/sys/devices/pci0000:00/"
	    "0000:00:0e.0/10000:e0:1d.0/10000:e1:00.0/nvme/nvme1", buf,
	    sizeof buf), "0e.0/1d.0/00.0");
	ck_assert_ptr_null(disk_parse_pcipath("/sys/devices/virtual/block/"
	    "loop0", buf, sizeof buf));
	/* It does not fit: nothing, never a cut path. */
	ck_assert_ptr_null(disk_parse_pcipath("/sys/devices/pci0000:00/"
	    "0000:00:04.0/0000:01:00.0/virtio3", buf, 9));

	memset(&d, 0, sizeof d);
	disk_add_id(&d, DISK_ID_SERIAL, "A\033[2J");
	ck_assert_uint_eq(d.nids, 0);
	for (i = 0; i < DISK_MAX_IDS + 2; i++)
		disk_add_id(&d, DISK_ID_SERIAL, "A");
	ck_assert_uint_eq(d.nids, DISK_MAX_IDS);
}
END_TEST

/*
 * What sits on a whole disk, for a rollback's write-back: its partitions
 * and what holds them or it, at any depth, each once, never the disk
 * itself (dm-9 holds itself); a disk with nothing on it has nothing.
 */
START_TEST(test_above)
{
	struct disk	*disks, loop;
	char		**paths;
	size_t		 n, k;

	NEED_NODES();
	n = resolve_ok("vda", &disks);
	k = disk_above(&disks[0], &paths);
	ck_assert_uint_eq(k, 3);
	ck_assert_str_eq(paths[0], "/dev/vda1");
	ck_assert_str_eq(paths[1], "/dev/dm-0");
	ck_assert_str_eq(paths[2], "/dev/dm-1");
	disk_paths_free(paths, k);
	disk_free(disks, n);

	n = resolve_ok("sda", &disks);
	k = disk_above(&disks[0], &paths);
	ck_assert_uint_eq(k, 2);
	ck_assert_str_eq(paths[0], "/dev/sda1");
	ck_assert_str_eq(paths[1], "/dev/dm-1");
	disk_paths_free(paths, k);
	disk_free(disks, n);

	n = resolve_ok("sdb", &disks);
	ck_assert_uint_eq(disk_above(&disks[0], &paths), 0);
	ck_assert_ptr_null(paths);
	disk_free(disks, n);

	/* dm-9 cannot be resolved (it is its own slave): made by hand. */
	memset(&loop, 0, sizeof loop);
	loop.maj = 253;
	loop.min = 9;
	snprintf(loop.devpath, sizeof loop.devpath, "/dev/dm-9");
	ck_assert_uint_eq(disk_above(&loop, &paths), 0);
	disk_paths_free(paths, 0);
}
END_TEST

/*
 * A mount's device is on the target disks if it is one of them, a
 * partition of one or a dm device stacked on one at any depth; other
 * disks, their partitions and numbers sysfs does not know (tmpfs 0:N)
 * are not.
 */
START_TEST(test_holds_dev)
{
	struct disk	*disks;
	size_t		 n;

	NEED_NODES();
	n = resolve_ok("vda", &disks);
	ck_assert_int_eq(disk_holds_dev(disks, n, 254, 0), 1);
	ck_assert_int_eq(disk_holds_dev(disks, n, 254, 1), 1);
	ck_assert_int_eq(disk_holds_dev(disks, n, 253, 0), 1);
	ck_assert_int_eq(disk_holds_dev(disks, n, 253, 1), 1);
	ck_assert_int_eq(disk_holds_dev(disks, n, 8, 0), 0);
	ck_assert_int_eq(disk_holds_dev(disks, n, 8, 1), 0);
	ck_assert_int_eq(disk_holds_dev(disks, n, 254, 16), 0);
	ck_assert_int_eq(disk_holds_dev(disks, n, 7, 0), 0);
	ck_assert_int_eq(disk_holds_dev(disks, n, 0, 25), 0);
	ck_assert_int_eq(disk_holds_dev(disks, n, 253, 9), 0);
	disk_free(disks, n);

	n = resolve_ok("sda", &disks);
	ck_assert_int_eq(disk_holds_dev(disks, n, 8, 1), 1);
	ck_assert_int_eq(disk_holds_dev(disks, n, 253, 1), 1);
	ck_assert_int_eq(disk_holds_dev(disks, n, 253, 0), 0);
	ck_assert_int_eq(disk_holds_dev(disks, n, 254, 1), 0);
	disk_free(disks, n);
	ck_assert_int_eq(disk_holds_dev(NULL, 0, 254, 0), 0);
}
END_TEST

/*
 * The real-loop case: a 16 MiB file with an MBR holding one partition,
 * attached with losetup --partscan in the runner process (an unchecked
 * fixture) so that it is detached even when a forked test fails.
 */
static char	loop_dir[64];
static char	loop_file[128];
static char	loop_dev[64];
static char	loop_why[256];	/* why the loop tests skip, or "" */

/* Write a DOS partition table with one Linux partition from 1 MiB. */
static int
loop_write_mbr(int fd)
{
	unsigned char	mbr[512];
	uint32_t	start = 2048, count = 16 * 2048 - 2048;

	memset(mbr, 0, sizeof mbr);
	mbr[446 + 4] = 0x83;
	mbr[446 + 8] = start & 0xff;
	mbr[446 + 9] = (start >> 8) & 0xff;
	mbr[446 + 12] = count & 0xff;
	mbr[446 + 13] = (count >> 8) & 0xff;
	mbr[510] = 0x55;
	mbr[511] = 0xaa;
	return (pwrite(fd, mbr, sizeof mbr, 0) == (ssize_t)sizeof mbr ?
	    0 : -1);
}

/* Make the image and attach it, or say in loop_why why not. */
static void
loop_setup(void)
{
	FILE	*f;
	char	*cmd;
	int	 fd, status;

	loop_dev[0] = loop_why[0] = '\0';
	snprintf(loop_dir, sizeof loop_dir, "/tmp/evg-disk-loop-XXXXXX");
	if (mkdtemp(loop_dir) == NULL) {
		loop_dir[0] = '\0';
		snprintf(loop_why, sizeof loop_why, "mkdtemp: %s",
		    strerror(errno));
		return;
	}
	snprintf(loop_file, sizeof loop_file, "%s/disk.img", loop_dir);
	fd = open(loop_file, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd == -1 || ftruncate(fd, 16 << 20) == -1 ||
	    loop_write_mbr(fd) == -1) {
		snprintf(loop_why, sizeof loop_why, "%s: %s", loop_file,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return;
	}
	close(fd);
	if (system("command -v losetup >/dev/null 2>&1") != 0) {
		snprintf(loop_why, sizeof loop_why, "losetup not found");
		return;
	}
	xasprintf(&cmd, "losetup --find --show --partscan '%s'", loop_file);
	if ((f = popen(cmd, "r")) == NULL) {
		snprintf(loop_why, sizeof loop_why, "popen: %s",
		    strerror(errno));
		free(cmd);
		return;
	}
	if (fgets(loop_dev, sizeof loop_dev, f) == NULL)
		loop_dev[0] = '\0';
	loop_dev[strcspn(loop_dev, "\n")] = '\0';
	status = pclose(f);
	if (status != 0 || strncmp(loop_dev, "/dev/loop", 9) != 0) {
		snprintf(loop_why, sizeof loop_why,
		    "'%s' failed (status %d)", cmd, status);
		/* Whatever it printed is not ours to detach. */
		loop_dev[0] = '\0';
	}
	free(cmd);
}

/* Detach the loop device (always) and remove the image. */
static void
loop_teardown(void)
{
	char	*cmd;

	if (loop_dev[0] != '\0') {
		xasprintf(&cmd, "losetup -d %s", loop_dev);
		if (system(cmd) != 0)
			fprintf(stderr, "check_disk: '%s' failed\n", cmd);
		free(cmd);
		loop_dev[0] = '\0';
	}
	if (loop_dir[0] != '\0') {
		unlink(loop_file);
		rmdir(loop_dir);
	}
}

/* Skip the calling test, saying why, when no loop device is attached. */
#define NEED_LOOP() do {						\
	if (loop_why[0] != '\0') {					\
		printf("check_disk: loop skipped: %s\n", loop_why);	\
		return;							\
	}								\
} while (0)

/*
 * The real kernel: /dev/loopN resolves to disk loopN whose one identifier
 * is the image's path, the identifier finds /dev/loopN again among this
 * machine's disks, and the filesystem holding the image is not on it.
 */
START_TEST(test_real_loop)
{
	struct stat	 sb;
	struct disk	*disks;
	char		*cause = NULL, *backing, devpath[128];
	size_t		 n;

	NEED_LOOP();
	disk_set_root(NULL);
	ck_assert_msg(disk_resolve(loop_dev, &disks, &n, &cause) == 0,
	    "%s", cause);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(disks[0].devpath, loop_dev);
	ck_assert_str_eq(disks[0].name, loop_dev + 5);
	ck_assert_uint_eq(disks[0].maj, 7);
	ck_assert_ptr_nonnull(backing = realpath(loop_file, NULL));
	expect_ids(&disks[0], NULL, NULL, NULL, NULL, backing);
	free(backing);

	ck_assert_int_eq(disk_find_by_ids(disks[0].ids, disks[0].nids,
	    devpath, sizeof devpath), 0);
	ck_assert_str_eq(devpath, loop_dev);

	ck_assert_int_eq(stat(loop_dev, &sb), 0);
	ck_assert_int_eq(disk_holds_dev(disks, n, major(sb.st_rdev),
	    minor(sb.st_rdev)), 1);
	ck_assert_int_eq(stat(loop_file, &sb), 0);
	ck_assert_int_eq(disk_holds_dev(disks, n, major(sb.st_dev),
	    minor(sb.st_dev)), 0);
	disk_free(disks, n);
}
END_TEST

/*
 * The real kernel's partition layout: /dev/loopNp1 resolves to loopN and
 * is held by it.  Skipped where the kernel found no partition (built
 * without DOS partition support, or partitions disabled for loop).
 */
START_TEST(test_real_loop_partition)
{
	struct stat	 sb;
	struct disk	*disks;
	char		*cause = NULL, *part;
	size_t		 n;
	int		 found, tries;

	NEED_LOOP();
	disk_set_root(NULL);
	/* sysfs has the partition as soon as losetup returns, or never. */
	xasprintf(&part, "/sys/block/%s/%sp1", loop_dev + 5, loop_dev + 5);
	found = stat(part, &sb) == 0;
	free(part);
	xasprintf(&part, "%sp1", loop_dev);
	if (!found) {
		printf("check_disk: loop partition skipped: the kernel made "
		    "no %s\n", part);
		free(part);
		return;
	}
	/* devtmpfs makes the node at once; udev may take a moment. */
	for (tries = 0; tries < 50; tries++) {
		if (stat(part, &sb) == 0 && S_ISBLK(sb.st_mode))
			break;
		usleep(100 * 1000);
	}
	ck_assert_msg(disk_resolve(part, &disks, &n, &cause) == 0, "%s",
	    cause);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(disks[0].devpath, loop_dev);
	ck_assert_int_eq(disk_holds_dev(disks, n, major(sb.st_rdev),
	    minor(sb.st_rdev)), 1);
	disk_free(disks, n);
	free(part);
}
END_TEST

Suite *
suite_disk(void)
{
	Suite	*s = suite_create("disk");
	TCase	*tc;

	tc = tcase_create("fake");
	tcase_add_unchecked_fixture(tc, fake_setup, fake_teardown);
	tcase_add_checked_fixture(tc, fake_enter, fake_leave);
	tcase_add_test(tc, test_resolve_virtio_partition);
	tcase_add_test(tc, test_resolve_no_serial);
	tcase_add_test(tc, test_resolve_scsi);
	tcase_add_test(tc, test_resolve_nvme);
	tcase_add_test(tc, test_resolve_loop);
	tcase_add_test(tc, test_resolve_bang_name);
	tcase_add_test(tc, test_resolve_dm);
	tcase_add_test(tc, test_resolve_errors);
	tcase_add_test(tc, test_find_by_ids);
	tcase_add_test(tc, test_find_by_ids_shared_pci);
	tcase_add_test(tc, test_holds_dev);
	tcase_add_test(tc, test_above);
	tcase_add_test(tc, test_parsers);
	suite_add_tcase(s, tc);

	tc = tcase_create("loop");
	tcase_add_unchecked_fixture(tc, loop_setup, loop_teardown);
	tcase_add_test(tc, test_real_loop);
	tcase_add_test(tc, test_real_loop_partition);
	suite_add_tcase(s, tc);
	return (s);
}
