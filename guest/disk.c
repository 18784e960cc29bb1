/*
 * Guest disks from sysfs.  A block device's sysfs node is
 * /sys/dev/block/MAJ:MIN, a symlink into /sys/devices; a partition's node
 * sits inside its disk's and holds a "partition" file; a stacked device
 * (device-mapper, LVM, md) lists what it sits on in slaves/.  The
 * identifiers are read from the whole disk's node and its device/ link.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "disk.h"
#include "log.h"
#include "readfile.h"
#include "xmalloc.h"

/* Largest sysfs file read: an identifier longer than this is dropped. */
#define DISK_READ_MAX	512

static char	disk_root[PATH_MAX] = "";

/* Set the sysfs root; a trailing slash is dropped so paths join cleanly. */
void
disk_set_root(const char *root)
{
	size_t	len;

	if (root == NULL)
		root = "";
	len = strlen(root);
	while (len > 0 && root[len - 1] == '/')
		len--;
	if (len >= sizeof disk_root)
		fatalx("%s: root too long", __func__);
	memcpy(disk_root, root, len);
	disk_root[len] = '\0';
}

/*
 * Read dir/file into buf (NUL-terminated).  Returns the number of bytes,
 * or -1 if the file cannot be read or does not fit in size - 1 bytes.
 */
static ssize_t
disk_read(const char *dir, const char *file, char *buf, size_t size)
{
	char	*path;
	ssize_t	 n;

	xasprintf(&path, "%s/%s", dir, file);
	n = readfile_buf(path, buf, size);
	free(path);
	return (n);
}

/* Read a text attribute into buf, trimmed; see readfile_text(). */
static char *
disk_read_text(const char *dir, const char *file, char *buf, size_t size)
{
	char	*path, *s;

	xasprintf(&path, "%s/%s", dir, file);
	s = readfile_text(path, buf, size);
	free(path);
	return (s);
}

/* The serial of a VPD page 0x80; see disk.h. */
char *
disk_parse_vpd80(const unsigned char *page, size_t r, char *buf,
    size_t size)
{
	size_t	len, i;

	if (r < 4 || page[1] != 0x80)
		return (NULL);
	len = ((size_t)page[2] << 8) | page[3];
	if (4 + len > r || len >= size)
		return (NULL);
	for (i = 0; i < len && page[4 + i] != '\0'; i++)
		buf[i] = (char)page[4 + i];
	buf[i] = '\0';
	return (readfile_trim(buf));
}

/*
 * The serial from a SCSI unit serial number VPD page (0x80) as the kernel
 * caches it in vpd_pg80.  Returns buf, or NULL if the page is missing,
 * malformed or blank.
 */
static char *
disk_vpd_serial(const char *dir, char *buf, size_t size)
{
	unsigned char	page[4 + 256];
	ssize_t		r;

	if ((r = disk_read(dir, "device/vpd_pg80", (char *)page,
	    sizeof page)) == -1)
		return (NULL);
	return (disk_parse_vpd80(page, (size_t)r, buf, size));
}

/* True if the len bytes at s are a PCI function address, DDDD:BB:SS.F. */
static int
disk_is_pci(const char *s, size_t len)
{
	size_t	dom = 0;

	while (dom < len && isxdigit((unsigned char)s[dom]))
		dom++;
	/* The domain is 4 hex digits, more behind a VMD controller. */
	if (dom < 4 || len != dom + 8)
		return (0);
	s += dom;
	return (s[0] == ':' && isxdigit((unsigned char)s[1]) &&
	    isxdigit((unsigned char)s[2]) && s[3] == ':' &&
	    isxdigit((unsigned char)s[4]) && isxdigit((unsigned char)s[5]) &&
	    s[6] == '.' && s[7] >= '0' && s[7] <= '7');
}

/* The last PCI function address in a sysfs path; see disk.h. */
char *
disk_parse_pci(const char *path, char *buf, size_t size)
{
	const char	*p, *end, *found = NULL;
	size_t		 foundlen = 0;

	for (p = path; *p != '\0'; p = end) {
		while (*p == '/')
			p++;
		if ((end = strchr(p, '/')) == NULL)
			end = p + strlen(p);
		if (disk_is_pci(p, (size_t)(end - p))) {
			found = p;
			foundlen = (size_t)(end - p);
		}
	}
	if (found == NULL || foundlen >= size)
		return (NULL);
	memcpy(buf, found, foundlen);
	buf[foundlen] = '\0';
	return (buf);
}

