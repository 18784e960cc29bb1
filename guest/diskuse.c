/*
 * Who uses a disk here; see diskuse.h.  Devices built on the disk come
 * from sysfs (disk_above()), processes from /proc/PID/fd (each open block
 * device on the disk, one of its partitions or a device built on them),
 * and anything else the kernel holds exclusively from an O_EXCL open of
 * the whole disk, which fails with EBUSY while it is claimed.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "diskuse.h"
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

/* Who uses the disks; see diskuse.h. */
int
diskuse_check(const struct disk *disks, size_t n, const char *arg, char **why)
{
	char		**above, a[256], dev[160];
	const char	 *base;
	size_t		  i, j, nabove;
	int		  fd, rc = 0;

	output_safe(a, sizeof a, arg);
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
