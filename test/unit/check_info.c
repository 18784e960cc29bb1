/*
 * Unit tests for guest/info.c.  The "fake" cases build a root in a temp
 * dir (etc/os-release, proc/uptime, proc/self/mountinfo, sys/block and,
 * where mknod is allowed, dev/ nodes for disk.c) and point both
 * info_set_root() and disk_set_root() at it.  The "real" case reads this
 * machine and compares with what uname() and statvfs() say directly.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include "disk.h"
#include "info.h"
#include "suites.h"
#include "testutil.h"
#include "xmalloc.h"

#define VDA_DIR		"sys/devices/pci0000:00/0000:00:05.0/virtio1/block/vda"
#define DM_DIR		"sys/devices/virtual/block/dm-0"

static char	root[64];

/* Write text to root/rel, making its directory. */
static void
fake_text(const char *rel, const char *text)
{
	char	*path, *dir;
	FILE	*f;

	dir = xstrdup(rel);
	*strrchr(dir, '/') = '\0';
	testutil_mkdirs(root, dir);
	free(dir);
	xasprintf(&path, "%s/%s", root, rel);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	free(path);
}

/* Remove root/rel. */
static void
fake_remove(const char *rel)
{
	char	*path;

	xasprintf(&path, "%s/%s", root, rel);
	ck_assert_int_eq(unlink(path), 0);
	free(path);
}

/* Make root/rel a symlink to root/target (absolute, inside the root). */
static void
fake_link(const char *rel, const char *target)
{
	char	*path, *to, *dir;

	dir = xstrdup(rel);
	*strrchr(dir, '/') = '\0';
	testutil_mkdirs(root, dir);
	free(dir);
	xasprintf(&path, "%s/%s", root, rel);
	xasprintf(&to, "%s/%s", root, target);
	ck_assert_msg(symlink(to, path) == 0, "symlink %s: %s", path,
	    strerror(errno));
	free(to);
	free(path);
}

