/* ZFS backend commands and output parsing; pure functions, no I/O. */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "log.h"
#include "xmalloc.h"
#include "zfs.h"

#define ZFS_LIST_COLUMNS	5
#define ZFS_LIST_FIELDS \
	"name,used,creation," ZFS_PROP_UUID "," ZFS_PROP_NAME
/* Enough of a bad value to recognise it in a message. */
#define ZFS_SAMPLE_MAX		64

/* Build a NULL-terminated argv: zfs_cmd, then the NULL-terminated rest. */
static char **
zfs_argv(const char *zfs_cmd, ...)
{
	va_list		 ap;
	const char	*arg;
	char		**argv;
	size_t		 n = 1;

	va_start(ap, zfs_cmd);
	while (va_arg(ap, const char *) != NULL)
		n++;
	va_end(ap);

	argv = xcalloc(n + 1, sizeof *argv);
	argv[0] = xstrdup(zfs_cmd);
	n = 1;
	va_start(ap, zfs_cmd);
	while ((arg = va_arg(ap, const char *)) != NULL)
		argv[n++] = xstrdup(arg);
	va_end(ap);
	argv[n] = NULL;
	return (argv);
}

/* zfs snapshot with the UUID and name as user properties. */
char **
zfs_argv_snapshot(const char *zfs_cmd, const char *dataset,
    const char *snapname, const char *snap_uuid, const char *name)
{
	char	*uuid_prop, *name_prop, *target, **argv;

	xasprintf(&uuid_prop, "%s=%s", ZFS_PROP_UUID, snap_uuid);
	xasprintf(&name_prop, "%s=%s", ZFS_PROP_NAME, name);
	xasprintf(&target, "%s@%s", dataset, snapname);
	argv = zfs_argv(zfs_cmd, "snapshot", "-o", uuid_prop, "-o", name_prop,
	    target, (char *)NULL);
	free(uuid_prop);
	free(name_prop);
	free(target);
	return (argv);
}

/* zfs destroy of one snapshot. */
char **
zfs_argv_destroy(const char *zfs_cmd, const char *dataset,
    const char *snapname)
{
	char	*target, **argv;

	xasprintf(&target, "%s@%s", dataset, snapname);
	argv = zfs_argv(zfs_cmd, "destroy", target, (char *)NULL);
	free(target);
	return (argv);
}

/* zfs rollback to the most recent snapshot (no -r). */
char **
zfs_argv_rollback(const char *zfs_cmd, const char *dataset,
    const char *snapname)
{
	char	*target, **argv;

	xasprintf(&target, "%s@%s", dataset, snapname);
	argv = zfs_argv(zfs_cmd, "rollback", target, (char *)NULL);
	free(target);
	return (argv);
}

/* zfs list of the dataset's own snapshots, scripted and exact. */
char **
zfs_argv_list(const char *zfs_cmd, const char *dataset)
{
	return (zfs_argv(zfs_cmd, "list", "-Hp", "-t", "snapshot", "-d", "1",
	    "-o", ZFS_LIST_FIELDS, dataset, (char *)NULL));
}

/* zfs get of the space available to the dataset, in bytes. */
char **
zfs_argv_available(const char *zfs_cmd, const char *dataset)
{
	return (zfs_argv(zfs_cmd, "get", "-Hp", "-o", "value", "available",
	    dataset, (char *)NULL));
}

/* zfs get of the volume's size, in bytes. */
char **
zfs_argv_volsize(const char *zfs_cmd, const char *dataset)
{
	return (zfs_argv(zfs_cmd, "get", "-Hp", "-o", "value", "volsize",
	    dataset, (char *)NULL));
}

