/*
 * Envelope codec: protobuf-c packing into frames and unpacking from frame
 * payloads, plus builders for the replies every request gets.  An unpacked
 * envelope is owned by whoever called codec_unpack() and is released with
 * codec_free(), once, right after dispatch.
 */
#ifndef EVG_CODEC_H
#define EVG_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "evg.pb-c.h"

/* Protocol versions this build speaks (inclusive). */
#define PROTO_VERSION_MIN	1
#define PROTO_VERSION_MAX	1

/*
 * Pack env into a new buffer holding one whole frame (header + payload).
 * Strings that are not valid UTF-8 are sent with each bad byte replaced by
 * U+FFFD (env itself is not changed).  Returns NULL and sets *cause (caller frees) when the payload would exceed
 * max bytes.  The caller frees the buffer.
 */
uint8_t		*codec_frame(const Evg__Envelope *, uint32_t, size_t *,
		    char **);
/*
 * The same without the repair: a client's request goes out as the user
 * typed it, so the daemon, which checks every name, names what is wrong
 * (a repaired name would be accepted with U+FFFD in it).
 */
uint8_t		*codec_frame_verbatim(const Evg__Envelope *, uint32_t, size_t *,
		    char **);
/*
 * Unpack one frame payload.  Unknown fields are dropped everywhere in the
 * result (after the body check below), so every envelope it returns, and
 * every message inside it, re-packs and unpacks to the same thing.  Returns NULL with a reason in err when the
 * bytes are not an envelope or carry nothing at all.  An envelope whose
 * body is a field this version does not know comes back with body_case
 * NOT_SET, so the receiver can answer UNSUPPORTED.
 */
Evg__Envelope	*codec_unpack(const uint8_t *, size_t, char *, size_t);
/*
 * A deep copy of env through the wire format, owned by the caller
 * (codec_free()); NULL if it does not survive a pack and unpack (never
 * for one from codec_unpack(), whose unknown fields are gone).
 */
Evg__Envelope	*codec_copy(const Evg__Envelope *);
/* Drop unknown fields in m and every message inside it (owned by unpack). */
void		 codec_strip_unknown(ProtobufCMessage *);
/* Number of strings in m and the messages inside it that are not UTF-8. */
size_t		 codec_invalid_strings(const ProtobufCMessage *);
/* Free an envelope from codec_unpack(); NULL is fine. */
void		 codec_free(Evg__Envelope *);
/* Name of the body case, for logs ("hello", "vm_add", ...). */
const char	*codec_body_name(const Evg__Envelope *);

/*
 * Storage for a reply built on the stack: fill with codec_reply_init(),
 * then set reply.result_case and the result pointer if any.
 */
struct codec_reply {
	Evg__Envelope	 env;
	Evg__Reply	 reply;
	Evg__Status	 status;
};
void		 codec_reply_init(struct codec_reply *, uint64_t, uint32_t,
		    unsigned int, const char *);
/*
 * Status code and message of a reply envelope: EVG_INTERNAL and "" when
 * env is not a reply or carries no status.  *msg (may be NULL) points
 * into env.
 */
unsigned int	 codec_reply_code(const Evg__Envelope *, const char **);

/*
 * Pick the highest version in both [min, max] and ours.  Returns 0 when the
 * ranges do not meet.
 */
uint32_t	 codec_negotiate(uint32_t, uint32_t);

#endif