/* Checked fixture: an empty fake root, read by info.c and disk.c. */
static void
fake_setup(void)
{
	snprintf(root, sizeof root, "/tmp/evg-info-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	info_set_root(root);
	disk_set_root(root);
}

/* Checked fixture: remove the root, read the real files again. */
static void
fake_teardown(void)
{
	testutil_rmtree(root);
	info_set_root(NULL);
	disk_set_root(NULL);
}

/* Collect from the fake root; must succeed. */
static struct guest_info *
collect(void)
{
	struct guest_info	*gi;
	char			*cause = NULL;

	ck_assert_msg(info_collect(&gi, &cause) == 0, "info_collect: %s",
	    cause);
	ck_assert_ptr_nonnull(gi);
	return (gi);
}

/* The OS string from os-release text; "(null)" when unknown. */
static char *
os_from(const char *text)
{
	struct guest_info	*gi;
	char			*os;

	fake_text("etc/os-release", text);
	gi = collect();
	os = xstrdup(gi->os != NULL ? gi->os : "(null)");
	info_free(gi);
	return (os);
}

/* True if some error line of gi holds needle. */
static int
has_error(const struct guest_info *gi, const char *needle)
{
	size_t	i;

	for (i = 0; i < gi->nerrors; i++) {
		if (strstr(gi->errors[i], needle) != NULL)
			return (1);
	}
	return (0);
}

/*
 * Proves os-release values are read as the shell reads them: double
 * quotes with backslash escapes, single quotes, bare values (trailing
 * blanks dropped), comments and unrelated keys ignored, the last
 * assignment winning, control characters made harmless.
 */
START_TEST(test_os_release_values)
{
	char	*os;

	os = os_from("NAME=\"Debian GNU/Linux\"\n"
	    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
	    "ID=debian\n");
	ck_assert_str_eq(os, "Debian GNU/Linux 12 (bookworm)");
	free(os);
	os = os_from("# a comment\n\nPRETTY_NAME=Alpine   \nID=alpine\n");
	ck_assert_str_eq(os, "Alpine");
	free(os);
	os = os_from("PRETTY_NAME='Fedora Linux 40 (Forty)'\n");
	ck_assert_str_eq(os, "Fedora Linux 40 (Forty)");
	free(os);
	os = os_from("PRETTY_NAME=\"Say \\\"hi\\\" for \\$5 \\\\o/\"\n");
	ck_assert_str_eq(os, "Say \"hi\" for $5 \\o/");
	free(os);
	os = os_from("PRETTY_NAME=\"first\"\nPRETTY_NAME=\"second\"\n");
	ck_assert_str_eq(os, "second");
	free(os);
	os = os_from("PRETTY_NAME=\"bell\arang\"\n");
	ck_assert_str_eq(os, "bell?rang");
	free(os);
}
END_TEST

/*
 * Proves the fallbacks: NAME and VERSION without PRETTY_NAME, NAME alone,
 * "Linux" when the file names nothing, usr/lib/os-release when
 * etc/os-release is missing or is a FIFO (refused, not waited on), and an
 * unknown OS with an error when neither can be read.
 */
START_TEST(test_os_release_fallback)
{
	struct guest_info	*gi;
	char			*os, *path;

	os = os_from("NAME=\"Ubuntu\"\nVERSION=\"24.04 LTS (Noble Numbat)\"\n");
	ck_assert_str_eq(os, "Ubuntu 24.04 LTS (Noble Numbat)");
	free(os);
	os = os_from("NAME=Gentoo\n");
	ck_assert_str_eq(os, "Gentoo");
	free(os);
	os = os_from("ID=custom\n");
	ck_assert_str_eq(os, "Linux");
	free(os);

	fake_remove("etc/os-release");
	fake_text("usr/lib/os-release", "PRETTY_NAME=\"From usr/lib\"\n");
	gi = collect();
	ck_assert_str_eq(gi->os, "From usr/lib");
	info_free(gi);

	xasprintf(&path, "%s/etc/os-release", root);
	ck_assert_int_eq(mkfifo(path, 0644), 0);
	free(path);
	gi = collect();
	ck_assert_str_eq(gi->os, "From usr/lib");
	info_free(gi);

	fake_remove("etc/os-release");
	fake_remove("usr/lib/os-release");
	gi = collect();
	ck_assert_ptr_null(gi->os);
	ck_assert(has_error(gi, "OS release unknown"));
	info_free(gi);
}
END_TEST

/*
 * Proves the parsers info_collect() uses read text with no file behind
 * it: info_os_parse() on os-release text, info_parse_mountinfo() on
 * mountinfo (no usage asked, a bad line noted under the name given).
 */
START_TEST(test_parsers)
{
	struct guest_info	*gi;
	char			 text[] = "NAME=Gentoo\nVERSION=2.15\n";
	char			*os;

	os = info_os_parse(text);
	ck_assert_str_eq(os, "Gentoo 2.15");
	free(os);

	gi = xcalloc(1, sizeof *gi);
	info_parse_mountinfo(gi, "22 27 0:21 / /proc rw - proc proc rw\n"
	    "bad line\n"
	    "27 1 254:1 / / rw - ext4 /dev/vda1 rw\n", "mi");
	ck_assert_uint_eq(gi->nfs, 1);
	ck_assert_str_eq(gi->fs[0].mountpoint, "/");
	ck_assert_int_eq(gi->fs[0].has_usage, 0);
	ck_assert_uint_eq(gi->nerrors, 1);
	ck_assert_str_eq(gi->errors[0], "mi: line 2: malformed mount entry");
	info_free(gi);
}
END_TEST

/* Proves proc/uptime parsing: whole seconds; malformed is unknown. */
START_TEST(test_uptime)
{
	struct guest_info	*gi;

	fake_text("proc/uptime", "4082.23 7634.03\n");
	gi = collect();
	ck_assert_int_eq(gi->has_uptime, 1);
	ck_assert_uint_eq(gi->uptime_seconds, 4082);
	info_free(gi);

	fake_text("proc/uptime", "31536000 12\n");
	gi = collect();
	ck_assert_uint_eq(gi->uptime_seconds, 31536000);
	info_free(gi);

	fake_text("proc/uptime", "soon\n");
	gi = collect();
	ck_assert_int_eq(gi->has_uptime, 0);
	ck_assert(has_error(gi, "uptime unknown"));
	info_free(gi);

	fake_remove("proc/uptime");
	gi = collect();
	ck_assert_int_eq(gi->has_uptime, 0);
	info_free(gi);
}
END_TEST

static const char mountinfo[] =
    "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
    "23 27 0:22 / /sys rw,relatime - sysfs sysfs rw\n"
    "24 27 0:6 / /dev rw - devtmpfs devtmpfs rw,size=1k\n"
    "25 24 0:23 / /dev/shm rw - tmpfs tmpfs rw\n"
    "26 24 0:24 / /dev/pts rw - devpts devpts rw,mode=600\n"
    "27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
    "33 23 0:7 / /sys/kernel/debug rw - debugfs debugfs rw\n"
    "34 23 0:12 / /sys/kernel/tracing rw - tracefs tracefs rw\n"
    "35 22 0:40 / /proc/sys/fs/binfmt_misc rw - autofs systemd-1 rw\n"
    "36 35 0:41 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw\n"
    "37 24 0:20 / /dev/mqueue rw - mqueue mqueue rw\n"
    "38 24 0:42 / /dev/hugepages rw - hugetlbfs hugetlbfs rw\n"
    "39 23 0:31 / /sys/fs/bpf rw - bpf bpf rw\n"
    "40 23 0:32 / /sys/fs/pstore rw - pstore pstore rw\n"
    "41 23 0:33 / /sys/firmware/efi/efivars rw - efivarfs efivarfs rw\n"
    "42 23 0:34 / /sys/kernel/config rw - configfs configfs rw\n"
    "43 23 0:35 / /sys/kernel/security rw - securityfs securityfs rw\n"
    "44 23 0:36 / /sys/fs/fuse/connections rw - fusectl fusectl rw\n"
    "45 22 0:37 / /run/netns/x rw - nsfs nsfs rw\n"
    "46 27 0:38 / /run/rpc_pipefs rw - rpc_pipefs sunrpc rw\n"
    "50 27 254:2 / /boot/efi rw,relatime - vfat /dev/vda2 rw\n"
    "51 27 254:16 / /mnt/my\\040disk rw,relatime - ext4 /dev/disk/"
    "by-label/my\\040label rw\n"
    "52 27 254:16 / /mnt/my\\040disk rw,relatime - ext4 /dev/disk/"
    "by-label/my\\040label rw\n"
    "53 27 254:16 /sub /srv/bind rw,relatime - ext4 /dev/vdb rw\n"
    "54 27 0:50 / /srv/share rw - nfs4 server:/export rw\n"
    "55 54 254:32 / /srv/share/local rw - ext4 /dev/vdc rw\n"
    "56 27 0:51 / /home/u/remote rw - fuse.sshfs u@host:/ rw\n"
    "this line is not a mount\n";

/*
 * Proves mountinfo filtering: every pseudo filesystem (cgroup, tmpfs and
 * the rest) dropped, escaped mount points and sources unescaped, the same
 * subtree mounted twice listed once (a bind of another subtree kept),
 * usage read for local filesystems only, never for NFS, FUSE or a mount
 * below NFS, and a malformed line reported without losing the others.
 */
START_TEST(test_mounts)
{
	static const char *const	 want[][3] = {
		{ "/", "ext4", "/dev/vda1" },
		{ "/boot/efi", "vfat", "/dev/vda2" },
		{ "/mnt/my disk", "ext4", "/dev/disk/by-label/my label" },
		{ "/srv/bind", "ext4", "/dev/vdb" },
		{ "/srv/share", "nfs4", "server:/export" },
		{ "/srv/share/local", "ext4", "/dev/vdc" },
		{ "/home/u/remote", "fuse.sshfs", "u@host:/" },
	};
	struct guest_info		*gi;
	size_t				 i;

	fake_text("proc/self/mountinfo", mountinfo);
	testutil_mkdirs(root, "mnt/my disk");
	gi = collect();
	ck_assert_uint_eq(gi->nfs, sizeof want / sizeof want[0]);
	for (i = 0; i < gi->nfs; i++) {
		ck_assert_str_eq(gi->fs[i].mountpoint, want[i][0]);
		ck_assert_str_eq(gi->fs[i].fstype, want[i][1]);
		ck_assert_str_eq(gi->fs[i].source, want[i][2]);
	}
	/* "/" is the fake root itself: a real directory, so usage. */
	ck_assert_int_eq(gi->fs[0].has_usage, 1);
	ck_assert_uint_gt(gi->fs[0].size_bytes, 0);
	ck_assert_uint_le(gi->fs[0].used_bytes, gi->fs[0].size_bytes);
	ck_assert_uint_le(gi->fs[0].available_bytes, gi->fs[0].size_bytes);
	ck_assert_int_eq(gi->fs[2].has_usage, 1);
	/* No such directory in the fake root: tried, failed, noted. */
	ck_assert_int_eq(gi->fs[1].has_usage, 0);
	ck_assert(has_error(gi, "no usage for /boot/efi"));
	/* Could hang: never asked. */
	ck_assert_int_eq(gi->fs[4].has_usage, 0);
	ck_assert_int_eq(gi->fs[5].has_usage, 0);
	ck_assert_int_eq(gi->fs[6].has_usage, 0);
	ck_assert(!has_error(gi, "/srv/share"));
	ck_assert(!has_error(gi, "/home/u/remote"));
	ck_assert(has_error(gi, "line 30: malformed mount entry"));
	info_free(gi);
}
END_TEST

/*
 * Build a fake virtio disk vda (252:0, serial vol-1) and a device-mapper
 * dm-0 (253:0, "vg-root") on it, the ignored ram0, zram0 and a detached
 * loop0, and an attached loop1.  Returns 1 if the device nodes could be
 * made (so disk.c can resolve them), else 0.
 */
static int
fake_disks(void)
{
	char	*path;
	int	 nodes = 1;

	fake_text(VDA_DIR "/dev", "252:0\n");
	fake_text(VDA_DIR "/size", "2097152\n");
	fake_text(VDA_DIR "/serial", "vol-1\n");
	fake_link("sys/block/vda", VDA_DIR);
	fake_link("sys/dev/block/252:0", VDA_DIR);
	fake_text(DM_DIR "/dev", "253:0\n");
	fake_text(DM_DIR "/size", "1024\n");
	fake_text(DM_DIR "/dm/name", "vg-root\n");
	fake_link(DM_DIR "/slaves/vda", VDA_DIR);
	fake_link("sys/block/dm-0", DM_DIR);
	fake_link("sys/dev/block/253:0", DM_DIR);
	fake_text("sys/devices/virtual/block/ram0/size", "8192\n");
	fake_link("sys/block/ram0", "sys/devices/virtual/block/ram0");
	fake_text("sys/devices/virtual/block/zram0/size", "8192\n");
	fake_link("sys/block/zram0", "sys/devices/virtual/block/zram0");
	fake_text("sys/devices/virtual/block/loop0/size", "0\n");
	fake_link("sys/block/loop0", "sys/devices/virtual/block/loop0");
	fake_text("sys/devices/virtual/block/loop1/size", "16\n");
	fake_text("sys/devices/virtual/block/loop1/loop/backing_file",
	    "/var/lib/images/a.img\n");
	fake_link("sys/block/loop1", "sys/devices/virtual/block/loop1");

	testutil_mkdirs(root, "dev");
	xasprintf(&path, "%s/dev/vda", root);
	if (mknod(path, S_IFBLK | 0600, makedev(252, 0)) == -1)
		nodes = 0;
	free(path);
	xasprintf(&path, "%s/dev/dm-0", root);
	if (nodes && mknod(path, S_IFBLK | 0600, makedev(253, 0)) == -1)
		nodes = 0;
	free(path);
	return (nodes);
}

/*
 * Proves the disk list: ram*, zram* and a loop device with no backing
 * file left out, an attached loop kept, types and sizes from sysfs, a
 * whole disk with its own identifiers (from disk.c), a device-mapper
 * device with its name and the disk under it.  Without mknod the
 * identifiers are unknown and say why.
 */
START_TEST(test_disks)
{
	struct guest_info	*gi;
	int			 nodes;

	nodes = fake_disks();
	gi = collect();
	ck_assert_uint_eq(gi->ndisks, 3);
	ck_assert_str_eq(gi->disks[0].device, "/dev/dm-0");
	ck_assert_str_eq(gi->disks[0].type, "device-mapper");
	ck_assert_str_eq(gi->disks[0].dm_name, "vg-root");
	ck_assert_uint_eq(gi->disks[0].size_bytes, 1024 * 512);
	ck_assert_str_eq(gi->disks[1].device, "/dev/loop1");
	ck_assert_str_eq(gi->disks[1].type, "loop");
	ck_assert_str_eq(gi->disks[2].device, "/dev/vda");
	ck_assert_str_eq(gi->disks[2].type, "disk");
	ck_assert_uint_eq(gi->disks[2].size_bytes, 1024ULL * 1024 * 1024);
	ck_assert_ptr_null(gi->disks[2].dm_name);
	/* No node for loop1 in the fake dev/. */
	ck_assert_ptr_nonnull(gi->disks[1].error);
	if (!nodes) {
		printf("info: mknod not allowed; skipping the identifier "
		    "checks\n");
		ck_assert_ptr_nonnull(gi->disks[2].error);
		info_free(gi);
		return;
	}
	ck_assert_ptr_null(gi->disks[2].error);
	ck_assert_uint_eq(gi->disks[2].nids, 1);
	ck_assert_str_eq(gi->disks[2].ids[0].kind, DISK_ID_SERIAL);
	ck_assert_str_eq(gi->disks[2].ids[0].value, "vol-1");
	ck_assert_uint_eq(gi->disks[2].nunder, 0);
	ck_assert_ptr_null(gi->disks[0].error);
	ck_assert_uint_eq(gi->disks[0].nids, 0);
	ck_assert_uint_eq(gi->disks[0].nunder, 1);
	ck_assert_str_eq(gi->disks[0].under[0], "/dev/vda");
	info_free(gi);
}
END_TEST

/* Member key of o, which must exist (its value may be null). */
static json_object *
member(json_object *o, const char *key)
{
	json_object	*v = NULL;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no \"%s\"", key);
	return (v);
}