/* Free an argv and its elements. */
void
zfs_argv_free(char **argv)
{
	size_t	i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

/* Parse len bytes of decimal digits; -1 if empty, not digits or > 2^64-1. */
static int
zfs_number(const char *s, size_t len, uint64_t *v)
{
	uint64_t	n = 0;
	unsigned int	d;
	size_t		i;

	if (len == 0)
		return (-1);
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return (-1);
		d = (unsigned int)(s[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			return (-1);
		n = n * 10 + d;
	}
	*v = n;
	return (0);
}

/* Escape a sample of untrusted output for a message; returns buf. */
static char *
zfs_sample(char *buf, size_t size, const char *s)
{
	return (log_escape(buf, size, s, strlen(s)));
}

/* A copy of a user property column; NULL for "-", zfs's "unset". */
static char *
zfs_userprop(const char *s)
{
	return (strcmp(s, "-") == 0 ? NULL : xstrdup(s));
}

/*
 * Parse one line (no newline, modified in place) into *snap.  Returns 1 if
 * it is a snapshot of dataset, 0 if it belongs to another, -1 with *cause.
 */
static int
zfs_parse_line(char *line, size_t lineno, const char *dataset,
    struct zfs_snap *snap, char **cause)
{
	char		*col[ZFS_LIST_COLUMNS], *p, *at;
	char		 sample[ZFS_SAMPLE_MAX];
	size_t		 ncol = 1, i, dlen = strlen(dataset);

	for (p = line; *p != '\0'; p++)
		if (*p == '\t')
			ncol++;
	if (ncol != ZFS_LIST_COLUMNS) {
		xasprintf(cause, "line %zu: %zu column%s, expected %d "
		    "(" ZFS_LIST_FIELDS "): '%s'", lineno, ncol,
		    ncol == 1 ? "" : "s", ZFS_LIST_COLUMNS,
		    zfs_sample(sample, sizeof sample, line));
		return (-1);
	}
	p = line;
	for (i = 0; i < ZFS_LIST_COLUMNS; i++)
		col[i] = strsep(&p, "\t");

	if ((at = strchr(col[0], '@')) == NULL || at == col[0] ||
	    at[1] == '\0') {
		xasprintf(cause, "line %zu: '%s' is not a snapshot name "
		    "(dataset@snapshot)", lineno,
		    zfs_sample(sample, sizeof sample, col[0]));
		return (-1);
	}
	if ((size_t)(at - col[0]) != dlen || strncmp(col[0], dataset,
	    dlen) != 0)
		return (0);

	if (zfs_number(col[1], strlen(col[1]), &snap->used) != 0) {
		xasprintf(cause, "line %zu: used '%s' is not a number of "
		    "bytes", lineno, zfs_sample(sample, sizeof sample, col[1]));
		return (-1);
	}
	if (zfs_number(col[2], strlen(col[2]), &snap->creation) != 0) {
		xasprintf(cause, "line %zu: creation '%s' is not a number of "
		    "seconds", lineno,
		    zfs_sample(sample, sizeof sample, col[2]));
		return (-1);
	}
	snap->snapname = xstrdup(at + 1);
	snap->uuid = zfs_userprop(col[3]);
	snap->name = zfs_userprop(col[4]);
	return (1);
}

/* Parse `zfs list -Hp` output into the dataset's snapshots, in order. */
int
zfs_parse_list(const char *out, const char *dataset, struct zfs_snap **snaps,
    size_t *n, char **cause)
{
	struct zfs_snap	*list = NULL, snap;
	const char	*line, *end;
	char		*copy;
	size_t		 count = 0, cap = 0, lineno;
	int		 rc;

	for (line = out, lineno = 1; *line != '\0'; line = end + 1, lineno++) {
		/* zfs ends every line; a missing newline means a cut. */
		if ((end = strchr(line, '\n')) == NULL) {
			xasprintf(cause, "line %zu: no newline at the end "
			    "(output cut short?)", lineno);
			goto fail;
		}
		copy = xstrndup(line, (size_t)(end - line));
		memset(&snap, 0, sizeof snap);
		rc = zfs_parse_line(copy, lineno, dataset, &snap, cause);
		free(copy);
		if (rc == -1)
			goto fail;
		if (rc == 0)
			continue;
		if (count == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			list = xreallocarray(list, cap, sizeof *list);
		}
		list[count++] = snap;
	}
	*snaps = list;
	*n = count;
	return (0);

fail:
	zfs_snaps_free(list, count);
	*snaps = NULL;
	*n = 0;
	return (-1);
}

/* Free a snapshot array and its strings. */
void
zfs_snaps_free(struct zfs_snap *snaps, size_t n)
{
	size_t	i;

	if (snaps == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(snaps[i].snapname);
		free(snaps[i].uuid);
		free(snaps[i].name);
	}
	free(snaps);
}

/* Parse `zfs get -Hp -o value` output: digits, then exactly one newline. */
int
zfs_parse_u64(const char *out, uint64_t *v, char **cause)
{
	const char	*nl;
	char		 sample[ZFS_SAMPLE_MAX];

	if ((nl = strchr(out, '\n')) == NULL || nl[1] != '\0' ||
	    zfs_number(out, (size_t)(nl - out), v) != 0) {
		xasprintf(cause, "expected one number and a newline, got "
		    "'%s'", zfs_sample(sample, sizeof sample, out));
		return (-1);
	}
	return (0);
}

/* Look a snapshot up by its ZFS snapshot name. */
const struct zfs_snap *
zfs_snap_find(const struct zfs_snap *snaps, size_t n, const char *snapname)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(snaps[i].snapname, snapname) == 0)
			return (&snaps[i]);
	return (NULL);
}

/* Count the snapshots after snapname in the list; name the last one. */
const char *
zfs_newer_than(const struct zfs_snap *snaps, size_t n, const char *snapname,
    size_t *count)
{
	const struct zfs_snap	*s;

	*count = 0;
	if ((s = zfs_snap_find(snaps, n, snapname)) == NULL)
		return (NULL);
	*count = n - 1 - (size_t)(s - snaps);
	return (*count == 0 ? NULL : snaps[n - 1].snapname);
}

/* Count the foreign snapshots after snapname; name the oldest one. */
const char *
zfs_newer_foreign(const struct zfs_snap *snaps, size_t n,
    const char *snapname, size_t *count)
{
	const struct zfs_snap	*s;
	const char		*first = NULL;
	size_t			 i;

	*count = 0;
	if ((s = zfs_snap_find(snaps, n, snapname)) == NULL)
		return (NULL);
	for (i = (size_t)(s - snaps) + 1; i < n; i++) {
		if (catalog_tag_ours(snaps[i].snapname, snaps[i].uuid))
			continue;
		if (first == NULL)
			first = snaps[i].snapname;
		(*count)++;
	}
	return (first);
}

/* Check a dataset name; see zfs.h for the rules. */
int
zfs_dataset_valid(const char *s)
{
	size_t	i, len;

	if (s == NULL || (len = strlen(s)) == 0 || len > ZFS_NAME_MAX ||
	    s[0] == '/' || s[0] == '-' || s[len - 1] == '/' ||
	    strstr(s, "//") != NULL)
		return (0);
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_.:-/", s[i]) ==
		    NULL)
			return (0);
	return (1);
}
