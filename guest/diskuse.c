/*
 * Who uses a disk here; see diskuse.h.  Mounts come from
 * /proc/self/mountinfo and swap areas from /proc/swaps (each by its
 * device number), devices built on the disk from sysfs (disk_above()),
 * processes from /proc/PID/fd (each open block device on the disk, one
 * of its partitions or a device built on them), and anything else the
 * kernel holds exclusively from an O_EXCL open of the whole disk, which
 * fails with EBUSY while it is claimed.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <linux/fs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "diskuse.h"
#include "log.h"
#include "mountinfo.h"
#include "output.h"
#include "readfile.h"
#include "xmalloc.h"

#define DISKUSE_PROC	"/proc"
#define DISKUSE_PASSWD	"/etc/passwd"

static const char	*diskuse_proc = DISKUSE_PROC;
static const char	*diskuse_passwd = DISKUSE_PASSWD;

/* Where to look; see diskuse.h. */
void
diskuse_set_roots(const char *proc, const char *passwd)
{
	diskuse_proc = proc != NULL ? proc : DISKUSE_PROC;
	diskuse_passwd = passwd != NULL ? passwd : DISKUSE_PASSWD;
}

/* The user name of uid from the passwd file, or its number, into buf. */
static const char *
diskuse_user(unsigned long uid, char *buf, size_t len)
{
	FILE		*f;
	char		*line = NULL, *name, *p;
	size_t		 size = 0;

	snprintf(buf, len, "uid %lu", uid);
	if ((f = fopen(diskuse_passwd, "re")) == NULL)
		return (buf);
	while (getline(&line, &size, f) != -1) {
		name = line;
		if ((p = strchr(name, ':')) == NULL)
			continue;
		*p++ = '\0';
		if ((p = strchr(p, ':')) == NULL)
			continue;
		if (strtoul(p + 1, NULL, 10) == uid && *name != '\0') {
			output_safe(buf, len, name);
			break;
		}
	}
	free(line);
	fclose(f);
	return (buf);
}

/* "PID (COMMAND, user NAME)" of a process, into buf. */
static void
diskuse_proc_name(const char *pid, char *buf, size_t len)
{
	char		*path, comm[64] = "?", raw[64], user[64], *text, *p;
	unsigned long	 uid = 0;

	xasprintf(&path, "%s/%s/comm", diskuse_proc, pid);
	if (readfile_text(path, raw, sizeof raw) != NULL)
		output_safe(comm, sizeof comm, raw);
	free(path);
	xasprintf(&path, "%s/%s/status", diskuse_proc, pid);
	if ((text = readfile_alloc(path, 65536, NULL, NULL)) != NULL) {
		if ((p = strstr(text, "\nUid:")) != NULL)
			uid = strtoul(p + 5, NULL, 10);
		free(text);
	}
	free(path);
	snprintf(buf, len, "%.16s (%.64s, user %.64s)", pid, comm,
	    diskuse_user(uid, user, sizeof user));
}

/*
 * The first process but this one with a block device on the disks open:
 * 0, or -1 with *why.
 */
static int
diskuse_procs(const struct disk *disks, size_t n, const char *arg,
    char **why)
{
	DIR		*dir, *fds;
	struct dirent	*de, *fe;
	struct stat	 sb;
	char		*path, self[32], who[160], a[256], link[256], l[256];
	ssize_t		 len;
	int		 found = 0;

	if ((dir = opendir(diskuse_proc)) == NULL)
		return (0);
	snprintf(self, sizeof self, "%ld", (long)getpid());
	while (!found && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9' ||
		    strcmp(de->d_name, self) == 0)
			continue;
		xasprintf(&path, "%s/%s/fd", diskuse_proc, de->d_name);
		fds = opendir(path);
		free(path);
		if (fds == NULL)
			continue;
		while ((fe = readdir(fds)) != NULL) {
			xasprintf(&path, "%s/%s/fd/%s", diskuse_proc,
			    de->d_name, fe->d_name);
			if (fe->d_name[0] == '.' || stat(path, &sb) == -1 ||
			    !S_ISBLK(sb.st_mode) || !disk_holds_dev(disks, n,
			    major(sb.st_rdev), minor(sb.st_rdev))) {
				free(path);
				continue;
			}
			if ((len = readlink(path, link, sizeof link - 1)) < 0)
				len = 0;
			link[len] = '\0';
			free(path);
			diskuse_proc_name(de->d_name, who, sizeof who);
			output_safe(a, sizeof a, arg);
			xasprintf(why, "cannot roll back %s: process %s holds %s "
			    "open; stop it or close the device first", a, who,
			    *link != '\0' ? output_safe(l, sizeof l, link) :
			    "it");
			found = 1;
			break;
		}
		closedir(fds);
	}
	closedir(dir);
	return (found ? -1 : 0);
}

/*
 * The first mount of a filesystem on the disks (from mountinfo), or the
 * first swap area on them (from /proc/swaps): -1 with *why, or 0.
 */
