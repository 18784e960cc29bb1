/*
 * A framed, event-driven connection (modelled on tmux's proc.c peer).  The
 * owner gives a dispatch callback; it is called once per received envelope
 * and once with NULL when the peer is lost (EOF, error, protocol error or
 * after peer_close() has flushed).  The envelope passed to dispatch is owned
 * by the peer and freed as soon as the callback returns.  After the NULL
 * dispatch the owner must call peer_free() and nothing else; the owner must
 * never call peer_free() from a non-NULL dispatch (use peer_close()).
 *
 * Every message after the handshake must carry the negotiated protocol
 * version (peer_set_version()); a frame over the cap, bytes that are not an
 * envelope or a wrong version are answered with an INVALID_ARGUMENT reply
 * naming the reason, logged with an escaped sample, and the peer is closed.
 * Output is capped: a peer that does not read is dropped, not buffered
 * without bound.  EV_WRITE is armed only while output is queued.
 */
#ifndef EVG_PEER_H
#define EVG_PEER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "evg.pb-c.h"

struct peer;

typedef void	(*peer_dispatch_cb)(struct peer *, Evg__Envelope *, void *);

/*
 * Wrap a connected non-blocking fd (the peer takes ownership and closes it
 * in peer_free()).  name is copied and prefixes every log line.
 */
struct peer	*peer_create(struct event_base *, int, const char *, uint32_t,
		    size_t, peer_dispatch_cb, void *);
/* Close the fd and free everything; call only from the NULL dispatch or
 * when the peer was never handed to libevent callbacks. */
void		 peer_free(struct peer *);
/*
 * Queue an envelope (its version is set to the peer's).  A reply over the
 * channel's frame cap only because of its status message goes out with the
 * message cut to fit.  Returns 0, or -1 when the message is over the
 * channel's frame cap (the same cap as for
 * input: the other side could not read it) or the output cap is exceeded;
 * in the latter case the peer is closed.  A closing peer that has not taken
 * its queued output within 5 s is dropped.
 */
int		 peer_send(struct peer *, Evg__Envelope *);
/* Queue a final reply with a status code and message. */
int		 peer_reply(struct peer *, uint64_t, unsigned int, const char *);
/* Stop reading, flush queued output, then dispatch NULL. */
void		 peer_close(struct peer *);
/* Set the negotiated version every later message must carry. */
void		 peer_set_version(struct peer *, uint32_t);
uint32_t	 peer_version(const struct peer *);
const char	*peer_name(const struct peer *);
/* The channel's frame cap: the most a message to this peer may pack to. */
size_t		 peer_frame_max(const struct peer *);
int		 peer_fd(const struct peer *);
/* True once peer_close() was called or the peer failed. */
int		 peer_closing(const struct peer *);
/* Set the reason logged when the peer goes away. */
void		 peer_set_close_reason(struct peer *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
const char	*peer_close_reason(const struct peer *);

#endif