/* The PCI path of a sysfs path; see disk.h. */
char *
disk_parse_pcipath(const char *path, char *buf, size_t size)
{
	const char	*p, *end, *fn;
	char		*q;
	size_t		 len = 0, n = 0, dom;
	int		 w;

	for (p = path; *p != '\0'; p = end) {
		while (*p == '/')
			p++;
		if ((end = strchr(p, '/')) == NULL)
			end = p + strlen(p);
		if (!disk_is_pci(p, (size_t)(end - p)))
			continue;
		fn = end - 4;			/* "SS.F" */
		dom = (size_t)(end - p) - 8;	/* hex digits of the domain */
		if (n++ == 0 && (dom != 4 || strncmp(p, "0000", 4) != 0))
			w = snprintf(buf + len, size - len, "%.*s:%.4s",
			    (int)dom, p, fn);
		else
			w = snprintf(buf + len, size - len, "%s%.4s",
			    n == 1 ? "" : "/", fn);
		if (w < 0 || (size_t)w >= size - len)
			return (NULL);
		len += (size_t)w;
	}
	if (n == 0)
		return (NULL);
	for (q = buf; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	return (buf);
}

/* Add an identifier to d unless it is unfit; see disk.h. */
void
disk_add_id(struct disk *d, const char *kind, const char *value)
{
	struct disk_id	*id;
	const char	*p;

	for (p = value; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			log_debug("%s: %s: %s with control characters ignored",
			    __func__, d->name, kind);
			return;
		}
	}
	if (d->nids == DISK_MAX_IDS ||
	    strlen(value) >= sizeof d->ids[0].value)
		return;
	id = &d->ids[d->nids++];
	snprintf(id->kind, sizeof id->kind, "%s", kind);
	snprintf(id->value, sizeof id->value, "%s", value);
}

/* Collect every identifier the kernel exposes for the disk at dir. */
static void
disk_identify(struct disk *d, const char *dir)
{
	char	buf[DISK_READ_MAX], *link, *path;

	/* virtio-blk has block/X/serial, NVMe the controller's serial. */
	if (disk_read_text(dir, "serial", buf, sizeof buf) != NULL ||
	    disk_read_text(dir, "device/serial", buf, sizeof buf) != NULL ||
	    disk_vpd_serial(dir, buf, sizeof buf) != NULL)
		disk_add_id(d, DISK_ID_SERIAL, buf);
	/* SCSI has the wwid on the device, NVMe on the namespace. */
	if (disk_read_text(dir, "device/wwid", buf, sizeof buf) != NULL ||
	    disk_read_text(dir, "wwid", buf, sizeof buf) != NULL)
		disk_add_id(d, DISK_ID_WWN, buf);
	/*
	 * Where it sits on PCI, from its resolved device path: the disk's own
	 * function (even behind a PCIe root port or bridge, which come
	 * earlier in the path; the HBA's for a SCSI disk), and the path of
	 * slots to it.  A disk not on PCI (loop, dm) has neither.
	 */
	xasprintf(&link, "%s/device", dir);
	if ((path = realpath(link, NULL)) != NULL) {
		if (disk_parse_pci(path, buf, sizeof buf) != NULL)
			disk_add_id(d, DISK_ID_PCI, buf);
		if (disk_parse_pcipath(path, buf, sizeof buf) != NULL)
			disk_add_id(d, DISK_ID_PCIPATH, buf);
		free(path);
	}
	free(link);
	/* Only an attached loop device has loop/. */
	if (disk_read_text(dir, "loop/backing_file", buf, sizeof buf) != NULL &&
	    buf[0] == '/')
		disk_add_id(d, DISK_ID_BACKING, buf);
}

/*
 * Fill d from the whole disk's sysfs node dir: name, device path, number
 * and, if identify, identifiers.  Returns 0, or -1 with *cause set.
 */
