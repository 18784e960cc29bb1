/*
 * fuzz_frame: the incremental frame decoder (common/frame.c) on a byte
 * stream cut into reads at places the fuzzer picks.
 *
 * Proves: however a peer's bytes arrive split across reads (empty reads
 * included), the decoder yields the same frames and fails at the same
 * frame with the same reason; it never reads or writes out of bounds,
 * leaks a partial payload, or allocates a payload over its cap.
 *
 * Oracle: the record of what the decoder produced (each frame's bytes,
 * the error, whether a frame was left partial) fed in pieces equals the
 * record fed whole; every call takes no more than it was given, and all
 * of it when it asks for more.
 *
 * Input: byte 0 picks the cap, then the cut points (fuzzutil.h), then the
 * stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "fuzzutil.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* What a decoder produced, as bytes to compare. */
struct record {
	uint8_t	*buf;
	size_t	 len;
};

/* Append bytes to a record. */
static void
record_add(struct record *r, const void *p, size_t len)
{
	r->buf = xreallocarray(r->buf, r->len + len + 1, 1);
	if (len != 0)
		memcpy(r->buf + r->len, p, len);
	r->len += len;
}

/*
 * Feed one piece until it is used up or the decoder fails.  Returns 0 to
 * go on, -1 once the decoder has failed.
 */
static int
feed_piece(struct frame_decoder *dec, const uint8_t *p, size_t len,
    struct record *r)
{
	enum frame_result	 fr;
	uint8_t			*payload;
	uint32_t		 plen;
	size_t			 used, off = 0;

	do {
		fr = frame_decoder_feed(dec, p + off, len - off, &used,
		    &payload, &plen);
		FUZZ_CHECK(used <= len - off);
		off += used;
		switch (fr) {
		case FRAME_OK:
			FUZZ_CHECK(payload != NULL && plen > 0 &&
			    plen <= dec->max);
			record_add(r, "F", 1);
			record_add(r, &plen, sizeof plen);
			record_add(r, payload, plen);
			free(payload);
			break;
		case FRAME_NEED_MORE:
			FUZZ_CHECK(payload == NULL && off == len);
			break;
		case FRAME_ERROR:
			FUZZ_CHECK(payload == NULL && dec->error[0] != '\0');
			record_add(r, "E", 1);
			record_add(r, dec->error, strlen(dec->error));
			return (-1);
		}
	} while (off < len);
	return (0);
}

/* Decode the stream in the pieces the cuts make; record the outcome. */
static void
decode(uint32_t cap, const uint8_t *data, size_t size, const size_t *cuts,
    size_t ncuts, struct record *r)
{
	struct frame_decoder	dec;
	size_t			i, from = 0, to;

	frame_decoder_init(&dec, cap);
	for (i = 0; i <= ncuts; i++) {
		to = i < ncuts ? cuts[i] : size;
		if (feed_piece(&dec, data + from, to - from, r) == -1)
			break;
		from = to;
	}
	record_add(r, frame_decoder_partial(&dec) ? "P" : "-", 1);
	frame_decoder_reset(&dec);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t	 caps[] = { 1, 16, 1024, FRAME_MAX_GUEST };
	struct record		 whole = { NULL, 0 }, split = { NULL, 0 };
	size_t			 cuts[FUZZ_CUTS_MAX], ncuts;
	uint32_t		 cap;

	if (size == 0)
		return (0);
	cap = caps[data[0] % (sizeof caps / sizeof caps[0])];
	data++;
	size--;
	ncuts = fuzz_cuts(&data, &size, cuts);

	decode(cap, data, size, NULL, 0, &whole);
	decode(cap, data, size, cuts, ncuts, &split);
	FUZZ_CHECK(whole.len == split.len &&
	    memcmp(whole.buf, split.buf, whole.len) == 0);
	free(whole.buf);
	free(split.buf);
	return (0);
}
