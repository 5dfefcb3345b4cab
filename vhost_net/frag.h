/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvio_net's TX fragment cache: the buffers batched TX frames are copied
 * into (tx.c), carved out of a few pages that are used again once every
 * frame in them has been freed.
 *
 * The kernel's page_frag_cache keeps one page: when it is used up it is
 * reused only if every fragment carved from it is free by then, and a TX
 * batch of KVIO_NET_BATCH frames of 1500 bytes fills four 32-KiB pages
 * before tun has seen the first one.  So each batch took fresh pages, and
 * a kernel with init_on_alloc (Debian's default) zeroes each one: 7 % of
 * the TX worker's time at 1500 bytes (Documentation/benchmarks.rst).  Here
 * the cache keeps KVIO_NET_FRAG_PAGES pages and, when it needs the next
 * one, takes the first of them whose fragments have all come back; only
 * when none has does it give up the oldest (it is freed when its last
 * fragment is) for a new page.
 *
 * A fragment is freed with page_frag_free() (put_page() of its head page),
 * by tun or the stack, from any context.  The cache itself belongs to one
 * ring: its caller serialises (the TX vq->mutex).
 */
#ifndef _KVIO_NET_FRAG_H
#define _KVIO_NET_FRAG_H

#include <linux/align.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/types.h>

/* Pages one cache keeps, each up to KVIO_NET_FRAG_PAGE_SIZE bytes. */
#define KVIO_NET_FRAG_PAGES	4
#define KVIO_NET_FRAG_PAGE_SIZE	32768

struct kvio_net_frag_page {
	struct page *page;	/* compound head, or NULL */
	unsigned int size;	/* bytes: 32 KiB, or PAGE_SIZE as a fallback */
	/*
	 * References the cache holds on the page: page_ref_count() is this
	 * plus one per fragment not yet freed, so equal means all are back.
	 */
	unsigned int bias;
};

struct kvio_net_frags {
	struct kvio_net_frag_page slot[KVIO_NET_FRAG_PAGES];
	unsigned int cur;	/* the slot being carved */
	unsigned int offset;	/* its next free byte */
	unsigned long pages_allocated;	/* fresh pages taken, for tests */
};

void *kvio_net_frag_alloc_slow(struct kvio_net_frags *f, unsigned int size,
			       gfp_t gfp);
void kvio_net_frags_free(struct kvio_net_frags *f);

/**
 * kvio_net_frag_alloc() - a buffer for one TX frame
 * @f: the ring's cache
 * @size: bytes, at most PAGE_SIZE
 * @align: alignment, a power of two
 * @gfp: allocation flags for a fresh page
 *
 * Inline: it runs once per TX frame, and all but one frame of a page's
 * worth only move the offset in the page being carved.
 *
 * Context: the ring's mutex held (the cache's only user); may sleep if
 * @gfp allows it.
 * Return: @size bytes in a page the fragment holds a reference on (freed
 * with page_frag_free()), or NULL if no page could be had.
 */
static inline void *kvio_net_frag_alloc(struct kvio_net_frags *f,
					unsigned int size, unsigned int align,
					gfp_t gfp)
{
	struct kvio_net_frag_page *s = &f->slot[f->cur];
	unsigned int off = ALIGN(f->offset, align);

	if (unlikely(!s->page || off > s->size || size > s->size - off))
		return kvio_net_frag_alloc_slow(f, size, gfp);
	f->offset = off + size;
	s->bias--;
	return page_address(s->page) + off;
}

#endif /* _KVIO_NET_FRAG_H */
