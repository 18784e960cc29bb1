/* An index of items by UUID; see uuidx.h. */
#include <stdlib.h>
#include <string.h>

#include "strhash.h"
#include "uuidx.h"
#include "xmalloc.h"

/* The slot holding uuid, or the empty one where it would go. */
static size_t
uuidx_slot(const struct uuidx *x, const char *uuid)
{
	size_t	h;

	for (h = strhash(uuid, 1) & x->mask; x->slots[h].uuid != NULL;
	    h = (h + 1) & x->mask)
		if (strcasecmp(x->slots[h].uuid, uuid) == 0)
			break;
	return (h);
}

/* Twice the size (16 at first), every entry placed again. */
static void
uuidx_grow(struct uuidx *x)
{
	struct uuidx_slot	*old = x->slots;
	size_t			 oldsize = old != NULL ? x->mask + 1 : 0, i, h;

	x->mask = oldsize == 0 ? 15 : 2 * oldsize - 1;
	x->slots = xcalloc(x->mask + 1, sizeof *x->slots);
	for (i = 0; i < oldsize; i++) {
		if (old[i].uuid == NULL)
			continue;
		h = uuidx_slot(x, old[i].uuid);
		x->slots[h] = old[i];
	}
	free(old);
}

void
uuidx_put(struct uuidx *x, const char *uuid, void *item)
{
	size_t	h;

	if (x->slots == NULL || 2 * (x->n + 1) > x->mask + 1)
		uuidx_grow(x);
	h = uuidx_slot(x, uuid);
	if (x->slots[h].uuid == NULL)
		x->n++;
	x->slots[h].uuid = uuid;
	x->slots[h].item = item;
}

void *
uuidx_get(const struct uuidx *x, const char *uuid)
{
	size_t	h;

	if (x->slots == NULL || uuid == NULL)
		return (NULL);
	h = uuidx_slot(x, uuid);
	return (x->slots[h].uuid != NULL ? x->slots[h].item : NULL);
}

void
uuidx_del(struct uuidx *x, const char *uuid)
{
	size_t	h, i, want;

	if (x->slots == NULL)
		return;
	h = uuidx_slot(x, uuid);
	if (x->slots[h].uuid == NULL)
		return;
	x->slots[h].uuid = NULL;
	x->n--;
	/* Backward shift: move up what probed past the hole. */
	for (i = (h + 1) & x->mask; x->slots[i].uuid != NULL;
	    i = (i + 1) & x->mask) {
		want = strhash(x->slots[i].uuid, 1) & x->mask;
		/* Does i's entry belong at or before the hole h? */
		if (((i - want) & x->mask) >= ((i - h) & x->mask)) {
			x->slots[h] = x->slots[i];
			x->slots[i].uuid = NULL;
			h = i;
		}
	}
}

void
uuidx_clear(struct uuidx *x)
{
	free(x->slots);
	memset(x, 0, sizeof *x);
}
