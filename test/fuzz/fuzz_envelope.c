/*
 * fuzz_envelope: codec_unpack() (common/codec.c) on a frame payload, as
 * both daemons decode every frame a peer sends.
 *
 * Proves: any bytes either decode to an envelope the host can copy, relay
 * and answer about, or are refused; nothing a peer sends survives decoding
 * that the daemon's own re-packing would turn into a frame that does not
 * decode (issue 10: the field-0 tag that stopped wf_copy_disk()), and no
 * string the daemon sends on is invalid UTF-8 (Go's decoder refuses the
 * whole message).
 *
 * Oracle: a decoded envelope re-packs with codec_frame(); that frame's
 * payload decodes again (unless the envelope had no body this version
 * knows, which codec_unpack() refuses once the unknown fields are gone);
 * packing that gives the same bytes (a fixpoint); every string in the
 * re-decoded envelope is valid UTF-8 and no message in it keeps unknown
 * fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "frame.h"
#include "fuzzutil.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Fail if m or a message inside it keeps unknown fields, or (utf8) if a
 * string in it is not valid UTF-8.
 */
static void
check_message(const ProtobufCMessage *m, int utf8)
{
	const char	*bad;
	size_t		 unknown = 0;

	bad = fuzz_bad_string(m, &unknown);
	if (unknown != 0)
		fuzz_fail("%s: %zu unknown fields left", m->descriptor->name,
		    unknown);
	if (utf8 && bad != NULL)
		fuzz_fail("%s: string field %s is not UTF-8",
		    m->descriptor->name, bad);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Evg__Envelope	*env, *again;
	uint8_t		*frame, *frame2;
	size_t		 len, len2;
	char		 err[128], *cause = NULL;

	if ((env = codec_unpack(data, size, err, sizeof err)) == NULL) {
		FUZZ_CHECK(err[0] != '\0');
		return (0);
	}
	FUZZ_CHECK(codec_body_name(env) != NULL);
	check_message(&env->base, 0);

	/* An envelope with nothing left in it cannot be framed: fine. */
	if ((frame = codec_frame(env, FRAME_MAX_LIMIT, &len, &cause)) == NULL) {
		FUZZ_CHECK(env->body_case == EVG__ENVELOPE__BODY__NOT_SET);
		free(cause);
		codec_free(env);
		return (0);
	}
	FUZZ_CHECK(len > FRAME_HEADER_SIZE);
	FUZZ_CHECK(((uint32_t)frame[0] << 24 | (uint32_t)frame[1] << 16 |
	    (uint32_t)frame[2] << 8 | frame[3]) == len - FRAME_HEADER_SIZE);

	again = codec_unpack(frame + FRAME_HEADER_SIZE, len - FRAME_HEADER_SIZE,
	    err, sizeof err);
	if (again == NULL) {
		/* Only a body this version does not know may vanish. */
		if (env->body_case != EVG__ENVELOPE__BODY__NOT_SET)
			fuzz_fail("re-packed %s envelope does not decode: %s",
			    codec_body_name(env), err);
		free(frame);
		codec_free(env);
		return (0);
	}
	FUZZ_CHECK(again->body_case == env->body_case);
	check_message(&again->base, 1);

	frame2 = codec_frame(again, FRAME_MAX_LIMIT, &len2, &cause);
	FUZZ_CHECK(frame2 != NULL);
	if (len2 != len || memcmp(frame, frame2, len) != 0)
		fuzz_fail("re-packing the %s envelope is not a fixpoint "
		    "(%zu then %zu bytes)", codec_body_name(env), len, len2);

	free(frame2);
	free(frame);
	codec_free(again);
	codec_free(env);
	return (0);
}
