// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_net's TX fragment cache (frag.h says why it keeps several pages).
 */
#include <linux/align.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/page_ref.h>

#include "frag.h"

/*
 * The cache's references on a page it carves: more than the fragments one
 * page can hold, so the count never reaches zero while the cache holds it.
 */
#define KVIO_NET_FRAG_BIAS	(KVIO_NET_FRAG_PAGE_SIZE + 1)

/* Every fragment of @s freed: only the cache's references are left. */
static bool kvio_net_frag_idle(const struct kvio_net_frag_page *s)
{
	return s->page && page_ref_count(s->page) == s->bias;
}

/* Gives up the cache's references on @s's page (freed with its last one). */
static void kvio_net_frag_drop(struct kvio_net_frag_page *s)
{
	if (s->page)
		__page_frag_cache_drain(s->page, s->bias);
	s->page = NULL;
}

/*
 * A fresh page for slot @s: 32 KiB if the allocator has it at once, else
 * one page.  Never from the emergency reserves (__GFP_NOMEMALLOC): a page
 * kept for reuse must not be one the allocator wants back.
 */
static bool kvio_net_frag_refill(struct kvio_net_frags *f,
				 struct kvio_net_frag_page *s, gfp_t gfp)
{
	unsigned int order = get_order(KVIO_NET_FRAG_PAGE_SIZE);
	struct page *page = NULL;

	gfp |= __GFP_NOWARN | __GFP_NOMEMALLOC;
	if (order)
		page = alloc_pages((gfp & ~__GFP_DIRECT_RECLAIM) | __GFP_COMP |
				   __GFP_NORETRY, order);
	if (!page) {
		order = 0;
		page = alloc_pages(gfp, 0);
		if (!page)
			return false;
	}
	page_ref_add(page, KVIO_NET_FRAG_BIAS - 1);
	s->page = page;
	s->size = PAGE_SIZE << order;
	s->bias = KVIO_NET_FRAG_BIAS;
	f->pages_allocated++;
	return true;
}

/*
 * The current page cannot take the next fragment: move to the first slot
 * after it (the current one last) whose page is idle, topping its bias up
 * again, else replace the next slot's page with a fresh one.
 */
static struct kvio_net_frag_page *kvio_net_frag_next(struct kvio_net_frags *f,
						     gfp_t gfp)
{
	struct kvio_net_frag_page *s;
	unsigned int i, idx;

	for (i = 1; i <= KVIO_NET_FRAG_PAGES; i++) {
		idx = (f->cur + i) % KVIO_NET_FRAG_PAGES;
		s = &f->slot[idx];
		if (kvio_net_frag_idle(s)) {
			page_ref_add(s->page, KVIO_NET_FRAG_BIAS - s->bias);
			s->bias = KVIO_NET_FRAG_BIAS;
			goto found;
		}
	}
	idx = (f->cur + 1) % KVIO_NET_FRAG_PAGES;
	s = &f->slot[idx];
	kvio_net_frag_drop(s);
	if (!kvio_net_frag_refill(f, s, gfp))
		return NULL;
found:
	f->cur = idx;
	f->offset = 0;
	return s;
}

/*
 * kvio_net_frag_alloc() when the slot being carved has no room: the next
 * page (frag.h), @size bytes from its start.
 */
void *kvio_net_frag_alloc_slow(struct kvio_net_frags *f, unsigned int size,
			       gfp_t gfp)
{
	struct kvio_net_frag_page *s = kvio_net_frag_next(f, gfp);

	if (!s || size > s->size)
		return NULL;
	f->offset = size;
	s->bias--;
	return page_address(s->page);
}

/**
 * kvio_net_frags_free() - give up every page of a cache
 * @f: the cache; empty afterwards, usable again
 *
 * Fragments still out keep their pages until they are freed.
 *
 * Context: the cache's user is done with it; does not sleep.
 */
void kvio_net_frags_free(struct kvio_net_frags *f)
{
	unsigned int i;

	for (i = 0; i < KVIO_NET_FRAG_PAGES; i++)
		kvio_net_frag_drop(&f->slot[i]);
	f->cur = 0;
	f->offset = 0;
}