/*
 * Proves the JSON shape: every documented key, unknowns as null (an OS
 * with no os-release, usage of an NFS mount), sizes as numbers, disks
 * with ids, "on" and "dm_name", and the errors list.
 */
START_TEST(test_json)
{
	struct guest_info	*gi;
	json_object		*o, *fs, *f, *disks, *d, *ids;
	int			 nodes;

	fake_text("proc/uptime", "99.5 1.0\n");
	fake_text("proc/self/mountinfo", mountinfo);
	nodes = fake_disks();
	gi = collect();
	o = info_json(gi);
	ck_assert_str_eq(json_object_get_string(member(o, "agent_version")),
	    EVG_VERSION);
	ck_assert(json_object_is_type(member(o, "os"), json_type_null));
	ck_assert_str_eq(json_object_get_string(member(o, "kernel")),
	    gi->kernel);
	ck_assert_str_eq(json_object_get_string(member(o, "kernel_version")),
	    gi->kernel_version);
	ck_assert_str_eq(json_object_get_string(member(o, "hostname")),
	    gi->hostname);
	ck_assert_int_eq(json_object_get_int64(member(o, "uptime_seconds")),
	    99);

	fs = member(o, "filesystems");
	ck_assert_uint_eq(json_object_array_length(fs), 7);
	f = json_object_array_get_idx(fs, 0);
	ck_assert_str_eq(json_object_get_string(member(f, "mountpoint")), "/");
	ck_assert_str_eq(json_object_get_string(member(f, "fstype")), "ext4");
	ck_assert_str_eq(json_object_get_string(member(f, "source")),
	    "/dev/vda1");
	ck_assert(json_object_is_type(member(f, "size_bytes"), json_type_int));
	ck_assert_int_gt(json_object_get_int64(member(f, "size_bytes")), 0);
	ck_assert(json_object_is_type(member(f, "used_bytes"), json_type_int));
	ck_assert(json_object_is_type(member(f, "available_bytes"),
	    json_type_int));
	f = json_object_array_get_idx(fs, 4);
	ck_assert_str_eq(json_object_get_string(member(f, "fstype")), "nfs4");
	ck_assert(json_object_is_type(member(f, "size_bytes"),
	    json_type_null));
	ck_assert(json_object_is_type(member(f, "used_bytes"),
	    json_type_null));
	ck_assert(json_object_is_type(member(f, "available_bytes"),
	    json_type_null));

	disks = member(o, "disks");
	ck_assert_uint_eq(json_object_array_length(disks), 3);
	d = json_object_array_get_idx(disks, 2);
	ck_assert_str_eq(json_object_get_string(member(d, "device")),
	    "/dev/vda");
	ck_assert_str_eq(json_object_get_string(member(d, "type")), "disk");
	ck_assert_int_eq(json_object_get_int64(member(d, "size_bytes")),
	    1073741824);
	ids = member(d, "ids");
	ck_assert(json_object_is_type(ids, json_type_array));
	if (nodes) {
		ck_assert_uint_eq(json_object_array_length(ids), 1);
		ck_assert_str_eq(json_object_get_string(member(
		    json_object_array_get_idx(ids, 0), "kind")), "serial");
		ck_assert_str_eq(json_object_get_string(member(
		    json_object_array_get_idx(ids, 0), "value")), "vol-1");
		d = json_object_array_get_idx(disks, 0);
		ck_assert_str_eq(json_object_get_string(member(d, "dm_name")),
		    "vg-root");
		ck_assert_str_eq(json_object_get_string(
		    json_object_array_get_idx(member(d, "on"), 0)), "/dev/vda");
	}
	ck_assert_uint_eq(json_object_array_length(member(o, "errors")),
	    gi->nerrors);
	json_object_put(o);
	info_free(gi);
}
END_TEST