static int
disk_fill(struct disk *d, const char *dir, int identify, char **cause)
{
	const char	*name;
	char		 buf[64], *p;

	memset(d, 0, sizeof *d);
	name = strrchr(dir, '/');
	name = (name == NULL) ? dir : name + 1;
	if (snprintf(d->name, sizeof d->name, "%s", name) >=
	    (int)sizeof d->name) {
		xasprintf(cause, "%s: disk name too long", dir);
		return (-1);
	}
	/* sysfs spells a '/' in a device name (cciss/c0d0) as '!'. */
	snprintf(d->devpath, sizeof d->devpath, "/dev/%s", d->name);
	for (p = d->devpath; *p != '\0'; p++) {
		if (*p == '!')
			*p = '/';
	}
	if (disk_read(dir, "dev", buf, sizeof buf) == -1 ||
	    disk_parse_dev(buf, &d->maj, &d->min) == -1) {
		xasprintf(cause, "%s: no device number in sysfs", d->name);
		return (-1);
	}
	if (identify)
		disk_identify(d, dir);
	return (0);
}

/* A dev attribute, "MAJ:MIN"; see disk.h. */
int
disk_parse_dev(const char *buf, unsigned *maj, unsigned *min)
{
	return (sscanf(buf, "%u:%u", maj, min) == 2 ? 0 : -1);
}

/* Add the whole disk at dir to the set unless it is already there. */
static int
disk_add(const char *dir, int identify, struct disk **disks, size_t *n,
    char **cause)
{
	struct disk	d;
	size_t		i;

	if (disk_fill(&d, dir, identify, cause) == -1)
		return (-1);
	for (i = 0; i < *n; i++) {
		if ((*disks)[i].maj == d.maj && (*disks)[i].min == d.min)
			return (0);
	}
	*disks = xreallocarray(*disks, *n + 1, sizeof **disks);
	(*disks)[(*n)++] = d;
	return (0);
}

/* scandir filter: every entry but . and .. */
static int
disk_not_dot(const struct dirent *de)
{
	return (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0);
}

/*
 * Add the whole disks under the sysfs node dir (resolved) to the set:
 * a partition's parent, a stacked device's slaves, or dir itself.
 * Returns 0, or -1 with *cause set.
 */
static int
disk_walk(const char *dir, unsigned depth, int identify, struct disk **disks,
    size_t *n, char **cause)
{
	struct dirent	**names = NULL;
	struct stat	  sb;
	char		 *path, *link, *node, *slash;
	int		  count, i, rc = -1;

	if (depth > DISK_MAX_DEPTH) {
		xasprintf(cause, "device stack deeper than %d levels",
		    DISK_MAX_DEPTH);
		return (-1);
	}

	xasprintf(&path, "%s/partition", dir);
	if (stat(path, &sb) == 0) {
		free(path);
		/* The parent may itself be stacked (an md array's p1). */
		node = xstrdup(dir);
		if ((slash = strrchr(node, '/')) != NULL)
			*slash = '\0';
		rc = disk_walk(node, depth + 1, identify, disks, n, cause);
		free(node);
		return (rc);
	}
	free(path);

	xasprintf(&path, "%s/slaves", dir);
	count = scandir(path, &names, disk_not_dot, alphasort);
	if (count == -1 && errno != ENOENT && errno != ENOTDIR) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		free(path);
		return (-1);
	}
	if (count <= 0) {
		free(names);
		free(path);
		return (disk_add(dir, identify, disks, n, cause));
	}
	for (i = 0; i < count; i++) {
		xasprintf(&link, "%s/%s", path, names[i]->d_name);
		if ((node = realpath(link, NULL)) == NULL) {
			xasprintf(cause, "%s: %s", link, strerror(errno));
			free(link);
			goto out;
		}
		free(link);
		rc = disk_walk(node, depth + 1, identify, disks, n, cause);
		free(node);
		if (rc == -1)
			goto out;
	}
	rc = 0;
out:
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	free(path);
	return (rc);
}

/* The resolved sysfs node of block device maj:min, or NULL; caller frees. */
static char *
disk_node(unsigned maj, unsigned min)
{
	char	*link, *node;

	xasprintf(&link, "%s/sys/dev/block/%u:%u", disk_root, maj, min);
	node = realpath(link, NULL);
	free(link);
	return (node);
}

