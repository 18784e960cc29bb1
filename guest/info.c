/*
 * Guest facts: os-release, uname, proc/uptime, mountinfo with statvfs,
 * sys/block with disk.c's identifiers, and their JSON and text forms.
 * Everything here only reads; a source that cannot be read is noted in
 * the result's errors, never fatal.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "disk.h"
#include "info.h"
#include "jsonout.h"
#include "log.h"
#include "mountinfo.h"
#include "readfile.h"
#include "xmalloc.h"

/* Largest mountinfo read (the kernel's, but thousands of mounts happen). */
#define INFO_MOUNTINFO_MAX	(8 * 1024 * 1024)
/* Largest sysfs attribute read. */
#define INFO_ATTR_MAX		256

static char	info_root[PATH_MAX] = "";

/*
 * Filesystems with no storage behind them: kernel interfaces and memory.
 * None is listed.
 */
static const char *info_pseudo[] = {
	"proc", "sysfs", "devtmpfs", "devpts", "securityfs", "debugfs",
	"tracefs", "bpf", "mqueue", "hugetlbfs", "pstore", "configfs",
	"fusectl", "autofs", "binfmt_misc", "efivarfs", "nsfs", "rpc_pipefs",
	"tmpfs", "ramfs", "selinuxfs",
};

/*
 * Filesystems whose statvfs() may wait on a server or a userspace daemon
 * for as long as that takes.  Listed without usage.
 */
static const char *info_remote[] = {
	"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs",
	"afs", "lustre", "virtiofs", "fuse", "fuseblk", "sshfs",
};

/* A mount being considered, with what the filtering needs. */
struct info_mount {
	struct info_fs	 fs;
	unsigned int	 maj;
	unsigned int	 min;
	char		*root;		/* of the mount in its filesystem */
};

/* Set the root; a trailing slash is dropped so paths join cleanly. */
void
info_set_root(const char *root)
{
	size_t	len;

	if (root == NULL)
		root = "";
	len = strlen(root);
	while (len > 0 && root[len - 1] == '/')
		len--;
	if (len >= sizeof info_root)
		fatalx("%s: root too long", __func__);
	memcpy(info_root, root, len);
	info_root[len] = '\0';
}

/* root + "/" + rel as a new string (rel has no leading slash). */
static char *
info_path(const char *rel)
{
	char	*path;

	xasprintf(&path, "%s/%s", info_root, rel);
	return (path);
}

/* Note a problem in gi->errors (and the debug log). */
static void __attribute__((format(printf, 2, 3)))
info_error(struct guest_info *gi, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg, buf[512];

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	log_debug("info: %s", log_escape(buf, sizeof buf, msg, strlen(msg)));
	gi->errors = xreallocarray(gi->errors, gi->nerrors + 1,
	    sizeof *gi->errors);
	gi->errors[gi->nerrors++] = msg;
}

