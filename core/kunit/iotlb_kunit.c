// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "kvio_iotlb": the range map behind the memory table (no
 * flags: overlaps refused) and the device IOTLB (KVIO_IOTLB_RETIRE: a new
 * range replaces what it overlaps), through kvio_core's exported API; and
 * suite "kvio_memtable" (below): the memory table's lookups.
 */
#include <kunit/test.h>
#include <linux/list.h>
#include <linux/overflow.h>

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

/*
 * Suite "kvio_memtable": the memory table as VHOST_SET_MEM_TABLE builds it
 * (core/dev.c: a range map limited to max_mem_regions, 64 by default, no
 * overlaps, each region [gpa, gpa + size - 1] -> its user address) and
 * looked up as the engine does (core/vq.c: the map holding one address,
 * then hva = map->addr + (gpa - map->start)).
 */
#define KT_MEM_REGIONS	64

static struct kvio_iotlb *kt_memtable(struct kunit *test)
{
	return kt_alloc(test, KT_MEM_REGIONS, 0);
}

/* A region as SET_MEM_TABLE adds it: 0 or the range map's errno. */
static int kt_region(struct kvio_iotlb *tlb, u64 gpa, u64 size, u64 hva)
{
	u64 last;

	if (!size || check_add_overflow(gpa, size - 1, &last))
		return -EFAULT;
	return kvio_iotlb_add_range(tlb, gpa, last, hva, KVIO_PERM_RW);
}

/* The user address @gpa translates to, or 0 for a miss. */
static u64 kt_hva(struct kvio_iotlb *tlb, u64 gpa)
{
	struct kvio_iotlb_map *map = kt_at(tlb, gpa);

	return map ? map->addr + (gpa - map->start) : 0;
}

static void memtable_adjacent(struct kunit *test)
{
	struct kvio_iotlb *tlb = kt_memtable(test);
	struct kvio_iotlb_map *lo, *hi;

	/* Two regions touching in guest memory, far apart in user memory. */
	KUNIT_ASSERT_EQ(test, kt_region(tlb, 0, 0xa0000, 0x7f0000000000), 0);
	KUNIT_ASSERT_EQ(test, kt_region(tlb, 0xa0000, 0x20000, 0x7e0000000000),
			0);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, 0x9ffff), 0x7f000009ffffULL);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, 0xa0000), 0x7e0000000000ULL);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, 0xbffff), 0x7e000001ffffULL);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, 0xc0000), 0ULL);
	/* A buffer across the seam is found in two pieces, in order. */
	lo = kvio_iotlb_itree_first(tlb, 0x9ff00, 0xa00ff);
	KUNIT_ASSERT_NOT_NULL(test, lo);
	KUNIT_EXPECT_EQ(test, lo->start, 0ULL);
	KUNIT_EXPECT_EQ(test, lo->last, 0x9ffffULL);
	hi = kvio_iotlb_itree_next(lo, 0x9ff00, 0xa00ff);
	KUNIT_ASSERT_NOT_NULL(test, hi);
	KUNIT_EXPECT_EQ(test, hi->start, 0xa0000ULL);
	KUNIT_EXPECT_NULL(test, kvio_iotlb_itree_next(hi, 0x9ff00, 0xa00ff));
}

static void memtable_boundaries(struct kunit *test)
{
	struct kvio_iotlb *tlb = kt_memtable(test);

	KUNIT_ASSERT_EQ(test, kt_region(tlb, 0x100000, 0x1000, 0x10000000),
			0);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, 0xfffff), 0ULL);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, 0x100000), 0x10000000ULL);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, 0x100fff), 0x10000fffULL);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, 0x101000), 0ULL);
	/* One byte. */
	KUNIT_ASSERT_EQ(test, kt_region(tlb, 0x200000, 1, 0x20000000), 0);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, 0x200000), 0x20000000ULL);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, 0x200001), 0ULL);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, 0x1fffff), 0ULL);
}

