/* The shared Hello handling of guest and control connections. */
#include <stdio.h>

#include "codec.h"
#include "handshake.h"
#include "log.h"
#include "peer.h"
#include "status.h"

/* Answer a Hello; see handshake.h. */
int
handshake_answer(struct peer *peer, Evg__Envelope *env, Evg__Role *role)
{
	struct codec_reply	 r;
	Evg__HelloAck		 ack = EVG__HELLO_ACK__INIT;
	uint32_t		 v;
	char			 msg[160];

	if (env->body_case != EVG__ENVELOPE__BODY_HELLO) {
		snprintf(msg, sizeof msg, "the first message must be hello, "
		    "not %s", codec_body_name(env));
		goto refuse;
	}
	v = codec_negotiate(env->hello->min_version, env->hello->max_version);
	if (v == 0) {
		snprintf(msg, sizeof msg, "protocol versions %u..%u are not "
		    "supported (this host speaks %u..%u)",
		    env->hello->min_version, env->hello->max_version,
		    PROTO_VERSION_MIN, PROTO_VERSION_MAX);
		log_warnx("%s: %s", peer_name(peer), msg);
		peer_set_close_reason(peer, "%s", msg);
		peer_reply(peer, env->id, EVG_UNSUPPORTED, msg);
		peer_close(peer);
		return (-1);
	}
	peer_set_version(peer, v);
	*role = env->hello->role;
	ack.version = v;
	ack.software = (char *)"eve-guest-hostd " EVG_VERSION;
	codec_reply_init(&r, env->id, v, EVG_OK, "");
	r.reply.result_case = EVG__REPLY__RESULT_HELLO_ACK;
	r.reply.hello_ack = &ack;
	peer_send(peer, &r.env);
	return (0);
refuse:
	log_warnx("%s: %s", peer_name(peer), msg);
	peer_set_close_reason(peer, "%s", msg);
	peer_reply(peer, env->id, EVG_FAILED_PRECONDITION, msg);
	peer_close(peer);
	return (-1);
}
