/*
 * An index of items by UUID (compared case-insensitively, as the registry
 * and the catalogs compare them): open addressing with linear probing,
 * grown to stay at most half full, deletion by backward shift.  Keeps a
 * lookup among thousands of VMs a hash away instead of a list walk.
 *
 * Ownership: the index holds pointers to the items and to their UUID
 * strings, which must stay valid while the item is in it; it owns only
 * its table.
 */
#ifndef EVG_UUIDX_H
#define EVG_UUIDX_H

#include <stddef.h>

struct uuidx_slot {
	const char	*uuid;
	void		*item;
};

struct uuidx {
	struct uuidx_slot	*slots;
	size_t			 mask;	/* size - 1; 0: no table yet */
	size_t			 n;
};

/* Enter item under uuid (the string stays the item's); replaces. */
void	 uuidx_put(struct uuidx *, const char *, void *);
/* The item under uuid, or NULL. */
void	*uuidx_get(const struct uuidx *, const char *);
/* Remove what is under uuid (nothing there is fine). */
void	 uuidx_del(struct uuidx *, const char *);
void	 uuidx_clear(struct uuidx *);

#endif
