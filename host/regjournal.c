/*
 * The journal of the registry and of each snapshot catalog: PATH.journal
 * beside the file PATH, one JSON line per change ({"put": RECORDS} and/or
 * {"del": "UUID" or ["UUID", ...]}, removals applied first), appended and
 * fdatasync'd at every change (or, for a change needed durable only a
 * little later, written at once and fdatasync'd on a worker thread
 * while the daemon goes on).  A change then costs one small write
 * whatever the number of VMs or snapshots; the owner rewrites the whole
 * file (and empties the journal) only every so many lines, after the
 * change that triggers it went into the journal.
 *
 * Replaying the journal over the file is idempotent (the last put of a
 * record wins, a del of a missing record does nothing, and the journal's
 * last word on each record is what the rewritten file holds), so a crash
 * between the rewrite and the truncation loses nothing.  A last line cut
 * short by a crash mid-append is ignored and cut off the file, with a
 * warning: the change it carried was never acknowledged, and the next
 * line must not be appended to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "atomicfile.h"
#include "log.h"
#include "regjournal.h"
#include "xmalloc.h"

#define REGJOURNAL_MAX	(64 * 1024 * 1024)

/* The journal's path (caller frees). */
static char *
regjournal_path(const char *regpath)
{
	char	*p;

	xasprintf(&p, "%s.journal", regpath);
	return (p);
}

/* Tests only: the background fdatasync of a journal whose path holds it fails. */
#define REGJOURNAL_SYNC_FAIL_ENV	"EVG_TEST_SYNC_FAIL"

/*
 * The fdatasyncs of regjournal_append_async run on a few worker threads
 * shared by every journal, started on first need and never ending: a
 * thread that ended after each sync would have its task freed through
 * RCU (call_rcu), starting a grace period just as the guest freezes, and
 * FIFREEZE waits for grace periods (percpu_down_write in freeze_super);
 * side by side on a 6.18 kernel, the freeze window was 3-5 ms longer.  The queue is of
 * journals (sync_next); a journal is on it at most once (syncing).
 */
#define REGJOURNAL_WORKERS	4

static pthread_mutex_t	 sync_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 sync_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t	 sync_done = PTHREAD_COND_INITIALIZER;
static struct regjournal *sync_head, **sync_tail = &sync_head;
static unsigned		 sync_workers, sync_idle, sync_queued;

/* One worker: take a journal off the queue, fdatasync it, tell, again. */
static void *
regjournal_worker(void *arg)
{
	struct regjournal	*j;
	int			 rc;

	(void)arg;
	pthread_mutex_lock(&sync_lock);
	for (;;) {
		sync_idle++;
		while (sync_head == NULL)
			pthread_cond_wait(&sync_work, &sync_lock);
		sync_idle--;
		j = sync_head;
		if ((sync_head = j->sync_next) == NULL)
			sync_tail = &sync_head;
		j->sync_next = NULL;
		sync_queued--;
		pthread_mutex_unlock(&sync_lock);
		/* Only this thread touches j->fd until syncing is 0. */
		rc = fdatasync(j->fd) == -1 ? errno : 0;
		pthread_mutex_lock(&sync_lock);
		j->sync_errno = rc;
		j->syncing = 0;
		pthread_cond_broadcast(&sync_done);
	}
	return (NULL);
}

/*
 * Queue j's fdatasync for a worker (one more started when the queue
 * would be longer than the idle workers and there are fewer than
 * REGJOURNAL_WORKERS): 0, or -1 when there is no worker at all and none
 * could be started.
 */
static int
regjournal_queue(struct regjournal *j)
{
	pthread_t	t;
	int		rc = 0;

	pthread_mutex_lock(&sync_lock);
	if (sync_queued >= sync_idle && sync_workers < REGJOURNAL_WORKERS) {
		if (pthread_create(&t, NULL, regjournal_worker, NULL) == 0) {
			pthread_detach(t);
			sync_workers++;
		} else if (sync_workers == 0)
			rc = -1;
	}
	if (rc == 0) {
		j->syncing = 1;
		j->sync_next = NULL;
		*sync_tail = j;
		sync_tail = &j->sync_next;
		sync_queued++;
		pthread_cond_signal(&sync_work);
	}
	pthread_mutex_unlock(&sync_lock);
	return (rc);
}

/* Wait until no worker has j. */
static void
regjournal_wait(struct regjournal *j)
{
	pthread_mutex_lock(&sync_lock);
	while (j->syncing)
		pthread_cond_wait(&sync_done, &sync_lock);
	pthread_mutex_unlock(&sync_lock);
}

/* Wait for a pending fdatasync; see regjournal.h. */
int
regjournal_sync(struct regjournal *j, const char *regpath, char **cause)
{
	int	saved;

	regjournal_wait(j);
	if ((saved = j->sync_errno) == 0)
		return (0);
	j->sync_errno = 0;
	xasprintf(cause, "fdatasync %s.journal: %s", regpath,
	    strerror(saved));
	errno = saved;
	return (-1);
}

