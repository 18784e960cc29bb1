/*
 * Framing: a 4-byte big-endian payload length, then the payload.  The
 * decoder is incremental and never blocks: feed it whatever bytes arrived
 * and it reports a complete frame, a need for more bytes, or a protocol
 * error.  The length cap is checked before any allocation.
 */
#ifndef EVG_FRAME_H
#define EVG_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_SIZE	4
/* Default caps: guest channel (DESIGN.md) and control channel. */
#define FRAME_MAX_GUEST		(64 * 1024)
#define FRAME_MAX_CONTROL	(1024 * 1024)
/* No channel may raise its cap past this. */
#define FRAME_MAX_LIMIT		(16 * 1024 * 1024)

enum frame_result {
	FRAME_OK,		/* a whole frame is ready */
	FRAME_NEED_MORE,	/* all input consumed, frame incomplete */
	FRAME_ERROR,		/* protocol error; stop reading */
};

enum frame_state {
	FRAME_STATE_HEADER,	/* collecting the 4 length bytes */
	FRAME_STATE_BODY,	/* collecting the payload */
	FRAME_STATE_FAILED,	/* an error was reported; nothing more */
};

struct frame_decoder {
	enum frame_state state;
	uint32_t	 max;		/* payload cap in bytes */
	uint8_t		 hdr[FRAME_HEADER_SIZE];
	size_t		 hdr_len;
	uint8_t		*body;		/* owned; exactly len bytes */
	uint32_t	 len;
	uint32_t	 have;
	char		 error[128];	/* why, after FRAME_ERROR */
};

/* Initialise with a payload cap (1..FRAME_MAX_LIMIT). */
void	frame_decoder_init(struct frame_decoder *, uint32_t);
/* Release the partial payload buffer, if any. */
void	frame_decoder_reset(struct frame_decoder *);

/*
 * Consume bytes from data[0..len).  *used is set to how many were taken.
 * On FRAME_OK the payload is handed to the caller in *payload (caller frees
 * with free()) and *payload_len; the caller calls again with the rest of
 * the input.  On FRAME_ERROR, dec->error says why.
 */
enum frame_result frame_decoder_feed(struct frame_decoder *, const void *,
	    size_t, size_t *, uint8_t **, uint32_t *);

/* True if a partial frame is buffered (a close now truncates it). */
int	frame_decoder_partial(const struct frame_decoder *);

/* Write the 4-byte header for a payload of len bytes into hdr. */
void	frame_put_header(uint8_t *, uint32_t);

#endif
