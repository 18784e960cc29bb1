/*
 * The pure half of the ZFS snapshot backend: the argv of every zfs(8)
 * command it runs and parsers for their scripted output.  Nothing here does
 * I/O; the backend runs the commands (proc.c) and hands their stdout in, so
 * all of this is unit-tested without a ZFS kernel module.
 *
 * A snapshot's ZFS name is DATASET@TAG, TAG the catalog's (evg-UUID; a
 * bare UUID before the prefix, catalog.h).  Its UUID and human name are
 * also kept as the user properties eve:snapshot-uuid and eve:snapshot-name,
 * so a catalog lost with the state directory can be rebuilt from the pool;
 * the UUID property marks the snapshot as the host's whatever its name.
 * EVE's own snapshots of the same zvol (DATASET@YYYYMMDD-HHMMSSmmm) have
 * neither mark and are never destroyed, not even by a rollback.
 *
 * Ownership: every zfs_argv_*() returns a NULL-terminated array whose
 * elements and array are allocated; the caller frees it with
 * zfs_argv_free().  zfs_parse_list() returns an array the caller frees with
 * zfs_snaps_free().  A *cause set on failure is the caller's to free.
 */
#ifndef EVG_ZFS_H
#define EVG_ZFS_H

#include <stddef.h>
#include <stdint.h>

/* ZFS_MAX_DATASET_NAME_LEN (256) counts the NUL. */
#define ZFS_NAME_MAX		255
#define ZFS_PROP_UUID		"eve:snapshot-uuid"
#define ZFS_PROP_NAME		"eve:snapshot-name"

/* One line of zfs_argv_list()'s output, for the dataset asked about. */
struct zfs_snap {
	char		*snapname;	/* the part after '@' */
	uint64_t	 used;		/* bytes */
	uint64_t	 creation;	/* seconds since the epoch */
	char		*uuid;		/* eve:snapshot-uuid, NULL: unset */
	char		*name;		/* eve:snapshot-name, NULL: unset */
};

/*
 * zfs snapshot -o eve:snapshot-uuid=UUID -o eve:snapshot-name=NAME
 * DATASET@TAG, from (zfs, DATASET, TAG, UUID, NAME).  NAME is one argv
 * element: no quoting needed.
 */
char		**zfs_argv_snapshot(const char *, const char *,
		    const char *, const char *, const char *);
/* zfs destroy DATASET@TAG */
char		**zfs_argv_destroy(const char *, const char *,
		    const char *);
/*
 * zfs rollback DATASET@TAG, never -r: that would destroy newer snapshots
 * silently.  Callers refuse that case first (zfs_newer_foreign(),
 * zfs_newer_than()).
 */
char		**zfs_argv_rollback(const char *, const char *,
		    const char *);
/*
 * zfs list -Hp -t snapshot -d 1 -o name,used,creation,eve:snapshot-uuid,
 * eve:snapshot-name DATASET: the input of zfs_parse_list().
 */
char		**zfs_argv_list(const char *, const char *);
/* zfs get -Hp -o value available DATASET: see zfs_parse_u64(). */
char		**zfs_argv_available(const char *, const char *);
/* zfs get -Hp -o value volsize DATASET: see zfs_parse_u64(). */
char		**zfs_argv_volsize(const char *, const char *);
/* Free an argv from zfs_argv_*(); NULL is fine. */
void		  zfs_argv_free(char **);

/*
 * Parse zfs_argv_list() output for DATASET: one line per snapshot, five
 * tab-separated columns, numbers exact.  Lines of other datasets are
 * skipped.  The order is kept: zfs lists a dataset's snapshots oldest
 * first (by creation txg, finer than the one-second creation time).
 * Empty output is zero snapshots.  A user property that is unset prints
 * as "-", which reads back as NULL: a snapshot named exactly "-" cannot be
 * told from an unnamed one here, the catalog keeps the name too.
 * Returns 0 with *snaps (NULL when *n is 0) and *n, or -1 with *cause
 * naming the line and what is wrong with it.
 */
int		  zfs_parse_list(const char *, const char *,
		    struct zfs_snap **, size_t *, char **);
/* Free n snapshots from zfs_parse_list(); NULL is fine. */
void		  zfs_snaps_free(struct zfs_snap *, size_t);
/*
 * Parse `zfs get -Hp -o value` output: one decimal number and a newline.
 * Returns 0 with *v, or -1 with *cause ("-" is what zfs prints for a
 * property the dataset does not have, e.g. volsize of a filesystem).
 */
int		  zfs_parse_u64(const char *, uint64_t *, char **);

/* The snapshot called snapname, or NULL. */
const struct zfs_snap *zfs_snap_find(const struct zfs_snap *, size_t,
		    const char *);
/*
 * How many snapshots in the list (oldest first) are newer than snapname,
 * in *count, and the name of the newest of them, which points into snaps.
 * NULL with *count 0 if none is newer or snapname is not in the list.
 */
const char	 *zfs_newer_than(const struct zfs_snap *, size_t,
		    const char *, size_t *);
/*
 * Of the snapshots newer than snapname, how many the host did not make
 * (catalog_tag_ours(): EVE's own, or made by hand), in *count, and the
 * name of the oldest of them, which points into snaps.  NULL with *count 0
 * if none is foreign or snapname is not in the list.
 */
const char	 *zfs_newer_foreign(const struct zfs_snap *, size_t,
		    const char *, size_t *);

/*
 * True if s is a dataset name the host accepts: 1-255 characters of
 * [A-Za-z0-9_.:-/], not starting with '/' or '-' (it becomes an argv
 * element), no empty component.  Stricter than ZFS (no spaces), and
 * registry.c checks volume locators with it.
 */
int		  zfs_dataset_valid(const char *);

#endif