/*
 * Add "/dev/NAME" of the sysfs node dir to paths unless it is there or is
 * skip (the disk itself: a broken stack may hold it).
 */
static void
disk_above_add(const char *dir, const char *skip, char ***paths, size_t *n)
{
	const char	*name;
	char		*path, *p;
	size_t		 i;

	name = strrchr(dir, '/');
	name = name == NULL ? dir : name + 1;
	xasprintf(&path, "/dev/%s", name);
	for (p = path; *p != '\0'; p++) {
		if (*p == '!')
			*p = '/';
	}
	for (i = 0; i < *n; i++) {
		if (strcmp((*paths)[i], path) == 0)
			break;
	}
	if (i != *n || strcmp(path, skip) == 0) {
		free(path);
		return;
	}
	*paths = xreallocarray(*paths, *n + 1, sizeof **paths);
	(*paths)[(*n)++] = path;
}

/*
 * Add what sits on the sysfs node dir (resolved): its partitions, and
 * the holders of it and of them, to any depth up to DISK_MAX_DEPTH.
 */
static void
disk_above_walk(const char *dir, const char *skip, unsigned depth,
    char ***paths, size_t *n)
{
	struct dirent	**names = NULL;
	struct stat	  sb;
	char		 *path, *link, *node;
	int		  count, i;

	if (depth > DISK_MAX_DEPTH)
		return;
	/* Partitions: subdirectories holding a "partition" file. */
	if ((count = scandir(dir, &names, disk_not_dot, alphasort)) > 0) {
		for (i = 0; i < count; i++) {
			xasprintf(&path, "%s/%s/partition", dir,
			    names[i]->d_name);
			if (stat(path, &sb) == 0) {
				*strrchr(path, '/') = '\0';
				disk_above_add(path, skip, paths, n);
				disk_above_walk(path, skip, depth + 1, paths,
				    n);
			}
			free(path);
			free(names[i]);
		}
	}
	free(names);
	names = NULL;
	/* Holders: links to the devices built on this one. */
	xasprintf(&path, "%s/holders", dir);
	if ((count = scandir(path, &names, disk_not_dot, alphasort)) > 0) {
		for (i = 0; i < count; i++) {
			xasprintf(&link, "%s/%s", path, names[i]->d_name);
			free(names[i]);
			node = realpath(link, NULL);
			free(link);
			if (node == NULL)
				continue;
			disk_above_add(node, skip, paths, n);
			disk_above_walk(node, skip, depth + 1, paths, n);
			free(node);
		}
	}
	free(names);
	free(path);
}

/* What sits on a whole disk; see disk.h. */
size_t
disk_above(const struct disk *d, char ***paths)
{
	char	*node;
	size_t	 n = 0;

	*paths = NULL;
	if ((node = disk_node(d->maj, d->min)) == NULL)
		return (0);
	disk_above_walk(node, d->devpath, 0, paths, &n);
	free(node);
	return (n);
}

/* Free what disk_above() made. */
void
disk_paths_free(char **paths, size_t n)
{
	size_t	i;

	for (i = 0; paths != NULL && i < n; i++)
		free(paths[i]);
	free(paths);
}

/* Why a file of this mode is not a block device, for a cause. */
static const char *
disk_mode_name(mode_t mode)
{
	if (S_ISCHR(mode))
		return (" (character device)");
	if (S_ISDIR(mode))
		return (" (directory)");
	if (S_ISFIFO(mode))
		return (" (fifo)");
	if (S_ISSOCK(mode))
		return (" (socket)");
	return ("");
}

