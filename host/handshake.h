/*
 * The Hello exchange every connection starts with (guest sessions and
 * control connections alike): version negotiation and the HelloAck.
 */
#ifndef EVG_HANDSHAKE_H
#define EVG_HANDSHAKE_H

#include "evg.pb-c.h"

struct peer;

/*
 * Answer a Hello on a new connection: negotiate the version, reply with
 * HelloAck and return 0 with *role set; on a bad Hello reply with the
 * reason, close the peer and return -1.
 */
int	handshake_answer(struct peer *, Evg__Envelope *, Evg__Role *);

#endif
