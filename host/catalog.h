/*
 * The per-VM snapshot catalog: every snapshot the host knows of for one VM
 * (UUID, name, volume, creation time, size, consistency, origin, state),
 * persisted as <state_dir>/catalogs/<vm-uuid>.json, written atomically
 * (temp file, fsync, rename, fsync dir), and its journal
 * <vm-uuid>.json.journal (regjournal.c): a commit appends the entries it
 * changed and the UUIDs it removed as one line, made durable with one
 * fdatasync, whatever the catalog's size; the whole file is rewritten
 * (and the journal emptied) once the journal holds CATALOG_JOURNAL_LINES
 * lines or as many as the catalog has entries, whichever is fewer (at
 * least 64), or half the file's size limit in bytes.
 *
 * Crash safety: an operation writes its intent first (state "creating" or
 * "deleting"), then calls the backend, then commits the outcome.  After a
 * crash, catalog_reconcile() compares a volume's entries with what its
 * backend lists and finishes or cleans every half-done operation: nothing
 * of ours a backend holds is lost (unknown snapshots of ours are adopted),
 * nothing is listed twice, and an entry whose backend snapshot is gone is
 * kept as "missing" and reported, never silently dropped.
 *
 * Ownership: EVE makes snapshots of the same images (qcow2
 * "<volume>-snapshot-<time>", ZFS "<dataset>@YYYYMMDD-HHMMSSmmm"), and so
 * may anyone by hand.  The host's own carry a mark: the tag is
 * CATALOG_TAG_PREFIX and the snapshot's UUID.  Snapshots made before the
 * prefix (the tag a bare UUID) and ZFS snapshots whose eve:snapshot-uuid
 * property holds a UUID are ours too.  Any other is foreign: never
 * adopted, listed, counted, deleted or rolled back over.
 *
 * The catalog owns its entries and their strings.
 */
#ifndef EVG_CATALOG_H
#define EVG_CATALOG_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "regjournal.h"
#include "uuid.h"

#define CATALOG_DIR		"catalogs"
/* Most snapshots one VM's catalog holds (a create beyond is NO_SPACE). */
#define CATALOG_MAX_ENTRIES	16384
/* Most members of one snapshot group (volumes of one create). */
#define CATALOG_GROUP_MAX	32
/* Journal lines after which a commit rewrites the whole file; see above. */
#define CATALOG_JOURNAL_MIN	64
#define CATALOG_JOURNAL_LINES	1024
/* The mark of the host's own backend snapshots; see the top. */
#define CATALOG_TAG_PREFIX	"evg-"
#define CATALOG_TAG_LEN		(sizeof CATALOG_TAG_PREFIX - 1 + UUID_STR_LEN)

enum snap_state {
	SNAP_CREATING,		/* intent written, backend not yet done */
	SNAP_READY,
	SNAP_DELETING,		/* intent written, backend not yet done */
	SNAP_MISSING,		/* catalogued, but the backend lost it */
};

/* One mount of the consistency record: frozen, or skipped and why. */
struct cat_mount {
	char		*mountpoint;
	char		*fstype;
	char		*device;
	char		*action;	/* frozen or skipped */
	char		*reason;	/* NULL when frozen */
};

struct cat_snap {
	char		 uuid[UUID_STR_LEN + 1];
	char		*name;
	char		 volume[UUID_STR_LEN + 1];
	char		*tag;		/* the backend's name for it */
	uint64_t	 created;	/* seconds since the epoch, UTC */
	uint64_t	 size;		/* bytes; see docs/snapshots.md */
	char		*consistency;	/* app, fs or crash */
	char		*origin;	/* guest, controller or adopted */
	enum snap_state	 state;
	uint32_t	 freeze_ms;	/* how long the guest was frozen */
	char		*idem_key;	/* the create request's key, or NULL */
	/*
	 * The snapshot group (one create, one freeze) it belongs to, and how
	 * many members that group was made with.  An entry from before
	 * groups is a group of one: its own UUID, size 1.
	 */
	char		 group[UUID_STR_LEN + 1];
	uint32_t	 group_size;
	/* Not persisted: the catalog check's bookkeeping of one run. */
	unsigned char	 checked;	/* its volume was listed */
	unsigned char	 seen;		/* the backend has it */
	unsigned char	 tried;		/* redelete attempted */
	/* Not persisted: the hash of the JSON last written, 0: never. */
	size_t		 written;
	struct cat_mount *mounts;	/* consistency record */
	size_t		 nmounts;
	TAILQ_ENTRY(cat_snap) entry;
};

TAILQ_HEAD(cat_snap_list, cat_snap);

struct catalog {
	char			*path;
	char			 vm[UUID_STR_LEN + 1];
	struct cat_snap_list	 snaps;
	size_t			 count;
	/*
	 * A rollback waiting for the VM to stop: a group UUID (before
	 * groups: a snapshot UUID, the same as its group's), or "".  Only
	 * the members on pending_volumes when there are any, else all.
	 */
	char			 pending_rollback[UUID_STR_LEN + 1];
	char			 pending_volumes[CATALOG_GROUP_MAX]
				    [UUID_STR_LEN + 1];
	size_t			 npending_volumes;
	/*
	 * An online rollback under way (wf_online.c), as the JSON object's
	 * text (owned), or NULL: what a restart needs to finish or undo it.
	 */
	char			*online;
	/* Not persisted: what the next commit's journal line must carry. */
	struct regjournal	 journal;
	size_t			 header_written;	/* hash, 0: never */
	char			(*removed)[UUID_STR_LEN + 1];
	size_t			 nremoved;
};

