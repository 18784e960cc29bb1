/* Incremental frame decoder and header encoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "xmalloc.h"

/* Initialise a decoder with a payload cap. */
void
frame_decoder_init(struct frame_decoder *dec, uint32_t max)
{
	memset(dec, 0, sizeof *dec);
	if (max == 0 || max > FRAME_MAX_LIMIT)
		max = FRAME_MAX_LIMIT;
	dec->max = max;
	dec->state = FRAME_STATE_HEADER;
}

/* Free any partial payload and start over at a frame boundary. */
void
frame_decoder_reset(struct frame_decoder *dec)
{
	free(dec->body);
	dec->body = NULL;
	dec->hdr_len = dec->len = dec->have = 0;
	if (dec->state != FRAME_STATE_FAILED)
		dec->state = FRAME_STATE_HEADER;
}

/* Mark the decoder failed (dec->error already says why). */
static enum frame_result
frame_fail(struct frame_decoder *dec)
{
	free(dec->body);
	dec->body = NULL;
	dec->state = FRAME_STATE_FAILED;
	return (FRAME_ERROR);
}

/* Consume input; see frame.h for the contract. */
enum frame_result
frame_decoder_feed(struct frame_decoder *dec, const void *data, size_t len,
    size_t *used, uint8_t **payload, uint32_t *payload_len)
{
	const uint8_t	*p = data;
	size_t		 n, off = 0;

	*used = 0;
	*payload = NULL;
	*payload_len = 0;
	if (dec->state == FRAME_STATE_FAILED)
		return (FRAME_ERROR);

	if (dec->state == FRAME_STATE_HEADER) {
		n = FRAME_HEADER_SIZE - dec->hdr_len;
		if (n > len)
			n = len;
		memcpy(dec->hdr + dec->hdr_len, p, n);
		dec->hdr_len += n;
		off += n;
		if (dec->hdr_len < FRAME_HEADER_SIZE) {
			*used = off;
			return (FRAME_NEED_MORE);
		}
		dec->len = (uint32_t)dec->hdr[0] << 24 |
		    (uint32_t)dec->hdr[1] << 16 |
		    (uint32_t)dec->hdr[2] << 8 | (uint32_t)dec->hdr[3];
		*used = off;
		if (dec->len == 0) {
			snprintf(dec->error, sizeof dec->error,
			    "zero-length frame");
			return (frame_fail(dec));
		}
		if (dec->len > dec->max) {
			snprintf(dec->error, sizeof dec->error,
			    "frame of %u bytes exceeds the %u-byte cap",
			    dec->len, dec->max);
			return (frame_fail(dec));
		}
		dec->body = xmalloc(dec->len);
		dec->have = 0;
		dec->state = FRAME_STATE_BODY;
	}

	n = dec->len - dec->have;
	if (n > len - off)
		n = len - off;
	memcpy(dec->body + dec->have, p + off, n);
	dec->have += (uint32_t)n;
	off += n;
	*used = off;
	if (dec->have < dec->len)
		return (FRAME_NEED_MORE);

	*payload = dec->body;
	*payload_len = dec->len;
	dec->body = NULL;
	dec->hdr_len = dec->len = dec->have = 0;
	dec->state = FRAME_STATE_HEADER;
	return (FRAME_OK);
}

/* True while a frame has been started but not finished. */
int
frame_decoder_partial(const struct frame_decoder *dec)
{
	return (dec->state == FRAME_STATE_BODY ||
	    (dec->state == FRAME_STATE_HEADER && dec->hdr_len > 0));
}

/* Encode a big-endian payload length. */
void
frame_put_header(uint8_t *hdr, uint32_t len)
{
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
}
