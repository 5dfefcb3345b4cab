// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "kvio_net_frag": the TX fragment cache (vhost_net/frag.c).
 * Fragments are carved and freed as tun frees them (page_frag_free()), and
 * each case asserts which page the next fragment comes from and how many
 * fresh pages the cache took; KASAN and the page allocator's own checks
 * catch a page freed while a fragment still uses it.
 */
#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/string.h>

#include "../frag.h"

#define KT_FRAG		2048
#define KT_ALIGN	64

static void *kt_alloc(struct kunit *test, struct kvio_net_frags *f,
		      unsigned int size)
{
	void *p = kvio_net_frag_alloc(f, size, KT_ALIGN, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_EQ(test, (unsigned long)p % KT_ALIGN, 0UL);
	/* The whole fragment is the caller's: KASAN checks the write. */
	memset(p, 0xa5, size);
	return p;
}

/* Fragments of one page fill it, in order, without overlapping. */
static void frag_fills_one_page(struct kunit *test)
{
	struct kvio_net_frags *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	void *first, *p, *prev;
	unsigned int n, i;

	KUNIT_ASSERT_NOT_NULL(test, f);
	first = kt_alloc(test, f, KT_FRAG);
	n = f->slot[f->cur].size / KT_FRAG;
	prev = first;
	for (i = 1; i < n; i++) {
		p = kt_alloc(test, f, KT_FRAG);
		KUNIT_EXPECT_PTR_EQ(test, p, prev + KT_FRAG);
		KUNIT_EXPECT_PTR_EQ(test, virt_to_head_page(p),
				    virt_to_head_page(first));
		prev = p;
	}
	KUNIT_EXPECT_EQ(test, f->pages_allocated, 1UL);
	p = kt_alloc(test, f, KT_FRAG);
	KUNIT_EXPECT_PTR_NE(test, virt_to_head_page(p), virt_to_head_page(first));
	KUNIT_EXPECT_EQ(test, f->pages_allocated, 2UL);
	/* Free everything: the cache's pages go when it does. */
	page_frag_free(p);
	for (i = 0; i < n; i++)
		page_frag_free(first + i * KT_FRAG);
	kvio_net_frags_free(f);
}

/*
 * A page whose fragments all came back is used again: TX batches that
 * tun consumes before the cache comes round take no fresh page.
 */
static void frag_reuses_idle_pages(struct kunit *test)
{
	struct kvio_net_frags *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	void **batch;
	unsigned int per_batch, round, i;
	struct page *pages[KVIO_NET_FRAG_PAGES];

	KUNIT_ASSERT_NOT_NULL(test, f);
	/* Three pages' worth per batch, as 64 frames of 1500 bytes. */
	per_batch = 3 * (KVIO_NET_FRAG_PAGE_SIZE / KT_FRAG);
	batch = kunit_kcalloc(test, per_batch, sizeof(*batch), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, batch);
	for (round = 0; round < 10; round++) {
		for (i = 0; i < per_batch; i++)
			batch[i] = kt_alloc(test, f, KT_FRAG);
		for (i = 0; i < per_batch; i++)
			page_frag_free(batch[i]);
	}
	/* The first batch's pages and one more, then none. */
	KUNIT_EXPECT_LE(test, f->pages_allocated,
			(unsigned long)KVIO_NET_FRAG_PAGES);
	for (i = 0; i < KVIO_NET_FRAG_PAGES; i++)
		pages[i] = f->slot[i].page;
	for (i = 0; i < per_batch; i++)
		batch[i] = kt_alloc(test, f, KT_FRAG);
	for (i = 0; i < per_batch; i++) {
		struct page *pg = virt_to_head_page(batch[i]);

		KUNIT_EXPECT_TRUE(test, pg == pages[0] || pg == pages[1] ||
				  pg == pages[2] || pg == pages[3]);
		page_frag_free(batch[i]);
	}
	kvio_net_frags_free(f);
}

/*
 * Pages with a fragment still out are not reused: when every slot is
 * busy the oldest page is given up for a fresh one, and its fragment
 * stays valid until it is freed.
 */
static void frag_skips_busy_pages(struct kunit *test)
{
	struct kvio_net_frags *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	void *held[KVIO_NET_FRAG_PAGES + 1], *p;
	unsigned int i, j, n;

	KUNIT_ASSERT_NOT_NULL(test, f);
	for (i = 0; i <= KVIO_NET_FRAG_PAGES; i++) {
		/* One fragment of each page held, the rest freed. */
		held[i] = kt_alloc(test, f, KT_FRAG);
		n = f->slot[f->cur].size / KT_FRAG;
		for (j = 1; j < n; j++)
			page_frag_free(kt_alloc(test, f, KT_FRAG));
	}
	/* Every page was busy when the next was needed: all fresh. */
	KUNIT_EXPECT_EQ(test, f->pages_allocated,
			(unsigned long)KVIO_NET_FRAG_PAGES + 1);
	for (i = 0; i <= KVIO_NET_FRAG_PAGES; i++)
		for (j = i + 1; j <= KVIO_NET_FRAG_PAGES; j++)
			KUNIT_EXPECT_PTR_NE(test, virt_to_head_page(held[i]),
					    virt_to_head_page(held[j]));
	/* The first page left the cache but its fragment is still good. */
	memset(held[0], 0x5a, KT_FRAG);
	/*
	 * Freed, the second page is idle: the current page being full, the
	 * next fragment comes from it, and no fresh page is taken.
	 */
	page_frag_free(held[1]);
	p = kt_alloc(test, f, KT_FRAG);
	KUNIT_EXPECT_PTR_EQ(test, virt_to_head_page(p),
			    virt_to_head_page(held[1]));
	KUNIT_EXPECT_EQ(test, f->pages_allocated,
			(unsigned long)KVIO_NET_FRAG_PAGES + 1);
	/* Freeing the cache leaves pages with fragments out to them. */
	kvio_net_frags_free(f);
	page_frag_free(p);
	page_frag_free(held[0]);
	for (i = 2; i <= KVIO_NET_FRAG_PAGES; i++)
		page_frag_free(held[i]);
}

static struct kunit_case kvio_net_frag_cases[] = {
	KUNIT_CASE(frag_fills_one_page),
	KUNIT_CASE(frag_reuses_idle_pages),
	KUNIT_CASE(frag_skips_busy_pages),
	{}
};

static struct kunit_suite kvio_net_frag_suite = {
	.name = "kvio_net_frag",
	.test_cases = kvio_net_frag_cases,
};

kunit_test_suite(kvio_net_frag_suite);
