/* One page of a list reply; see page.h. */
#include "page.h"

/* A repeated field's item costs its bytes, a tag and a length. */
#define PAGE_ITEM_OVERHEAD	6

void
page_init(struct page *pg, size_t base, size_t room)
{
	pg->used = base;
	pg->room = room;
	pg->n = 0;
}

int
page_take(struct page *pg, size_t size)
{
	size_t	cost = size + PAGE_ITEM_OVERHEAD;

	if (pg->n > 0 && (cost > pg->room || pg->used > pg->room - cost))
		return (0);
	pg->used += cost;
	pg->n++;
	return (1);
}
