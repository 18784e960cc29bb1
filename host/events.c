/* Event backlog and broadcast to subscribers. */
#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "log.h"
#include "text.h"
#include "xmalloc.h"

struct events_sub {
	events_sink			 sink;
	void				*arg;
	TAILQ_ENTRY(events_sub)		 entry;
};

static Evg__Event	*events_ring[EVENTS_BACKLOG];
static const Evg__Event	*events_view[EVENTS_BACKLOG];
static size_t		 events_start, events_count;
static uint64_t		 events_seq;
static TAILQ_HEAD(, events_sub) events_subs =
    TAILQ_HEAD_INITIALIZER(events_subs);

/* Free one event. */
static void
events_free(Evg__Event *e)
{
	if (e == NULL)
		return;
	free(e->kind);
	free(e->vm_uuid);
	free(e->message);
	free(e->snapshot_uuid);
	free(e->snapshot_name);
	free(e->operation);
	free(e);
}

/* Copy an optional string ("" when NULL), valid UTF-8 and capped. */
static char *
events_dup(const char *s)
{
	if (s == NULL)
		return (xstrdup(""));
	return (text_cut(text_utf8_fix(s, strlen(s)), EVENTS_MESSAGE_MAX));
}

/* Record and broadcast; see events.h. */
void
events_emit(const char *kind, const char *vm, const char *op,
    const char *snap_uuid, const char *snap_name, int code,
    const char *fmt, ...)
{
	Evg__Event		*e;
	struct events_sub	*s, *next;
	va_list			 ap;
	size_t			 slot;
	char			*raw;

	e = xmalloc(sizeof *e);
	evg__event__init(e);
	e->time = (uint64_t)time(NULL);
	e->seq = ++events_seq;
	e->kind = events_dup(kind);
	e->vm_uuid = events_dup(vm);
	e->operation = events_dup(op);
	e->snapshot_uuid = events_dup(snap_uuid);
	e->snapshot_name = events_dup(snap_name);
	e->code = code;
	va_start(ap, fmt);
	xvasprintf(&raw, fmt, ap);
	va_end(ap);
	e->message = text_cut(text_utf8_fix(raw, strlen(raw)),
	    EVENTS_MESSAGE_MAX);
	free(raw);
	log_info("event %s: vm %s%s%s: %s", kind, e->vm_uuid,
	    *e->operation != '\0' ? " " : "", e->operation, e->message);

	slot = (events_start + events_count) % EVENTS_BACKLOG;
	if (events_count == EVENTS_BACKLOG) {
		events_free(events_ring[events_start]);
		events_start = (events_start + 1) % EVENTS_BACKLOG;
		slot = (events_start + events_count - 1) % EVENTS_BACKLOG;
	} else
		events_count++;
	events_ring[slot] = e;

	for (s = TAILQ_FIRST(&events_subs); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		s->sink(e, s->arg);
	}
}

/* Subscribe; see events.h. */
void
events_subscribe(events_sink sink, void *arg)
{
	struct events_sub	*s;

	s = xcalloc(1, sizeof *s);
	s->sink = sink;
	s->arg = arg;
	TAILQ_INSERT_TAIL(&events_subs, s, entry);
}

/* Unsubscribe everything of arg. */
void
events_unsubscribe(void *arg)
{
	struct events_sub	*s, *next;

	for (s = TAILQ_FIRST(&events_subs); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->arg == arg) {
			TAILQ_REMOVE(&events_subs, s, entry);
			free(s);
		}
	}
}

/* The backlog, oldest first. */
void
events_backlog(const Evg__Event ***list, size_t *n)
{
	size_t	i;

	for (i = 0; i < events_count; i++)
		events_view[i] = events_ring[(events_start + i) %
		    EVENTS_BACKLOG];
	*list = events_view;
	*n = events_count;
}

/* Free the backlog and the subscriptions. */
void
events_shutdown(void)
{
	struct events_sub	*s;
	size_t			 i;

	for (i = 0; i < events_count; i++)
		events_free(events_ring[(events_start + i) % EVENTS_BACKLOG]);
	events_count = events_start = 0;
	while ((s = TAILQ_FIRST(&events_subs)) != NULL) {
		TAILQ_REMOVE(&events_subs, s, entry);
		free(s);
	}
}
