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
#include "text.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Fail unless m and every message inside it have no unknown fields. */
static void
check_no_unknown(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor	*d = m->descriptor;
	const ProtobufCFieldDescriptor		*f;
	const char				*base = (const char *)m;
	void *const				*arr;
	size_t					 i, j, n;

	FUZZ_CHECK(m->n_unknown_fields == 0);
	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (f->label != PROTOBUF_C_LABEL_REPEATED) {
			if (*(void *const *)(base + f->offset) != NULL)
				check_no_unknown(*(void *const *)(base +
				    f->offset));
			continue;
		}
		n = *(const size_t *)(base + f->quantifier_offset);
		arr = *(void *const *const *)(base + f->offset);
		for (j = 0; j < n; j++)
			check_no_unknown(arr[j]);
	}
}

/* Fail unless every string in m and the messages inside it is UTF-8. */
static void
check_utf8(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor	*d = m->descriptor;
	const ProtobufCFieldDescriptor		*f;
	const char				*base = (const char *)m;
	const char				*s;
	void *const				*arr;
	size_t					 i, j, n;

	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE &&
		    f->type != PROTOBUF_C_TYPE_STRING)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (f->label != PROTOBUF_C_LABEL_REPEATED) {
			n = 1;
			arr = (void *const *)(base + f->offset);
		} else {
			n = *(const size_t *)(base + f->quantifier_offset);
			arr = *(void *const *const *)(base + f->offset);
		}
		for (j = 0; j < n; j++) {
			if (arr[j] == NULL)
				continue;
			if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
				check_utf8(arr[j]);
				continue;
			}
			s = arr[j];
			if (!text_utf8_valid(s, strlen(s)))
				fuzz_fail("%s.%s: string is not UTF-8",
				    d->name, f->name);
		}
	}
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
	check_no_unknown(&env->base);

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
	check_no_unknown(&again->base);
	check_utf8(&again->base);

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
