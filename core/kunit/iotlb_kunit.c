// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "kvio_iotlb": the range map behind the memory table (no
 * flags: overlaps refused) and the device IOTLB (KVIO_IOTLB_RETIRE: a new
 * range replaces what it overlaps), through kvio_core's exported API.
 */
#include <kunit/test.h>
#include <linux/list.h>

#include <kvio/iotlb.h>

static int kt_iotlb_init(struct kunit *test)
{
	test->priv = NULL;
	return 0;
}

static void kt_iotlb_exit(struct kunit *test)
{
	kvio_iotlb_free(test->priv);
}

static struct kvio_iotlb *kt_alloc(struct kunit *test, unsigned int limit,
				   unsigned int flags)
{
	struct kvio_iotlb *tlb = kvio_iotlb_alloc(limit, flags);

	KUNIT_ASSERT_NOT_NULL(test, tlb);
	test->priv = tlb;
	return tlb;
}

/* The map holding the single address @addr, or NULL. */
static struct kvio_iotlb_map *kt_at(struct kvio_iotlb *tlb, u64 addr)
{
	return kvio_iotlb_itree_first(tlb, addr, addr);
}

static void iotlb_add_lookup(struct kunit *test)
{
	struct kvio_iotlb *tlb = kt_alloc(test, 0, 0);
	struct kvio_iotlb_map *map;

	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0x1000, 0x1fff,
						   0x7f0000000000,
						   KVIO_PERM_RW), 0);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 1u);
	map = kt_at(tlb, 0x1000);
	KUNIT_ASSERT_NOT_NULL(test, map);
	KUNIT_EXPECT_EQ(test, map->start, 0x1000ULL);
	KUNIT_EXPECT_EQ(test, map->last, 0x1fffULL);
	KUNIT_EXPECT_EQ(test, map->addr, 0x7f0000000000ULL);
	KUNIT_EXPECT_EQ(test, map->perm, (u32)KVIO_PERM_RW);
	KUNIT_EXPECT_PTR_EQ(test, kt_at(tlb, 0x1fff), map);
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0xfff));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x2000));
	/* A range query finds a map it only touches. */
	KUNIT_EXPECT_PTR_EQ(test, kvio_iotlb_itree_first(tlb, 0, 0x1000), map);
	KUNIT_EXPECT_PTR_EQ(test, kvio_iotlb_itree_first(tlb, 0x1fff, U64_MAX),
			    map);
}

static void iotlb_add_invalid(struct kunit *test)
{
	struct kvio_iotlb *tlb = kt_alloc(test, 0, 0);

	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0x2000, 0x1fff, 0,
						   KVIO_PERM_RW), -EINVAL);
	/* The translation of the last byte would pass 2^64. */
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0, 0xfff,
						   U64_MAX - 0xffe,
						   KVIO_PERM_RW), -EINVAL);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 0u);
	/* Ending exactly at 2^64 - 1 is fine. */
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0, 0xfff,
						   U64_MAX - 0xfff,
						   KVIO_PERM_RW), 0);
	/* A single byte. */
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0x5000, 0x5000, 0,
						   KVIO_PERM_RO), 0);
	KUNIT_EXPECT_NOT_NULL(test, kt_at(tlb, 0x5000));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x5001));
}

static void iotlb_overlap_refused(struct kunit *test)
{
	struct kvio_iotlb *tlb = kt_alloc(test, 0, 0);

	KUNIT_ASSERT_EQ(test, kvio_iotlb_add_range(tlb, 0x1000, 0x1fff, 0,
						   KVIO_PERM_RW), 0);
	/* Partial at either end, inside, around, one shared byte. */
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0x800, 0x17ff, 0,
						   KVIO_PERM_RW), -EEXIST);
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0x1800, 0x27ff, 0,
						   KVIO_PERM_RW), -EEXIST);
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0x1100, 0x11ff, 0,
						   KVIO_PERM_RW), -EEXIST);
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0, U64_MAX, 0,
						   KVIO_PERM_RW), -EEXIST);
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0x1fff, 0x1fff, 0,
						   KVIO_PERM_RW), -EEXIST);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 1u);
	/* Adjacent on both sides. */
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0x2000, 0x2fff, 0,
						   KVIO_PERM_RW), 0);
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0, 0xfff, 0,
						   KVIO_PERM_RW), 0);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 3u);
}

