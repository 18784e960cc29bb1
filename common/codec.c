/* Envelope packing, unpacking and reply building. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "frame.h"
#include "status.h"
#include "text.h"
#include "xmalloc.h"

/* What codec_walk does to each message and string it visits. */
enum codec_walk_mode {
	CODEC_STRIP,		/* drop unknown fields */
	CODEC_CHECK,		/* count strings that are not UTF-8 */
	CODEC_FIX		/* replace invalid UTF-8 (owned copies only) */
};

static size_t	codec_walk(ProtobufCMessage *, enum codec_walk_mode);

/* Visit one present field value (a message or a string pointer). */
static size_t
codec_walk_value(const ProtobufCFieldDescriptor *f, void **value,
    enum codec_walk_mode mode)
{
	char	*str;
	size_t	 len;

	if (*value == NULL)
		return (0);
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return (codec_walk(*value, mode));
	if (f->type != PROTOBUF_C_TYPE_STRING || mode == CODEC_STRIP)
		return (0);
	str = *value;
	len = strlen(str);
	if (text_utf8_valid(str, len))
		return (0);
	if (mode == CODEC_FIX) {
		*value = text_utf8_fix(str, len);
		if (str != f->default_value)
			free(str);
	}
	return (1);
}

/*
 * Walk a message and every message inside it (oneof members only when
 * set).  Returns the number of invalid strings seen (CHECK, FIX).
 */
static size_t
codec_walk(ProtobufCMessage *m, enum codec_walk_mode mode)
{
	const ProtobufCMessageDescriptor	*d = m->descriptor;
	const ProtobufCFieldDescriptor		*f;
	char					*base = (char *)m;
	void					**arr;
	size_t					 i, j, n, bad = 0;

	if (mode == CODEC_STRIP && m->n_unknown_fields != 0) {
		for (i = 0; i < m->n_unknown_fields; i++)
			free(m->unknown_fields[i].data);
		free(m->unknown_fields);
		m->unknown_fields = NULL;
		m->n_unknown_fields = 0;
	}
	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE &&
		    f->type != PROTOBUF_C_TYPE_STRING)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (f->label != PROTOBUF_C_LABEL_REPEATED) {
			bad += codec_walk_value(f, (void **)(base + f->offset),
			    mode);
			continue;
		}
		n = *(size_t *)(base + f->quantifier_offset);
		arr = *(void ***)(base + f->offset);
		for (j = 0; j < n && arr != NULL; j++)
			bad += codec_walk_value(f, &arr[j], mode);
	}
	return (bad);
}

/* Drop unknown fields everywhere in an unpacked message; see codec.h. */
void
codec_strip_unknown(ProtobufCMessage *m)
{
	codec_walk(m, CODEC_STRIP);
}

/* Count strings that are not UTF-8; see codec.h. */
size_t
codec_invalid_strings(const ProtobufCMessage *m)
{
	return (codec_walk((ProtobufCMessage *)m, CODEC_CHECK));
}

/* Deep copy through the wire format; see codec.h. */
Evg__Envelope *
codec_copy(const Evg__Envelope *env)
{
	Evg__Envelope	*copy;
	uint8_t		*buf;
	size_t		 len;

	len = evg__envelope__get_packed_size(env);
	buf = xmalloc(len != 0 ? len : 1);
	evg__envelope__pack(env, buf);
	copy = evg__envelope__unpack(NULL, len, buf);
	free(buf);
	return (copy);
}

/*
 * A copy of env, owned by the caller (codec_free), whose strings are all
 * valid UTF-8; NULL if env does not survive a pack and unpack.
 */
static Evg__Envelope *
codec_fixed_copy(const Evg__Envelope *env)
{
	Evg__Envelope	*copy;

	if ((copy = codec_copy(env)) != NULL)
		codec_walk(&copy->base, CODEC_FIX);
	return (copy);
}

/*
 * Pack env as a frame; NULL with *cause if it exceeds max.  Strings that
 * are not valid UTF-8 go out repaired (a proto3 peer such as Go's decoder
 * rejects the whole message otherwise).
 */
uint8_t *
codec_frame(const Evg__Envelope *env, uint32_t max, size_t *len, char **cause)
{
	Evg__Envelope	*fixed = NULL;
	uint8_t		*buf;

	if (codec_invalid_strings(&env->base) != 0) {
		if ((fixed = codec_fixed_copy(env)) == NULL) {
			xasprintf(cause, "message cannot be packed");
			return (NULL);
		}
		env = fixed;
	}
	buf = codec_frame_verbatim(env, max, len, cause);
	codec_free(fixed);
	return (buf);
}

/* Pack env, as it is, into a frame; see codec.h. */
uint8_t *
codec_frame_verbatim(const Evg__Envelope *env, uint32_t max, size_t *len,
    char **cause)
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
	/* Dropped once, here: whatever is copied or relayed re-packs. */
	codec_strip_unknown(&env->base);
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
/* Code and message of a reply; see codec.h. */
unsigned int
codec_reply_code(const Evg__Envelope *env, const char **msg)
{
	const Evg__Reply	*r;

	if (msg != NULL)
		*msg = "";
	r = env != NULL && env->body_case == EVG__ENVELOPE__BODY_REPLY ?
	    env->reply : NULL;
	if (r == NULL || r->status == NULL)
		return (EVG_INTERNAL);
	if (msg != NULL && r->status->message != NULL)
		*msg = r->status->message;
	return (r->status->code);
}

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
