/*
 * The host's event stream: every workflow step and guest (dis)connection
 * as an Event, kept in a bounded backlog (EVENTS_BACKLOG) and pushed to
 * every subscriber (control connections following the stream).  Events
 * are owned here; a sink gets a borrowed pointer valid during the call.
 */
#ifndef EVG_EVENTS_H
#define EVG_EVENTS_H

#include <stddef.h>

#include "evg.pb-c.h"

#define EVENTS_BACKLOG	256
/*
 * An event's message often quotes the guest (freeze refusals, hook paths
 * and output): it is kept as valid UTF-8 (bad bytes replaced) and cut to
 * this many bytes on a character boundary, so the whole backlog fits in
 * one control frame at the default cap.
 */
#define EVENTS_MESSAGE_MAX	1024

typedef void	(*events_sink)(const Evg__Event *, void *);

/*
 * Record and broadcast an event: kind, VM UUID, operation, snapshot UUID
 * and name (each may be NULL), a code (hook exit code or status) and a
 * printf-style message.
 */
void	events_emit(const char *, const char *, const char *, const char *,
	    const char *, int, const char *, ...)
	    __attribute__((format(printf, 7, 8)));
/* Add or remove a subscriber (arg identifies it). */
void	events_subscribe(events_sink, void *);
void	events_unsubscribe(void *);
/*
 * The backlog, oldest first (borrowed pointers).  A control reply that
 * cannot hold it all sends the newest that fit (control.c).
 */
void	events_backlog(const Evg__Event ***, size_t *);
void	events_shutdown(void);

#endif