/* Write one line (no fdatasync); the journal is open after it. */
static int
regjournal_write(struct regjournal *j, const char *regpath,
    const char *line, char **cause)
{
	char	*path;
	size_t	 len = strlen(line), off = 0;
	ssize_t	 n;
	int	 saved;

	/* A failed earlier sync is the caller's news now. */
	if (regjournal_sync(j, regpath, cause) != 0)
		return (-1);
	if (j->fd == -1) {
		path = regjournal_path(regpath);
		j->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0600);
		if (j->fd == -1) {
			saved = errno;
			xasprintf(cause, "open %s: %s", path, strerror(saved));
			free(path);
			errno = saved;
			return (-1);
		}
		free(path);
	}
	while (off < len) {
		if ((n = write(j->fd, line + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			xasprintf(cause, "write %s.journal: %s", regpath,
			    strerror(saved));
			/* A part of a line may be there: the next load ignores it. */
			errno = saved;
			return (-1);
		}
		off += (size_t)n;
	}
	j->lines++;
	return (0);
}

/* Append one line; see regjournal.h. */
int
regjournal_append(struct regjournal *j, const char *regpath,
    const char *line, char **cause)
{
	int	saved;

	if (regjournal_write(j, regpath, line, cause) != 0)
		return (-1);
	if (fdatasync(j->fd) == -1) {
		saved = errno;
		xasprintf(cause, "fdatasync %s.journal: %s", regpath,
		    strerror(saved));
		errno = saved;
		return (-1);
	}
	return (0);
}

/* Append one line, made durable on another thread; see regjournal.h. */
int
regjournal_append_async(struct regjournal *j, const char *regpath,
    const char *line, char **cause)
{
	const char	*fail = getenv(REGJOURNAL_SYNC_FAIL_ENV);

	if (regjournal_write(j, regpath, line, cause) != 0)
		return (-1);
	if (fail != NULL && *fail != '\0' && strstr(regpath, fail) != NULL) {
		log_warnx("test hook: the fdatasync of %s.journal fails",
		    regpath);
		j->sync_errno = EIO;
		return (0);
	}
	if (regjournal_queue(j) == 0)
		return (0);
	/* No worker: the sync happens now, its result kept for the wait. */
	j->sync_errno = fdatasync(j->fd) == -1 ? errno : 0;
	return (0);
}

/* Empty the journal after the file was rewritten; see regjournal.h. */
void
regjournal_reset(struct regjournal *j, const char *regpath)
{
	char	*path, *why = NULL;

	if (regjournal_sync(j, regpath, &why) != 0) {
		/* The lines are in the rewritten file: nothing is lost. */
		log_warnx("%s", why);
		free(why);
	}
	path = regjournal_path(regpath);
	if (truncate(path, 0) == -1 && errno != ENOENT)
		log_warn("truncate %s (replayed again at the next start, which "
		    "does no harm)", path);
	free(path);
	j->lines = 0;
}

/* Close the journal. */
void
regjournal_close(struct regjournal *j)
{
	regjournal_wait(j);
	j->sync_errno = 0;
	if (j->fd != -1)
		close(j->fd);
	j->fd = -1;
}

/*
 * One line: its removals ("del": a UUID or a list of them), then its
 * records ("put").  NULL, or why the line is unusable (allocated).
 */
static char *
regjournal_apply(json_object *o, regjournal_put_fn put, regjournal_del_fn del,
    void *arg)
{
	json_object	*v, *d;
	char		*why = NULL;
	size_t		 i, n;
	int		 any = 0;

	if (o != NULL && json_object_object_get_ex(o, "del", &v)) {
		if (json_object_is_type(v, json_type_string))
			del(json_object_get_string(v), arg);
		else if (json_object_is_type(v, json_type_array)) {
			n = json_object_array_length(v);
			for (i = 0; i < n; i++) {
				d = json_object_array_get_idx(v, i);
				if (!json_object_is_type(d, json_type_string))
					return (xstrdup("a del that is not a "
					    "UUID"));
				del(json_object_get_string(d), arg);
			}
		} else
			return (xstrdup("a del that is not a UUID"));
		any = 1;
	}
	if (o != NULL && json_object_object_get_ex(o, "put", &v)) {
		put(v, arg, &why);
		any = 1;
	}
	if (!any)
		return (xstrdup("not a journal line"));
	return (why);
}

/* Replay the journal; see regjournal.h. */
int
regjournal_replay(struct regjournal *j, const char *regpath,
    regjournal_put_fn put, regjournal_del_fn del, void *arg, char **cause)
{
	json_object	*o;
	char		*path, *text, *line, *end, *why;
	size_t		 len, lineno = 0;

	path = regjournal_path(regpath);
	if ((text = atomicfile_read(path, REGJOURNAL_MAX, &len, cause)) ==
	    NULL) {
		free(path);
		return (*cause == NULL ? 0 : -1);
	}
	for (line = text; line < text + len; line = end + 1) {
		lineno++;
		if ((end = memchr(line, '\n', (size_t)(text + len - line))) ==
		    NULL) {
			/* Cut off, or the next line would be appended to it. */
			log_warnx("%s: line %zu was cut short (the daemon died "
			    "while writing it); ignored and cut off", path,
			    lineno);
			if (truncate(path, (off_t)(line - text)) == -1) {
				xasprintf(cause, "%s: cutting off line %zu, "
				    "cut short: %s", path, lineno,
				    strerror(errno));
				free(text);
				free(path);
				return (-1);
			}
			break;
		}
		*end = '\0';
		o = json_tokener_parse(line);
		why = regjournal_apply(o, put, del, arg);
		json_object_put(o);
		if (why != NULL) {
			xasprintf(cause, "%s: line %zu: %s", path, lineno, why);
			free(why);
			free(text);
			free(path);
			return (-1);
		}
		j->lines++;
	}
	free(text);
	free(path);
	return (0);
}