/* The column where needle starts in the line of text that holds key. */
static long
column_of(const char *text, const char *key, const char *needle)
{
	const char	*line, *end, *hit;

	for (line = text; *line != '\0'; line = *end == '\0' ? end : end + 1) {
		end = strchr(line, '\n');
		if (end == NULL)
			end = line + strlen(line);
		hit = strstr(line, key);
		if (hit == NULL || hit >= end)
			continue;
		hit = strstr(line, needle);
		if (hit != NULL && hit < end)
			return (hit - line);
	}
	return (-1);
}

/*
 * Proves the text form: the facts, "unknown" for what is not known, and
 * filesystem and disk tables whose columns line up with their headers,
 * "-" for usage not read.
 */
START_TEST(test_print)
{
	struct guest_info	*gi;
	char			*text = NULL;
	size_t			 len = 0;
	FILE			*f;

	fake_text("proc/self/mountinfo", mountinfo);
	testutil_mkdirs(root, "mnt/my disk");
	fake_disks();
	gi = collect();
	f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	info_print(f, gi);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "Agent version:  " EVG_VERSION
	    "\n"));
	ck_assert_ptr_nonnull(strstr(text, "OS:             unknown\n"));
	ck_assert_ptr_nonnull(strstr(text, "Uptime:         unknown\n"));
	ck_assert_int_ge(column_of(text, "MOUNT POINT", "TYPE"), 2);
	ck_assert_int_eq(column_of(text, "MOUNT POINT", "TYPE"),
	    column_of(text, "/mnt/my disk", "ext4"));
	ck_assert_int_eq(column_of(text, "MOUNT POINT", "SOURCE"),
	    column_of(text, "server:/export", "server:/export"));
	ck_assert_int_eq(column_of(text, "DEVICE", "TYPE"),
	    column_of(text, "/dev/dm-0", "device-mapper"));
	ck_assert_ptr_nonnull(strstr(text, "1.0 GiB"));
	ck_assert_ptr_nonnull(strstr(text, "Not known:\n"));
	free(text);
	info_free(gi);
}
END_TEST