static void iotlb_overlap_retires(struct kunit *test)
{
	struct kvio_iotlb *tlb = kt_alloc(test, 0, KVIO_IOTLB_RETIRE);
	struct kvio_iotlb_map *map;

	KUNIT_ASSERT_EQ(test, kvio_iotlb_add_range(tlb, 0x1000, 0x1fff, 0x100,
						   KVIO_PERM_RW), 0);
	KUNIT_ASSERT_EQ(test, kvio_iotlb_add_range(tlb, 0x3000, 0x3fff, 0x300,
						   KVIO_PERM_RW), 0);
	KUNIT_ASSERT_EQ(test, kvio_iotlb_add_range(tlb, 0x5000, 0x5fff, 0x500,
						   KVIO_PERM_RW), 0);
	/* Touches the first two: both go, whole; the third stays. */
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0x1800, 0x37ff, 0x900,
						   KVIO_PERM_RO), 0);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 2u);
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x1000));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x3800));
	map = kt_at(tlb, 0x2000);
	KUNIT_ASSERT_NOT_NULL(test, map);
	KUNIT_EXPECT_EQ(test, map->start, 0x1800ULL);
	KUNIT_EXPECT_EQ(test, map->addr, 0x900ULL);
	KUNIT_EXPECT_EQ(test, map->perm, (u32)KVIO_PERM_RO);
	KUNIT_EXPECT_NOT_NULL(test, kt_at(tlb, 0x5000));
	/* The same range again replaces it. */
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0x1800, 0x37ff, 0xa00,
						   KVIO_PERM_WO), 0);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 2u);
	KUNIT_EXPECT_EQ(test, kt_at(tlb, 0x1800)->addr, 0xa00ULL);
}

static void iotlb_limit(struct kunit *test)
{
	struct kvio_iotlb *tlb = kt_alloc(test, 2, KVIO_IOTLB_RETIRE);

	KUNIT_ASSERT_EQ(test, kvio_iotlb_add_range(tlb, 0x1000, 0x1fff, 0,
						   KVIO_PERM_RW), 0);
	KUNIT_ASSERT_EQ(test, kvio_iotlb_add_range(tlb, 0x2000, 0x2fff, 0,
						   KVIO_PERM_RW), 0);
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0x3000, 0x3fff, 0,
						   KVIO_PERM_RW), -ENOSPC);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 2u);
	/* Full, but the new range retires one first: room for it. */
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0x2800, 0x37ff, 0,
						   KVIO_PERM_RW), 0);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 2u);
	kvio_iotlb_del_range(tlb, 0x1000, 0x1000);
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0x3800, 0x3fff, 0,
						   KVIO_PERM_RW), 0);
}

static void iotlb_del_range(struct kunit *test)
{
	struct kvio_iotlb *tlb = kt_alloc(test, 0, 0);
	u64 a;

	kvio_iotlb_del_range(tlb, 0, U64_MAX);	/* empty: nothing */
	for (a = 0x1000; a < 0x6000; a += 0x1000)
		KUNIT_ASSERT_EQ(test, kvio_iotlb_add_range(tlb, a, a + 0xfff, a,
							   KVIO_PERM_RW), 0);
	/* One byte of a map removes all of it. */
	kvio_iotlb_del_range(tlb, 0x1fff, 0x1fff);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 4u);
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x1000));
	/* Spanning the end of one and the start of another: both. */
	kvio_iotlb_del_range(tlb, 0x2fff, 0x3000);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 2u);
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x2000));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x3fff));
	/* A hole: nothing. */
	kvio_iotlb_del_range(tlb, 0x6000, 0x7fff);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 2u);
	kvio_iotlb_del_range(tlb, 0, U64_MAX);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 0u);
	KUNIT_EXPECT_TRUE(test, list_empty(&tlb->list));
}

