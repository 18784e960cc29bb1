/*
 * The append-only journal (regjournal.c) of the registry and of each
 * snapshot catalog: what registry.c and catalog.c write at every change
 * instead of rewriting their whole file.  The
 * journal owns its file descriptor; the lines are the caller's.
 */
#ifndef EVG_REGJOURNAL_H
#define EVG_REGJOURNAL_H

#include <stddef.h>

#include <json-c/json.h>

struct regjournal {
	int		fd;	/* open for appending, or -1 */
	size_t		lines;	/* lines since the file was last rewritten */
	/*
	 * An fdatasync queued for or running on a worker thread
	 * (regjournal_append_async), which only touches fd; every other
	 * call waits for it.  syncing, sync_next and sync_errno belong to
	 * the workers' lock while syncing is 1.
	 */
	int			 syncing;
	struct regjournal	*sync_next;
	int			 sync_errno;
};

/*
 * Append line (one JSON object and its "\n") to <regpath>.journal and
 * make it durable.  0, or -1 with errno and *cause.
 */
int	regjournal_append(struct regjournal *, const char *, const char *,
	    char **);
/*
 * The same, but the line is only written (a failed write, ENOSPC say,
 * fails here); its fdatasync runs on another thread while the caller
 * goes on (a worker shared by every journal), and regjournal_sync
 * waits for it.  For a change whose
 * durability is needed a little later, not at once: a snapshot's intent,
 * durable before the backend is told to make the snapshot.
 */
int	regjournal_append_async(struct regjournal *, const char *,
	    const char *, char **);
/* Wait for a pending fdatasync: 0, or -1 with errno and *cause. */
int	regjournal_sync(struct regjournal *, const char *, char **);
/* The registry file was rewritten: empty the journal. */
void	regjournal_reset(struct regjournal *, const char *);
void	regjournal_close(struct regjournal *);

/* Apply {"put": RECORD}: *cause (allocated) when RECORD is unusable. */
typedef void	(*regjournal_put_fn)(json_object *, void *, char **);
/* Apply {"del": "UUID"} (or each UUID of a list). */
typedef void	(*regjournal_del_fn)(const char *, void *);
/*
 * Replay <regpath>.journal (missing: nothing) line by line, in order.
 * 0, or -1 with *cause naming the file and line.
 */
int	regjournal_replay(struct regjournal *, const char *,
	    regjournal_put_fn, regjournal_del_fn, void *, char **);

#endif