/*
 * Proves a real run on this machine: it succeeds, the kernel and
 * hostname are uname()'s, the root filesystem "/" is listed with a size,
 * and no ignored device (ram, zram, detached loop) is listed.
 */
START_TEST(test_real)
{
	struct guest_info	*gi;
	struct utsname		 u;
	json_object		*o;
	char			*cause = NULL, *text = NULL, *rel;
	size_t			 i, len = 0;
	int			 found = 0;
	FILE			*f;

	info_set_root(NULL);
	disk_set_root(NULL);
	ck_assert_int_eq(uname(&u), 0);
	ck_assert_msg(info_collect(&gi, &cause) == 0, "%s", cause);
	ck_assert_str_eq(gi->kernel, u.release);
	ck_assert_str_eq(gi->kernel_version, u.version);
	ck_assert_str_eq(gi->hostname, u.nodename);
	ck_assert_str_eq(gi->agent_version, EVG_VERSION);
	ck_assert_int_eq(gi->has_uptime, 1);
	ck_assert_uint_gt(gi->uptime_seconds, 0);
	for (i = 0; i < gi->nfs; i++) {
		if (strcmp(gi->fs[i].mountpoint, "/") != 0)
			continue;
		found = 1;
		ck_assert_int_eq(gi->fs[i].has_usage, 1);
		ck_assert_uint_gt(gi->fs[i].size_bytes, 0);
	}
	ck_assert_msg(found, "\"/\" is not listed");
	for (i = 0; i < gi->ndisks; i++) {
		ck_assert(strncmp(gi->disks[i].device, "/dev/ram", 8) != 0);
		ck_assert(strncmp(gi->disks[i].device, "/dev/zram", 9) != 0);
		if (strcmp(gi->disks[i].type, "loop") != 0)
			continue;
		xasprintf(&rel, "/sys/block/%s/loop/backing_file",
		    gi->disks[i].device + 5);
		ck_assert_msg(access(rel, R_OK) == 0, "%s listed",
		    gi->disks[i].device);
		free(rel);
	}
	o = info_json(gi);
	ck_assert_ptr_nonnull(json_object_to_json_string(o));
	json_object_put(o);
	f = open_memstream(&text, &len);
	info_print(f, gi);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, u.release));
	free(text);
	info_free(gi);
}
END_TEST

Suite *
suite_info(void)
{
	Suite	*s = suite_create("info");
	TCase	*tf = tcase_create("fake");
	TCase	*tr = tcase_create("real");

	tcase_add_checked_fixture(tf, fake_setup, fake_teardown);
	tcase_add_test(tf, test_os_release_values);
	tcase_add_test(tf, test_os_release_fallback);
	tcase_add_test(tf, test_uptime);
	tcase_add_test(tf, test_parsers);
	tcase_add_test(tf, test_mounts);
	tcase_add_test(tf, test_disks);
	tcase_add_test(tf, test_json);
	tcase_add_test(tf, test_print);
	suite_add_tcase(s, tf);

	tcase_set_timeout(tr, 30);
	tcase_add_test(tr, test_real);
	suite_add_tcase(s, tr);
	return (s);
}