/* A copy of s with control characters as '?': safe on a terminal line. */
static char *
info_safe(const char *s)
{
	char	*out, *p;

	out = xstrdup(s);
	for (p = out; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	return (out);
}

/* Read a sysfs attribute at rel under the root, trimmed; see readfile.h. */
static char *
info_read_attr(const char *rel, char *buf, size_t size)
{
	char	*path, *s;

	path = info_path(rel);
	s = readfile_text(path, buf, size);
	free(path);
	return (s);
}

/*
 * An os-release value as the shell would read it: double-quoted with
 * backslash escapes, single-quoted, or bare (trailing blanks dropped).
 * Control characters become '?'.  Returns a new string.
 */
static char *
info_os_value(const char *v)
{
	char		*out, *o, quote = '\0';
	const char	*end;

	out = o = xmalloc(strlen(v) + 1);
	if (*v == '"' || *v == '\'')
		quote = *v++;
	end = v + strlen(v);
	if (quote == '\0') {
		while (end > v && strchr(" \t\r", end[-1]) != NULL)
			end--;
	}
	for (; v < end; v++) {
		if (quote != '\0' && *v == quote)
			break;
		if (*v == '\\' && quote != '\'' && v + 1 < end &&
		    (quote == '\0' || strchr("\"\\$`", v[1]) != NULL))
			v++;
		*o++ = ((unsigned char)*v < 0x20 || *v == 0x7f) ? '?' : *v;
	}
	*o = '\0';
	return (out);
}

/* The OS from os-release text; see info.h. */
char *
info_os_parse(char *text)
{
	char	*line, *eq, *pretty = NULL, *name = NULL, *version = NULL;
	char	*os, **slot;

	while ((line = strsep(&text, "\n")) != NULL) {
		line += strspn(line, " \t");
		if (*line == '#' || (eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		if (strcmp(line, "PRETTY_NAME") == 0)
			slot = &pretty;
		else if (strcmp(line, "NAME") == 0)
			slot = &name;
		else if (strcmp(line, "VERSION") == 0)
			slot = &version;
		else
			continue;
		free(*slot);
		*slot = info_os_value(eq + 1);
	}
	if (pretty != NULL && *pretty != '\0')
		os = xstrdup(pretty);
	else if (version != NULL && *version != '\0')
		xasprintf(&os, "%s %s", name != NULL && *name != '\0' ? name :
		    "Linux", version);
	else
		os = xstrdup(name != NULL && *name != '\0' ? name : "Linux");
	free(pretty);
	free(name);
	free(version);
	return (os);
}

/* The OS release: etc/os-release, else usr/lib/os-release. */
static void
info_os_release(struct guest_info *gi)
{
	static const char	*files[] = { "etc/os-release",
				    "usr/lib/os-release" };
	char			*path, *text, *why, *first = NULL;
	size_t			 i;

	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		path = info_path(files[i]);
		text = readfile_alloc(path, INFO_READ_MAX, NULL, &why);
		if (text != NULL) {
			free(path);
			gi->os = info_os_parse(text);
			free(text);
			free(first);
			return;
		}
		free(path);
		if (first == NULL)
			first = why;
		else
			free(why);
	}
	info_error(gi, "OS release unknown: %s", first);
	free(first);
}

/* Seconds since boot from proc/uptime ("4082.23 7634.03"). */
static void
info_uptime(struct guest_info *gi)
{
	char			*path, *text, *why, *end;
	unsigned long long	 secs;

	path = info_path("proc/uptime");
	if ((text = readfile_alloc(path, INFO_READ_MAX, NULL,
	    &why)) == NULL) {
		info_error(gi, "uptime unknown: %s", why);
		free(why);
		free(path);
		return;
	}
	errno = 0;
	secs = strtoull(text, &end, 10);
	if (errno != 0 || end == text || (*end != '.' && *end != ' ' &&
	    *end != '\n' && *end != '\0'))
		info_error(gi, "uptime unknown: %s: malformed", path);
	else {
		gi->has_uptime = 1;
		gi->uptime_seconds = secs;
	}
	free(text);
	free(path);
}

/* True if type is one of list (n entries). */
static int
info_type_in(const char *type, const char **list, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (strcmp(type, list[i]) == 0)
			return (1);
	}
	return (0);
}

/* True for a pseudo filesystem ("cgroup" and "cgroup2" included). */
static int
info_fs_pseudo(const char *type)
{
	if (strncmp(type, "cgroup", 6) == 0)
		return (1);
	return (info_type_in(type, info_pseudo, sizeof info_pseudo /
	    sizeof info_pseudo[0]));
}

/* True for a filesystem whose statvfs() could hang. */
static int
info_fs_remote(const char *type)
{
	if (strncmp(type, "fuse.", 5) == 0)
		return (1);
	return (info_type_in(type, info_remote, sizeof info_remote /
	    sizeof info_remote[0]));
}

/*
 * Parse one mountinfo line (modified in place) into m.  Returns 0, or -1
 * if the line is malformed.
 */
static int
info_parse_mount(char *line, struct info_mount *m)
{
	struct mountinfo_line	l;

	if (mountinfo_parse_line(line, &l) == -1)
		return (-1);
	m->maj = l.maj;
	m->min = l.min;
	m->root = xstrdup(l.root);
	m->fs.mountpoint = xstrdup(l.mountpoint);
	m->fs.fstype = xstrdup(l.fstype);
	m->fs.source = xstrdup(l.source);
	return (0);
}

/* True if path is below (or is) mount point top. */
static int
info_below(const char *path, const char *top)
{
	size_t	len = strlen(top);

	if (strcmp(top, "/") == 0)
		return (1);
	return (strncmp(path, top, len) == 0 &&
	    (path[len] == '\0' || path[len] == '/'));
}

/*
 * Fill in the usage of filesystem i, unless it or a mount above it is
 * remote: reaching a path below an NFS mount may itself wait on the server.
 */
static void
info_usage(struct guest_info *gi, size_t i)
{
	struct info_fs	*fs = &gi->fs[i];
	struct statvfs	 sv;
	char		*path;
	size_t		 j;

	for (j = 0; j < gi->nfs; j++) {
		if (info_fs_remote(gi->fs[j].fstype) &&
		    info_below(fs->mountpoint, gi->fs[j].mountpoint))
			return;
	}
	xasprintf(&path, "%s%s", info_root, fs->mountpoint);
	if (statvfs(path, &sv) == -1) {
		info_error(gi, "no usage for %s: %s", fs->mountpoint,
		    strerror(errno));
		free(path);
		return;
	}
	free(path);
	fs->has_usage = 1;
	fs->size_bytes = (uint64_t)sv.f_blocks * sv.f_frsize;
	fs->used_bytes = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	fs->available_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
}

/* Free a mount's own strings (not those moved into gi). */
static void
info_mount_clear(struct info_mount *m, int with_fs)
{
	free(m->root);
	if (with_fs) {
		free(m->fs.mountpoint);
		free(m->fs.fstype);
		free(m->fs.source);
	}
}

/* The filesystems from proc/self/mountinfo, with usage; see info.h. */
static void
info_mounts(struct guest_info *gi)
{
	char	*path, *text, *why;
	size_t	 i;

	path = info_path("proc/self/mountinfo");
	if ((text = readfile_alloc(path, INFO_MOUNTINFO_MAX, NULL,
	    &why)) == NULL) {
		info_error(gi, "filesystems unknown: %s", why);
		free(why);
		free(path);
		return;
	}
	info_parse_mountinfo(gi, text, path);
	free(text);
	free(path);
	for (i = 0; i < gi->nfs; i++)
		info_usage(gi, i);
}

/* The filesystems in mountinfo text, without usage; see info.h. */
void
info_parse_mountinfo(struct guest_info *gi, const char *text,
    const char *name)
{
	struct info_mount	*ms = NULL, m;
	const char		*p = text, *end = text + strlen(text);
	char			*line;
	size_t			 n = 0, i, j, lineno = 0;
	int			 dup, rc;

	while ((line = mountinfo_next(&p, end, &lineno)) != NULL) {
		memset(&m, 0, sizeof m);
		rc = info_parse_mount(line, &m);
		free(line);
		if (rc == -1) {
			info_error(gi, "%s: line %zu: malformed mount entry",
			    name, lineno);
			continue;
		}
		dup = 0;
		for (j = 0; j < n && !dup; j++) {
			dup = (ms[j].maj == m.maj && ms[j].min == m.min &&
			    strcmp(ms[j].root, m.root) == 0);
		}
		if (dup || info_fs_pseudo(m.fs.fstype)) {
			info_mount_clear(&m, 1);
			continue;
		}
		if (n == INFO_MAX_FS) {
			info_error(gi, "more than %d filesystems; the rest "
			    "are not listed", INFO_MAX_FS);
			info_mount_clear(&m, 1);
			break;
		}
		ms = xreallocarray(ms, n + 1, sizeof *ms);
		ms[n++] = m;
	}

	gi->fs = xcalloc(n == 0 ? 1 : n, sizeof *gi->fs);
	for (i = 0; i < n; i++) {
		gi->fs[i] = ms[i].fs;
		info_mount_clear(&ms[i], 0);
	}
	gi->nfs = n;
	free(ms);
}

/* True for a sys/block entry that is not a disk worth listing. */
static int
info_disk_ignored(const char *name)
{
	char	*rel, buf[INFO_ATTR_MAX];
	int	 attached;

	if (strncmp(name, "ram", 3) == 0 || strncmp(name, "zram", 4) == 0)
		return (1);
	if (strncmp(name, "loop", 4) != 0)
		return (0);
	xasprintf(&rel, "sys/block/%s/loop/backing_file", name);
	attached = (info_read_attr(rel, buf, sizeof buf) != NULL);
	free(rel);
	return (!attached);
}

/* Fill d's identifiers, or the whole disks under it, from disk.c. */
static void
info_disk_resolve(struct info_disk *d, const char *name)
{
	struct disk	*disks;
	char		*path, *cause;
	size_t		 n, i;

	xasprintf(&path, "%s%s", info_root, d->device);
	if (disk_resolve(path, &disks, &n, &cause) == -1) {
		free(path);
		d->error = info_safe(cause);
		free(cause);
		return;
	}
	free(path);
	if (n == 1 && strcmp(disks[0].name, name) == 0) {
		d->ids = xcalloc(disks[0].nids == 0 ? 1 : disks[0].nids,
		    sizeof *d->ids);
		memcpy(d->ids, disks[0].ids, disks[0].nids * sizeof *d->ids);
		d->nids = disks[0].nids;
	} else {
		d->under = xcalloc(n, sizeof *d->under);
		for (i = 0; i < n; i++)
			d->under[i] = xstrdup(disks[i].devpath);
		d->nunder = n;
	}
	disk_free(disks, n);
}

/* scandir filter: every entry but . and .. */
static int
info_not_dot(const struct dirent *de)
{
	return (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0);
}

/* The disks in sys/block; see info.h. */
static void
info_disks(struct guest_info *gi)
{
	struct dirent		**names = NULL;
	struct info_disk	 *d;
	char			 *dir, *rel, *p, buf[INFO_ATTR_MAX];
	const char		 *name;
	unsigned long long	  sectors;
	int			  count, i;

	dir = info_path("sys/block");
	count = scandir(dir, &names, info_not_dot, alphasort);
	if (count == -1) {
		info_error(gi, "disks unknown: cannot read %s: %s", dir,
		    strerror(errno));
		free(dir);
		return;
	}
	free(dir);
	gi->disks = xcalloc(count == 0 ? 1 : (size_t)count, sizeof *gi->disks);
	for (i = 0; i < count; i++) {
		name = names[i]->d_name;
		if (info_disk_ignored(name))
			continue;
		if (gi->ndisks == INFO_MAX_DISKS) {
			info_error(gi, "more than %d disks; the rest are not "
			    "listed", INFO_MAX_DISKS);
			break;
		}
		d = &gi->disks[gi->ndisks++];
		xasprintf(&d->device, "/dev/%s", name);
		/* sysfs spells a '/' in a device name (cciss/c0d0) as '!'. */
		for (p = d->device; *p != '\0'; p++) {
			if (*p == '!')
				*p = '/';
		}
		if (strncmp(name, "dm-", 3) == 0)
			d->type = "device-mapper";
		else if (strncmp(name, "md", 2) == 0)
			d->type = "md";
		else if (strncmp(name, "loop", 4) == 0)
			d->type = "loop";
		else
			d->type = "disk";
		xasprintf(&rel, "sys/block/%s/size", name);
		if (info_read_attr(rel, buf, sizeof buf) != NULL &&
		    sscanf(buf, "%llu", &sectors) == 1)
			d->size_bytes = (uint64_t)sectors * 512;
		free(rel);
		xasprintf(&rel, "sys/block/%s/dm/name", name);
		if (info_read_attr(rel, buf, sizeof buf) != NULL)
			d->dm_name = info_safe(buf);
		free(rel);
		info_disk_resolve(d, name);
	}
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/* Collect everything; see info.h. */
int
info_collect(struct guest_info **out, char **cause)
{
	struct guest_info	*gi;
	struct utsname		 u;

	*out = NULL;
	if (uname(&u) == -1) {
		xasprintf(cause, "uname: %s", strerror(errno));
		return (-1);
	}
	gi = xcalloc(1, sizeof *gi);
	gi->agent_version = xstrdup(EVG_VERSION);
	gi->kernel = info_safe(u.release);
	gi->kernel_version = info_safe(u.version);
	gi->hostname = info_safe(u.nodename);
	info_os_release(gi);
	info_uptime(gi);
	info_mounts(gi);
	info_disks(gi);
	*out = gi;
	return (0);
}

/* Free a guest_info. */
void
info_free(struct guest_info *gi)
{
	size_t	i, j;

	if (gi == NULL)
		return;
	for (i = 0; i < gi->nfs; i++) {
		free(gi->fs[i].mountpoint);
		free(gi->fs[i].fstype);
		free(gi->fs[i].source);
	}
	free(gi->fs);
	for (i = 0; i < gi->ndisks; i++) {
		free(gi->disks[i].device);
		free(gi->disks[i].dm_name);
		free(gi->disks[i].ids);
		for (j = 0; j < gi->disks[i].nunder; j++)
			free(gi->disks[i].under[j]);
		free(gi->disks[i].under);
		free(gi->disks[i].error);
	}
	free(gi->disks);
	for (i = 0; i < gi->nerrors; i++)
		free(gi->errors[i]);
	free(gi->errors);
	free(gi->agent_version);
	free(gi->os);
	free(gi->kernel);
	free(gi->kernel_version);
	free(gi->hostname);
	free(gi);
}

/* A string member, or null. */
static void
info_json_str(struct json_object *o, const char *key, const char *value)
{
	json_object_object_add(o, key, value == NULL ? NULL :
	    json_object_new_string(value));
}

/* A byte count member, or null when unknown. */
static void
info_json_u64(struct json_object *o, const char *key, int known, uint64_t v)
{
	json_object_object_add(o, key, known ?
	    json_object_new_int64((int64_t)v) : NULL);
}

/* One disk. */
static struct json_object *
info_json_disk(const struct info_disk *d)
{
	struct json_object	*o, *ids, *id, *on;
	size_t			 i;

	o = json_object_new_object();
	info_json_str(o, "device", d->device);
	info_json_str(o, "type", d->type);
	info_json_u64(o, "size_bytes", 1, d->size_bytes);
	ids = json_object_new_array();
	for (i = 0; i < d->nids; i++) {
		id = json_object_new_object();
		info_json_str(id, "kind", d->ids[i].kind);
		info_json_str(id, "value", d->ids[i].value);
		json_object_array_add(ids, id);
	}
	json_object_object_add(o, "ids", ids);
	if (d->dm_name != NULL)
		info_json_str(o, "dm_name", d->dm_name);
	if (d->nunder != 0) {
		on = json_object_new_array();
		for (i = 0; i < d->nunder; i++)
			json_object_array_add(on,
			    json_object_new_string(d->under[i]));
		json_object_object_add(o, "on", on);
	}
	if (d->error != NULL)
		info_json_str(o, "error", d->error);
	return (o);
}

/* The JSON document; see info.h. */
struct json_object *
info_json(const struct guest_info *gi)
{
	struct json_object	*o, *arr, *f, *errs;
	const struct info_fs	*fs;
	size_t			 i;

	o = json_object_new_object();
	info_json_str(o, "agent_version", gi->agent_version);
	info_json_str(o, "os", gi->os);
	info_json_str(o, "kernel", gi->kernel);
	info_json_str(o, "kernel_version", gi->kernel_version);
	info_json_str(o, "hostname", gi->hostname);
	info_json_u64(o, "uptime_seconds", gi->has_uptime, gi->uptime_seconds);
	arr = json_object_new_array();
	for (i = 0; i < gi->nfs; i++) {
		fs = &gi->fs[i];
		f = json_object_new_object();
		info_json_str(f, "mountpoint", fs->mountpoint);
		info_json_str(f, "fstype", fs->fstype);
		info_json_str(f, "source", fs->source);
		info_json_u64(f, "size_bytes", fs->has_usage, fs->size_bytes);
		info_json_u64(f, "used_bytes", fs->has_usage, fs->used_bytes);
		info_json_u64(f, "available_bytes", fs->has_usage,
		    fs->available_bytes);
		json_object_array_add(arr, f);
	}
	json_object_object_add(o, "filesystems", arr);
	arr = json_object_new_array();
	for (i = 0; i < gi->ndisks; i++)
		json_object_array_add(arr, info_json_disk(&gi->disks[i]));
	json_object_object_add(o, "disks", arr);
	if (gi->nerrors != 0) {
		errs = json_object_new_array();
		for (i = 0; i < gi->nerrors; i++)
			json_object_array_add(errs,
			    json_object_new_string(gi->errors[i]));
		json_object_object_add(o, "errors", errs);
	}
	return (o);
}

/*
 * A table of text cells printed with aligned columns: two spaces between
 * columns, numbers right-aligned, the last column not padded.
 */
struct info_table {
	size_t		  ncols;
	const int	 *right;
	char		**cells;
	size_t		  nrows;
};

/* Add a row of ncols cells (copied, made terminal-safe). */
static void
info_table_row(struct info_table *t, const char *const *cells)
{
	size_t	i;

	t->cells = xreallocarray(t->cells, (t->nrows + 1) * t->ncols,
	    sizeof *t->cells);
	for (i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = info_safe(cells[i]);
	t->nrows++;
}

/* Print the table indented by two spaces, then free its cells. */
static void
info_table_print(FILE *f, struct info_table *t)
{
	size_t	width[8], r, c, len;
	char	*cell;

	if (t->ncols > sizeof width / sizeof width[0])
		fatalx("%s: %zu columns", __func__, t->ncols);
	memset(width, 0, sizeof width);
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			len = strlen(t->cells[r * t->ncols + c]);
			if (len > width[c])
				width[c] = len;
		}
	}
	for (r = 0; r < t->nrows; r++) {
		fputs("  ", f);
		for (c = 0; c < t->ncols; c++) {
			cell = t->cells[r * t->ncols + c];
			if (c != 0)
				fputs("  ", f);
			if (t->right[c])
				fprintf(f, "%*s", (int)width[c], cell);
			else if (c + 1 == t->ncols)
				fputs(cell, f);
			else
				fprintf(f, "%-*s", (int)width[c], cell);
			free(cell);
		}
		fputs("\n", f);
	}
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

/* "3 days, 04:05:06" or "04:05:06" into buf. */
static char *
info_uptime_text(char *buf, size_t size, uint64_t s)
{
	unsigned long long	days = s / 86400;

	if (days != 0)
		snprintf(buf, size, "%llu day%s, %02u:%02u:%02u", days,
		    days == 1 ? "" : "s", (unsigned int)(s % 86400 / 3600),
		    (unsigned int)(s % 3600 / 60), (unsigned int)(s % 60));
	else
		snprintf(buf, size, "%02u:%02u:%02u",
		    (unsigned int)(s / 3600), (unsigned int)(s % 3600 / 60),
		    (unsigned int)(s % 60));
	return (buf);
}

/* The filesystems table. */
static void
info_print_fs(FILE *f, const struct guest_info *gi)
{
	static const int	 right[] = { 0, 0, 0, 1, 1, 1, 1 };
	static const char *const head[] = { "MOUNT POINT", "TYPE", "SOURCE",
				    "SIZE", "USED", "AVAILABLE", "USE%" };
	struct info_table	 t = { 7, right, NULL, 0 };
	const struct info_fs	*fs;
	const char		*row[7];
	char			 size[32], used[32], avail[32], pct[16];
	size_t			 i;

	fprintf(f, "\nFilesystems:\n");
	if (gi->nfs == 0) {
		fprintf(f, "  none found\n");
		return;
	}
	info_table_row(&t, head);
	for (i = 0; i < gi->nfs; i++) {
		fs = &gi->fs[i];
		row[0] = fs->mountpoint;
		row[1] = fs->fstype;
		row[2] = fs->source;
		if (fs->has_usage) {
			row[3] = jsonout_size(size, sizeof size, fs->size_bytes);
			row[4] = jsonout_size(used, sizeof used, fs->used_bytes);
			row[5] = jsonout_size(avail, sizeof avail,
			    fs->available_bytes);
			/* As df: used of what non-root users could use. */
			if (fs->used_bytes + fs->available_bytes == 0)
				snprintf(pct, sizeof pct, "-");
			else
				snprintf(pct, sizeof pct, "%.0f%%",
				    100.0 * (double)fs->used_bytes /
				    (double)(fs->used_bytes +
				    fs->available_bytes));
			row[6] = pct;
		} else
			row[3] = row[4] = row[5] = row[6] = "-";
		info_table_row(&t, row);
	}
	info_table_print(f, &t);
}

/* The identifiers of a disk, or what stands in for them, as one line. */
static char *
info_disk_ids_text(const struct info_disk *d)
{
	char	*s = NULL, *old;
	size_t	 i;

	if (d->error != NULL) {
		xasprintf(&s, "unknown: %s", d->error);
		return (s);
	}
	if (d->nunder != 0) {
		s = xstrdup("on");
		for (i = 0; i < d->nunder; i++) {
			old = s;
			xasprintf(&s, "%s%s %s", old, i == 0 ? "" : ",",
			    d->under[i]);
			free(old);
		}
	} else {
		for (i = 0; i < d->nids; i++) {
			old = s;
			xasprintf(&s, "%s%s%s=%s", old == NULL ? "" : old,
			    old == NULL ? "" : " ", d->ids[i].kind,
			    d->ids[i].value);
			free(old);
		}
		if (s == NULL)
			s = xstrdup("none");
	}
	if (d->dm_name != NULL) {
		old = s;
		xasprintf(&s, "%s (%s)", old, d->dm_name);
		free(old);
	}
	return (s);
}

/* The disks table. */
static void
info_print_disks(FILE *f, const struct guest_info *gi)
{
	static const int	 right[] = { 0, 0, 1, 0 };
	static const char *const head[] = { "DEVICE", "TYPE", "SIZE",
				    "IDENTIFIERS" };
	struct info_table	 t = { 4, right, NULL, 0 };
	const struct info_disk	*d;
	const char		*row[4];
	char			 size[32], *ids;
	size_t			 i;

	fprintf(f, "\nDisks:\n");
	if (gi->ndisks == 0) {
		fprintf(f, "  none found\n");
		return;
	}
	info_table_row(&t, head);
	for (i = 0; i < gi->ndisks; i++) {
		d = &gi->disks[i];
		ids = info_disk_ids_text(d);
		row[0] = d->device;
		row[1] = d->type;
		row[2] = jsonout_size(size, sizeof size, d->size_bytes);
		row[3] = ids;
		info_table_row(&t, row);
		free(ids);
	}
	info_table_print(f, &t);
}

/* Print for people; see info.h. */
void
info_print(FILE *f, const struct guest_info *gi)
{
	char	up[64], *s;
	size_t	i;

	fprintf(f, "Agent version:  %s\n", gi->agent_version);
	fprintf(f, "OS:             %s\n", gi->os != NULL ? gi->os :
	    "unknown");
	fprintf(f, "Kernel:         %s (%s)\n", gi->kernel,
	    gi->kernel_version);
	fprintf(f, "Hostname:       %s\n", gi->hostname);
	fprintf(f, "Uptime:         %s\n", gi->has_uptime ?
	    info_uptime_text(up, sizeof up, gi->uptime_seconds) : "unknown");
	info_print_fs(f, gi);
	info_print_disks(f, gi);
	if (gi->nerrors == 0)
		return;
	fprintf(f, "\nNot known:\n");
	for (i = 0; i < gi->nerrors; i++) {
		s = info_safe(gi->errors[i]);
		fprintf(f, "  %s\n", s);
		free(s);
	}
}

/* An optional string for the wire ("" when unknown). */
static char *
info_wire(const char *s)
{
	return ((char *)(s != NULL ? s : ""));
}

/* The facts as a GuestInfo message; see info.h. */
Evg__GuestInfo *
info_to_proto(const struct guest_info *gi)
{
	Evg__GuestInfo	*m;
	Evg__FsInfo	*f;
	Evg__GuestDisk	*d;
	size_t		 i, j;

	m = xmalloc(sizeof *m);
	evg__guest_info__init(m);
	m->agent_version = info_wire(gi->agent_version);
	m->os = info_wire(gi->os);
	m->kernel = info_wire(gi->kernel);
	m->kernel_version = info_wire(gi->kernel_version);
	m->hostname = info_wire(gi->hostname);
	m->uptime_seconds = gi->has_uptime ? gi->uptime_seconds : 0;
	m->n_filesystems = gi->nfs;
	m->filesystems = xcalloc(gi->nfs, sizeof *m->filesystems);
	for (i = 0; i < gi->nfs; i++) {
		f = m->filesystems[i] = xmalloc(sizeof *f);
		evg__fs_info__init(f);
		f->mountpoint = info_wire(gi->fs[i].mountpoint);
		f->fstype = info_wire(gi->fs[i].fstype);
		f->source = info_wire(gi->fs[i].source);
		if (gi->fs[i].has_usage) {
			f->size_bytes = gi->fs[i].size_bytes;
			f->used_bytes = gi->fs[i].used_bytes;
			f->available_bytes = gi->fs[i].available_bytes;
		}
	}
	m->n_disks = gi->ndisks;
	m->disks = xcalloc(gi->ndisks, sizeof *m->disks);
	for (i = 0; i < gi->ndisks; i++) {
		d = m->disks[i] = xmalloc(sizeof *d);
		evg__guest_disk__init(d);
		d->device = info_wire(gi->disks[i].device);
		d->n_ids = gi->disks[i].nids;
		d->ids = xcalloc(d->n_ids, sizeof *d->ids);
		for (j = 0; j < d->n_ids; j++) {
			d->ids[j] = xmalloc(sizeof *d->ids[j]);
			evg__disk_id__init(d->ids[j]);
			d->ids[j]->kind = gi->disks[i].ids[j].kind;
			d->ids[j]->value = gi->disks[i].ids[j].value;
		}
	}
	return (m);
}

/* Free a message from info_to_proto() (not the borrowed strings). */
void
info_proto_free(Evg__GuestInfo *m)
{
	size_t	i, j;

	if (m == NULL)
		return;
	for (i = 0; i < m->n_filesystems; i++)
		free(m->filesystems[i]);
	free(m->filesystems);
	for (i = 0; i < m->n_disks; i++) {
		for (j = 0; j < m->disks[i]->n_ids; j++)
			free(m->disks[i]->ids[j]);
		free(m->disks[i]->ids);
		free(m->disks[i]);
	}
	free(m->disks);
	free(m);
}