static int
diskuse_mounts(const struct disk *disks, size_t n, const char *a, char **why)
{
	struct mountinfo_line	 ml;
	struct stat		 sb;
	FILE			*f;
	char			*path, *line = NULL, src[256], s[256];
	size_t			 size = 0;
	int			 found = 0;

	xasprintf(&path, "%s/self/mountinfo", diskuse_proc);
	f = fopen(path, "re");
	free(path);
	while (f != NULL && !found && getline(&line, &size, f) != -1) {
		line[strcspn(line, "\n")] = '\0';
		if (mountinfo_parse_line(line, &ml) == -1 ||
		    !disk_holds_dev(disks, n, ml.maj, ml.min))
			continue;
		xasprintf(why, "cannot roll back %s: %s is mounted on it; "
		    "unmount it first", a, output_safe(s, sizeof s,
		    ml.mountpoint));
		found = 1;
	}
	if (f != NULL)
		fclose(f);
	xasprintf(&path, "%s/swaps", diskuse_proc);
	f = fopen(path, "re");
	free(path);
	while (f != NULL && !found && getline(&line, &size, f) != -1) {
		if (sscanf(line, "%255s", src) != 1 || src[0] != '/' ||
		    stat(src, &sb) == -1 || !S_ISBLK(sb.st_mode) ||
		    !disk_holds_dev(disks, n, major(sb.st_rdev),
		    minor(sb.st_rdev)))
			continue;
		xasprintf(why, "cannot roll back %s: %s is in use as swap; "
		    "swapoff it first", a, output_safe(s, sizeof s, src));
		found = 1;
	}
	if (f != NULL)
		fclose(f);
	free(line);
	return (found ? -1 : 0);
}

/* Who uses the disks; see diskuse.h. */
int
diskuse_check(const struct disk *disks, size_t n, const char *arg, char **why)
{
	char		**above, a[256], dev[160];
	const char	 *base;
	size_t		  i, j, nabove;
	int		  fd, rc = 0;

	output_safe(a, sizeof a, arg);
	rc = diskuse_mounts(disks, n, a, why);
	for (i = 0; i < n && rc == 0; i++) {
		nabove = disk_above(&disks[i], &above);
		for (j = 0; j < nabove && rc == 0; j++) {
			base = strrchr(above[j], '/') != NULL ?
			    strrchr(above[j], '/') + 1 : above[j];
			if (strncmp(base, "dm-", 3) != 0 &&
			    strncmp(base, "md", 2) != 0)
				continue;
			xasprintf(why, "cannot roll back %s: %s (%s) is built "
			    "on it; remove it first (%s)", a, output_safe(dev,
			    sizeof dev, above[j]), base[0] == 'd' ?
			    "device-mapper: LVM, dm-crypt" : "md RAID",
			    base[0] == 'd' ? "vgchange -an, dmsetup remove or "
			    "cryptsetup close" : "mdadm --stop");
			rc = -1;
		}
		disk_paths_free(above, nabove);
	}
	if (rc == 0 && diskuse_procs(disks, n, arg, why) == -1)
		rc = -1;
	for (i = 0; i < n && rc == 0; i++) {
		if ((fd = open(disks[i].devpath, O_RDONLY | O_EXCL |
		    O_CLOEXEC)) != -1) {
			close(fd);
			continue;
		}
		if (errno != EBUSY)
			continue;
		xasprintf(why, "cannot roll back %s: the kernel holds %s "
		    "exclusively (a mount, swap area or driver claims it)", a,
		    output_safe(dev, sizeof dev, disks[i].devpath));
		rc = -1;
	}
	return (rc);
}

/* Write back what the kernel holds dirty for the block device at path. */
static void
diskuse_fsync(const char *path)
{
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_debug("%s: %s: %s", __func__, path, strerror(errno));
		return;
	}
	if (fsync(fd) == -1)
		log_warn("fsync %s", path);
	close(fd);
}

/*
 * Drop what the guest kernel still caches of the disk as it was before
 * the rollback: write back, invalidate the buffers of the device named
 * and of each whole disk, and have the partition table read again.
 * Refusals that only mean "not allowed" or "not here" are ignored.
 *
 * The write-back is this disk's alone, not a sync() of every filesystem
 * of the guest: fsync() of the devices built on each whole disk (its
 * partitions, and device-mapper or md devices on them), then of the
 * device named and each whole disk, which BLKFLSBUF then invalidates
 * (it writes back too, but only for a caller allowed to invalidate).
 */
void
diskuse_flush(const char *arg, const struct disk *disks, size_t ndisks)
{
	const char	*path;
	char		**above;
	size_t		 i, j, n;
	int		 fd;

	for (i = 0; i < ndisks; i++) {
		n = disk_above(&disks[i], &above);
		for (j = 0; j < n; j++) {
			if (strcmp(above[j], arg) != 0)
				diskuse_fsync(above[j]);
		}
		disk_paths_free(above, n);
	}
	for (i = 0; i <= ndisks; i++) {
		path = i == 0 ? arg : disks[i - 1].devpath;
		if (i != 0 && strcmp(path, arg) == 0)
			continue;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
			log_warn("cannot flush %s", path);
			continue;
		}
		if (fsync(fd) == -1)
			log_warn("fsync %s", path);
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