/* What the backend lists for a volume, as reconcile needs it. */
struct cat_seen {
	const char	*tag;
	const char	*uuid;		/* may be NULL (qcow2, foreign zfs) */
	const char	*name;		/* may be NULL */
	uint64_t	 created;
	uint64_t	 size;
};

/* Outcome counts of one reconcile (each change is also logged). */
struct cat_reconcile {
	unsigned int	finished;	/* creating -> ready */
	unsigned int	cleaned;	/* creating dropped, deleting done */
	unsigned int	redelete;	/* deleting still in backend */
	unsigned int	missing;	/* ready -> missing */
	unsigned int	found;		/* missing -> ready again */
	unsigned int	adopted;	/* unknown backend snapshot added */
	unsigned int	released;	/* entry of a foreign one dropped */
	unsigned int	foreign;	/* foreign backend snapshots seen */
};

/*
 * Load the catalog of vm from dir/<vm>.json (missing: empty) and replay
 * its journal over it.  Returns NULL with *cause when the file or the
 * journal exists but cannot be used.
 */
struct catalog	*catalog_open(const char *, const char *, char **);
/*
 * The catalog of vm, kept at path (both copied), from the NUL-terminated
 * text of its file, or empty when text is NULL: what catalog_open() does
 * once the file is read.  Returns NULL with *cause when the text is not a
 * usable catalog.
 */
struct catalog	*catalog_parse(const char *, const char *, const char *,
		    char **);
void		 catalog_free(struct catalog *);
/*
 * Free, the whole file rewritten first when the journal holds anything
 * (a daemon that stops cleanly leaves each catalog in one file).
 */
void		 catalog_close(struct catalog *);
/*
 * Make every change since the last commit durable: one journal line (no
 * write at all when nothing changed), the whole file now and then; see
 * the top.  0 or -1 with errno and *cause (the changes stay to commit).
 */
int		 catalog_commit(struct catalog *, char **);
/*
 * The same, but durable only at catalog_sync: the line is written now (a
 * write error fails here), its fdatasync runs on another thread.  Every
 * other write of the catalog waits for that sync first.
 */
int		 catalog_commit_async(struct catalog *, char **);
/* Wait for the last catalog_commit_async: 0, or -1 with errno, *cause. */
int		 catalog_sync(struct catalog *, char **);
/* The file's JSON text for the catalog (caller frees). */
char		*catalog_text(struct catalog *);

/* New entry (caller fills it) appended to the catalog, not yet written. */
struct cat_snap	*catalog_add(struct catalog *, const char *, const char *,
		    const char *, const char *, const char *);
void		 catalog_remove(struct catalog *, struct cat_snap *);
/* Free an entry that is in no catalog (NULL is fine). */
void		 catalog_entry_free(struct cat_snap *);
/* Append a mount to an entry's consistency record (strings copied). */
void		 catalog_add_mount(struct cat_snap *, const char *, const char *,
		    const char *, const char *, const char *);
struct cat_snap	*catalog_find(struct catalog *, const char *);
/* Entry of volume (NULL: any) whose name is name; *count of matches. */
struct cat_snap	*catalog_find_name(struct catalog *, const char *,
		    const char *, unsigned int *);

/*
 * The entries of group (a group UUID) in catalog order, at most max, into
 * out; returns how many there are (may exceed max).
 */
size_t		 catalog_group(struct catalog *, const char *,
		    struct cat_snap **, size_t);

/*
 * The tag of the new snapshot uuid, written to buf (CATALOG_TAG_LEN + 1
 * bytes are enough).
 */
void		 catalog_tag_make(char *, size_t, const char *);
/*
 * True if the backend snapshot called tag, with the recorded UUID uuid
 * (ZFS's eve:snapshot-uuid; NULL when it has none), is ours (see the top).
 */
int		 catalog_tag_ours(const char *, const char *);

const char	*snap_state_name(enum snap_state);
int		 snap_state_parse(const char *, enum snap_state *);

/*
 * Reconcile volume's entries with the n snapshots its backend lists (see
 * the comment at the top).  Foreign snapshots are left alone: never
 * adopted, only counted in foreign; an entry an older host adopted from
 * one is dropped from the catalog (released), the snapshot untouched.
 * Entries left in SNAP_DELETING whose snapshot is still in the backend are
 * counted in redelete; the caller deletes them again.  Returns the number
 * of changes; the caller commits if non-zero.
 */
/*
 * Groups: a creating member of a group of several is left creating by
 * catalog_reconcile() (marked checked, and seen when the backend has it),
 * and catalog_settle_groups() decides, once every volume was listed:
 * a group whose members are all there (group_size of them) and all in
 * their backends is ready; any other group with a creating member is
 * undone as a whole, never kept partial: members the backends have are
 * marked deleting (the caller deletes them again), the others dropped.  A
 * group with a member whose volume could not be listed waits for the next
 * check.  Returns the number of changes; the caller commits if non-zero.
 */
unsigned int	 catalog_settle_groups(struct catalog *);
unsigned int	 catalog_reconcile(struct catalog *, const char *,
		    const struct cat_seen *, size_t, struct cat_reconcile *);

#endif
