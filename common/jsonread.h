/*
 * Typed reads of JSON a peer wrote (QMP, qemu-img, state files): a member
 * is returned only when it has the type asked for and is in range, so a
 * null, an array or a huge number where a string or a count belongs is
 * "absent or wrong", never a crash or a wrapped value.  Nothing returned
 * is owned by the caller: it lives as long as the object.
 */
#ifndef EVG_JSONREAD_H
#define EVG_JSONREAD_H

#include <stdint.h>

#include <json-c/json.h>

/* The string member key of o; NULL when o is not an object, key is absent
 * or its value is not a string. */
const char	*jsonread_str(json_object *, const char *);
/* The member key of o when it has type t; NULL otherwise. */
json_object	*jsonread_typed(json_object *, const char *, json_type);
/*
 * The integer member key of o in [0, max] into *out.  Returns 1, 0 when o
 * is not an object or key is absent or null, and -1 when the value is not
 * an integer or is out of range (*out untouched).
 */
int		 jsonread_u64(json_object *, const char *, uint64_t,
		    uint64_t *);

#endif
