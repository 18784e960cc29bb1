/*
 * FNV-1a over a NUL-terminated string, for the open-addressing tables that
 * keep large lists linear (catalog load, snapshot groups, registry load).
 */
#ifndef EVG_STRHASH_H
#define EVG_STRHASH_H

#include <stddef.h>

/* The hash of s, its ASCII letters folded to lower case when fold is set. */
size_t	strhash(const char *, int);
/* The smallest power of two that is at least twice n (and 16), minus 1. */
size_t	strhash_mask(size_t);

#endif