static void memtable_overflow(struct kunit *test)
{
	struct kvio_iotlb *tlb = kt_memtable(test);

	/* Size 0; guest end past 2^64; user end past 2^64. */
	KUNIT_EXPECT_EQ(test, kt_region(tlb, 0x1000, 0, 0x10000), -EFAULT);
	KUNIT_EXPECT_EQ(test, kt_region(tlb, U64_MAX - 0xffe, 0x1000, 0x10000),
			-EFAULT);
	KUNIT_EXPECT_EQ(test, kt_region(tlb, 0x1000, 0x1000, U64_MAX - 0xffe),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 0u);
	/* Ending at 2^64 - 1 exactly, in both address spaces. */
	KUNIT_ASSERT_EQ(test, kt_region(tlb, U64_MAX - 0xfff, 0x1000,
					U64_MAX - 0xfff), 0);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, U64_MAX), U64_MAX);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, U64_MAX - 0xfff), U64_MAX - 0xfff);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, U64_MAX - 0x1000), 0ULL);
	/* Overlapping it is refused (SET_MEM_TABLE: EINVAL). */
	KUNIT_EXPECT_EQ(test, kt_region(tlb, U64_MAX - 0x1fff, 0x1001, 0x1000),
			-EEXIST);
}

static void memtable_64_regions(struct kunit *test)
{
	struct kvio_iotlb *tlb = kt_memtable(test);
	unsigned int i, k;

	/*
	 * 1 MiB regions 2 MiB apart, added in a scrambled order; user
	 * addresses in reverse order, so no lookup can be right by accident.
	 */
	for (k = 0; k < KT_MEM_REGIONS; k++) {
		i = (k * 37) % KT_MEM_REGIONS;
		KUNIT_ASSERT_EQ(test, kt_region(tlb, (u64)i << 21, 1 << 20,
						0x7f0000000000ULL -
						((u64)i << 20)), 0);
	}
	KUNIT_EXPECT_EQ(test, tlb->nmaps, (unsigned int)KT_MEM_REGIONS);
	/* A 65th is one too many, and leaves the table as it was. */
	KUNIT_EXPECT_EQ(test, kt_region(tlb, 1ULL << 40, 0x1000, 0x1000),
			-ENOSPC);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, (unsigned int)KT_MEM_REGIONS);
	for (i = 0; i < KT_MEM_REGIONS; i++) {
		u64 gpa = (u64)i << 21, hva = 0x7f0000000000ULL - ((u64)i << 20);

		KUNIT_EXPECT_EQ(test, kt_hva(tlb, gpa), hva);
		KUNIT_EXPECT_EQ(test, kt_hva(tlb, gpa + 0x12345),
				hva + 0x12345);
		KUNIT_EXPECT_EQ(test, kt_hva(tlb, gpa + (1 << 20) - 1),
				hva + (1 << 20) - 1);
		/* The gap after it. */
		KUNIT_EXPECT_EQ(test, kt_hva(tlb, gpa + (1 << 20)), 0ULL);
		KUNIT_EXPECT_EQ(test, kt_hva(tlb, gpa + (2 << 20) - 1), 0ULL);
	}
}

static void memtable_miss(struct kunit *test)
{
	struct kvio_iotlb *tlb = kt_memtable(test);
	struct kvio_iotlb_map *map;

	/* An empty table (no SET_MEM_TABLE yet) holds nothing. */
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, U64_MAX));
	KUNIT_EXPECT_NULL(test, kvio_iotlb_itree_first(tlb, 0, U64_MAX));
	KUNIT_ASSERT_EQ(test, kt_region(tlb, 0x10000, 0x10000, 0x1000000), 0);
	KUNIT_ASSERT_EQ(test, kt_region(tlb, 0x40000, 0x10000, 0x2000000), 0);
	/* Below, between, above; address 0 and 2^64 - 1. */
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0xffff));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x20000));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x3ffff));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x50000));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, U64_MAX));
	KUNIT_EXPECT_NULL(test, kvio_iotlb_itree_first(tlb, 0x20000, 0x3ffff));
	/* A range query that covers a gap finds the next region. */
	map = kvio_iotlb_itree_first(tlb, 0x20000, 0x40000);
	KUNIT_ASSERT_NOT_NULL(test, map);
	KUNIT_EXPECT_EQ(test, map->start, 0x40000ULL);
}

static struct kunit_case kvio_memtable_cases[] = {
	KUNIT_CASE(memtable_adjacent),
	KUNIT_CASE(memtable_boundaries),
	KUNIT_CASE(memtable_overflow),
	KUNIT_CASE(memtable_64_regions),
	KUNIT_CASE(memtable_miss),
	{}
};

static struct kunit_suite kvio_memtable_suite = {
	.name = "kvio_memtable",
	.init = kt_iotlb_init,
	.exit = kt_iotlb_exit,
	.test_cases = kvio_memtable_cases,
};

kunit_test_suites(&kvio_iotlb_suite, &kvio_memtable_suite);