/* Resolve a device path to its whole disks; see disk.h. */
int
disk_resolve(const char *path, struct disk **disksp, size_t *np,
    char **cause)
{
	struct stat	 sb;
	struct disk	*disks = NULL;
	size_t		 n = 0;
	char		*node = NULL, *why = NULL;

	*disksp = NULL;
	*np = 0;
	if (stat(path, &sb) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (!S_ISBLK(sb.st_mode)) {
		xasprintf(cause, "%s: not a block device%s", path,
		    disk_mode_name(sb.st_mode));
		return (-1);
	}
	if ((node = disk_node(major(sb.st_rdev), minor(sb.st_rdev))) == NULL) {
		xasprintf(cause, "%s: block device %u:%u not found in sysfs",
		    path, major(sb.st_rdev), minor(sb.st_rdev));
		return (-1);
	}
	if (disk_walk(node, 0, 1, &disks, &n, &why) == -1) {
		xasprintf(cause, "%s: %s", path, why);
		goto fail;
	}
	free(node);
	*disksp = disks;
	*np = n;
	return (0);
fail:
	free(why);
	free(node);
	free(disks);
	return (-1);
}

/* Free a disk_resolve array: the disks own nothing beyond it. */
void
disk_free(struct disk *disks, size_t n)
{
	(void)n;
	free(disks);
}

/* Score d against the wanted identifiers; see disk.h. */
int
disk_match(const struct disk *d, const struct disk_id *ids, size_t n)
{
	const struct disk_id	*have;
	size_t			 i, j;
	int			 score = 0, same;

	for (i = 0; i < n; i++) {
		for (j = 0; j < d->nids; j++) {
			have = &d->ids[j];
			if (strcmp(have->kind, ids[i].kind) != 0)
				continue;
			/* The kernel prints a wwn in whatever case it has. */
			if (strcmp(have->kind, DISK_ID_WWN) == 0)
				same = strcasecmp(have->value,
				    ids[i].value) == 0;
			else
				same = strcmp(have->value, ids[i].value) == 0;
			if (!same)
				return (0);
			score += strcmp(have->kind, DISK_ID_PCI) == 0 ? 1 : 4;
		}
	}
	return (score);
}

/* Find the guest disk with these identifiers; see disk.h. */
int
disk_find_by_ids(const struct disk_id *ids, size_t n, char *devpath,
    size_t len)
{
	struct dirent	**names;
	struct disk	  d;
	char		 *dir, *link, *node, *cause = NULL, best[128] = "";
	int		  count, i, score, top = 0;

	xasprintf(&dir, "%s/sys/block", disk_root);
	count = scandir(dir, &names, disk_not_dot, alphasort);
	if (count == -1) {
		log_debug("%s: %s: %s", __func__, dir, strerror(errno));
		free(dir);
		return (-1);
	}
	for (i = 0; i < count; i++) {
		xasprintf(&link, "%s/%s", dir, names[i]->d_name);
		node = realpath(link, NULL);
		free(link);
		if (node != NULL && disk_fill(&d, node, 1, &cause) == 0) {
			score = disk_match(&d, ids, n);
			if (score > top) {
				top = score;
				snprintf(best, sizeof best, "%s", d.devpath);
			}
		}
		free(cause);
		cause = NULL;
		free(node);
		free(names[i]);
	}
	free(names);
	free(dir);
	if (top == 0 || strlen(best) >= len)
		return (-1);
	memcpy(devpath, best, strlen(best) + 1);
	return (0);
}

/* Whether maj:min sits on one of disks; see disk.h. */
int
disk_holds_dev(const struct disk *disks, size_t n, unsigned maj,
    unsigned min)
{
	struct disk	*under = NULL;
	size_t		 nunder = 0, i, j;
	char		*node, *cause = NULL;
	int		 found = 0;

	for (i = 0; i < n; i++) {
		if (disks[i].maj == maj && disks[i].min == min)
			return (1);
	}
	/*
	 * Major 0 is the kernel's anonymous devices (proc, tmpfs, overlay,
	 * btrfs subvolumes): never a block device in sysfs.
	 */
	if (maj == 0 || (node = disk_node(maj, min)) == NULL)
		return (0);
	if (disk_walk(node, 0, 0, &under, &nunder, &cause) == -1) {
		log_debug("%s: %u:%u: %s", __func__, maj, min, cause);
		free(cause);
		goto out;
	}
	for (i = 0; i < nunder && !found; i++) {
		for (j = 0; j < n && !found; j++) {
			if (under[i].maj == disks[j].maj &&
			    under[i].min == disks[j].min)
				found = 1;
		}
	}
out:
	free(under);
	free(node);
	return (found);
}