static void iotlb_iteration(struct kunit *test)
{
	static const u64 starts[] = { 0x5000, 0x1000, 0x9000, 0x3000, 0x7000 };
	struct kvio_iotlb *tlb = kt_alloc(test, 0, 0);
	struct kvio_iotlb_map *map;
	unsigned int i, n;
	u64 prev;

	for (i = 0; i < ARRAY_SIZE(starts); i++)
		KUNIT_ASSERT_EQ(test, kvio_iotlb_add_range(tlb, starts[i],
							   starts[i] + 0xfff,
							   0, KVIO_PERM_RW), 0);
	/* Everything, in address order. */
	n = 0;
	prev = 0;
	for (map = kvio_iotlb_itree_first(tlb, 0, U64_MAX); map;
	     map = kvio_iotlb_itree_next(map, 0, U64_MAX)) {
		KUNIT_EXPECT_GT(test, map->start, prev);
		prev = map->start;
		n++;
	}
	KUNIT_EXPECT_EQ(test, n, 5u);
	/* A window: only the maps it intersects. */
	n = 0;
	for (map = kvio_iotlb_itree_first(tlb, 0x3fff, 0x7000); map;
	     map = kvio_iotlb_itree_next(map, 0x3fff, 0x7000))
		n++;
	KUNIT_EXPECT_EQ(test, n, 3u);
	KUNIT_EXPECT_NULL(test, kvio_iotlb_itree_first(tlb, 0xa000, U64_MAX));
	/* The insertion-order list: the oldest first (IOTLB eviction). */
	map = list_first_entry(&tlb->list, struct kvio_iotlb_map, link);
	KUNIT_EXPECT_EQ(test, map->start, 0x5000ULL);
}

static void iotlb_end_of_address_space(struct kunit *test)
{
	struct kvio_iotlb *tlb = kt_alloc(test, 0, 0);
	struct kvio_iotlb_map *map;

	KUNIT_ASSERT_EQ(test, kvio_iotlb_add_range(tlb, U64_MAX - 0xfff,
						   U64_MAX, 0x1000,
						   KVIO_PERM_RW), 0);
	map = kt_at(tlb, U64_MAX);
	KUNIT_ASSERT_NOT_NULL(test, map);
	KUNIT_EXPECT_EQ(test, map->last, U64_MAX);
	KUNIT_EXPECT_PTR_EQ(test, kvio_iotlb_itree_first(tlb, 0, U64_MAX), map);
	KUNIT_EXPECT_NULL(test, kvio_iotlb_itree_next(map, 0, U64_MAX));
	kvio_iotlb_del_range(tlb, U64_MAX, U64_MAX);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 0u);

	/* One map for the whole space. */
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0, U64_MAX, 1,
						   KVIO_PERM_RW), -EINVAL);
	KUNIT_ASSERT_EQ(test, kvio_iotlb_add_range(tlb, 0, U64_MAX, 0,
						   KVIO_PERM_RW), 0);
	KUNIT_EXPECT_NOT_NULL(test, kt_at(tlb, 0));
	KUNIT_EXPECT_NOT_NULL(test, kt_at(tlb, 1ULL << 63));
	KUNIT_EXPECT_NOT_NULL(test, kt_at(tlb, U64_MAX));
}

static void iotlb_reset(struct kunit *test)
{
	struct kvio_iotlb *tlb = kt_alloc(test, 4, 0);
	u64 a;

	for (a = 0; a < 4; a++)
		KUNIT_ASSERT_EQ(test, kvio_iotlb_add_range(tlb, a * 0x1000,
							   a * 0x1000 + 0xfff,
							   0, KVIO_PERM_RW),
				0);
	kvio_iotlb_reset(tlb);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 0u);
	KUNIT_EXPECT_TRUE(test, list_empty(&tlb->list));
	KUNIT_EXPECT_NULL(test, kvio_iotlb_itree_first(tlb, 0, U64_MAX));
	/* Usable again, with its limit and flags. */
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0, 0xfff, 0,
						   KVIO_PERM_RW), 0);
	KUNIT_EXPECT_EQ(test, kvio_iotlb_add_range(tlb, 0x800, 0x1800, 0,
						   KVIO_PERM_RW), -EEXIST);
}

static struct kunit_case kvio_iotlb_cases[] = {
	KUNIT_CASE(iotlb_add_lookup),
	KUNIT_CASE(iotlb_add_invalid),
	KUNIT_CASE(iotlb_overlap_refused),
	KUNIT_CASE(iotlb_overlap_retires),
	KUNIT_CASE(iotlb_limit),
	KUNIT_CASE(iotlb_del_range),
	KUNIT_CASE(iotlb_iteration),
	KUNIT_CASE(iotlb_end_of_address_space),
	KUNIT_CASE(iotlb_reset),
	{}
};

static struct kunit_suite kvio_iotlb_suite = {
	.name = "kvio_iotlb",
	.init = kt_iotlb_init,
	.exit = kt_iotlb_exit,
	.test_cases = kvio_iotlb_cases,
};

kunit_test_suite(kvio_iotlb_suite);
