/*
 * Blocking request/reply client for the CLIs (eve-guest-agent commands and
 * eve-guest-hostctl).  client_open() connects and performs the Hello
 * handshake; client_call() sends one request and waits for its final reply,
 * handing any events that arrive first to a callback.
 *
 * Failures return NULL/-1 with *cause set (caller frees) and *code set to
 * a status code, or to -1 when the host could not be reached at all (the
 * CLI then exits with EXIT_UNREACHABLE).
 */
#ifndef EVG_CLIENT_H
#define EVG_CLIENT_H

#include <stdint.h>

#include "evg.pb-c.h"
#include "transport.h"

#define CLIENT_UNREACHABLE	(-1)

struct client;

typedef void	(*client_event_cb)(const Evg__Envelope *, void *);

struct client	*client_open(const struct evg_addr *, Evg__Role, const char *,
		    int, uint32_t, int *, char **);
void		 client_close(struct client *);
/*
 * Send req (its id and version are filled in) and wait up to the client's
 * timeout for the reply with the same id.  The returned envelope is owned
 * by the caller (codec_free()); its body is a Reply.  Requests the host
 * sends meanwhile are passed to cb (may be NULL) and must be answered by
 * it with client_send().
 */
Evg__Envelope	*client_call(struct client *, Evg__Envelope *, client_event_cb,
		    void *, int *, char **);
/* Send an envelope without waiting (id kept if non-zero). */
int		 client_send(struct client *, Evg__Envelope *, char **);
/*
 * Wait up to timeout_ms (-1 forever) for the next envelope.  Returns NULL
 * with *cause on timeout, EOF or a protocol error.
 */
Evg__Envelope	*client_recv(struct client *, int, char **);
void		 client_set_timeout(struct client *, int);
uint32_t	 client_version(const struct client *);

#endif
