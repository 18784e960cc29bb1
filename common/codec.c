/* Envelope packing, unpacking and reply building. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "frame.h"
#include "xmalloc.h"

/* Pack env as a frame; NULL with *cause if it exceeds max. */
uint8_t *
codec_frame(const Evg__Envelope *env, uint32_t max, size_t *len, char **cause)
{
	size_t	 plen;
	uint8_t	*buf;

	plen = evg__envelope__get_packed_size(env);
	if (plen == 0) {
		xasprintf(cause, "empty message (no body) cannot be framed");
		return (NULL);
	}
	if (plen > max) {
		xasprintf(cause, "message of %zu bytes exceeds the %u-byte "
		    "frame cap", plen, max);
		return (NULL);
	}
	buf = xmalloc(FRAME_HEADER_SIZE + plen);
	frame_put_header(buf, (uint32_t)plen);
	evg__envelope__pack(env, buf + FRAME_HEADER_SIZE);
	*len = FRAME_HEADER_SIZE + plen;
	return (buf);
}

/* Unpack a payload; NULL with err filled when it is not a usable envelope. */
Evg__Envelope *
codec_unpack(const uint8_t *data, size_t len, char *err, size_t errlen)
{
	Evg__Envelope	*env;

	env = evg__envelope__unpack(NULL, len, data);
	if (env == NULL) {
		snprintf(err, errlen, "payload is not a protobuf envelope");
		return (NULL);
	}
	/* Unknown fields alone: a request from a newer peer (UNSUPPORTED). */
	if (env->body_case == EVG__ENVELOPE__BODY__NOT_SET &&
	    env->base.n_unknown_fields == 0) {
		snprintf(err, errlen, "envelope carries no known body");
		codec_free(env);
		return (NULL);
	}
	return (env);
}

/* Free an unpacked envelope. */
void
codec_free(Evg__Envelope *env)
{
	if (env != NULL)
		evg__envelope__free_unpacked(env, NULL);
}

/* Body name for log lines. */
const char *
codec_body_name(const Evg__Envelope *env)
{
	const ProtobufCFieldDescriptor	*fd;

	if (env->body_case == EVG__ENVELOPE__BODY__NOT_SET)
		return ("none");
	fd = protobuf_c_message_descriptor_get_field(&evg__envelope__descriptor,
	    (unsigned)env->body_case);
	return (fd != NULL ? fd->name : "unknown");
}

/* Build a reply envelope with a status in caller storage. */
void
codec_reply_init(struct codec_reply *r, uint64_t id, uint32_t version,
    unsigned int code, const char *message)
{
	evg__envelope__init(&r->env);
	evg__reply__init(&r->reply);
	evg__status__init(&r->status);
	r->status.code = code;
	r->status.message = (char *)(message != NULL ? message : "");
	r->reply.status = &r->status;
	r->env.id = id;
	r->env.version = version;
	r->env.body_case = EVG__ENVELOPE__BODY_REPLY;
	r->env.reply = &r->reply;
}

/* Highest common protocol version, or 0. */
uint32_t
codec_negotiate(uint32_t min, uint32_t max)
{
	uint32_t	hi = max < PROTO_VERSION_MAX ? max : PROTO_VERSION_MAX;

	if (min > hi || hi < PROTO_VERSION_MIN)
		return (0);
	return (hi);
}
