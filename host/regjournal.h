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
	int	fd;		/* open for appending, or -1 */
	size_t	lines;		/* lines since the file was last rewritten */
};

/*
 * Append line (one JSON object and its "\n") to <regpath>.journal and
 * make it durable.  0, or -1 with errno and *cause.
 */
int	regjournal_append(struct regjournal *, const char *, const char *,
	    char **);
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
