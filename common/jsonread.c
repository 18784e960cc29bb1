/* Typed, range-checked reads of JSON members. */
#include "jsonread.h"

/* Member of a given type; see jsonread.h. */
json_object *
jsonread_typed(json_object *o, const char *key, json_type t)
{
	json_object	*v;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v,
	    t))
		return (NULL);
	return (v);
}

/* String member; see jsonread.h. */
const char *
jsonread_str(json_object *o, const char *key)
{
	json_object	*v;

	if ((v = jsonread_typed(o, key, json_type_string)) == NULL)
		return (NULL);
	return (json_object_get_string(v));
}

/* Bounded non-negative integer member; see jsonread.h. */
int
jsonread_u64(json_object *o, const char *key, uint64_t max, uint64_t *out)
{
	json_object	*v;
	int64_t		 i;
	uint64_t	 u;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || v == NULL)
		return (0);
	if (!json_object_is_type(v, json_type_int))
		return (-1);
	/* json-c keeps values past INT64_MAX unsigned; read both ways. */
	i = json_object_get_int64(v);
	if (i < 0)
		return (-1);
	u = i == INT64_MAX ? json_object_get_uint64(v) : (uint64_t)i;
	if (u > max)
		return (-1);
	*out = u;
	return (1);
}
