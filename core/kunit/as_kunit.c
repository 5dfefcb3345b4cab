// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suites for kvio address spaces (core/as.c, include/kvio/as.h),
 * through kvio_core's exported API: "kvio_as_maps" (the range map: overlaps
 * refused, or replaced as the device IOTLB does; limits; removal; walks),
 * "kvio_memtable" (the memory table's lookups) and "kvio_as" (exact unmap,
 * notifiers, opaque pointers, two-stage translation, lock-free readers
 * against a writer, 16k maps).
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/overflow.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/sched/task.h>

#include <kvio/as.h>

static int kt_as_init(struct kunit *test)
{
	test->priv = NULL;
	return 0;
}

static void kt_as_exit(struct kunit *test)
{
	kvio_as_put(test->priv);
}

static struct kvio_as *kt_alloc(struct kunit *test, unsigned int limit,
				unsigned int flags)
{
	struct kvio_as *as = kvio_as_alloc(NULL, NULL, flags, limit);

	KUNIT_ASSERT_NOT_NULL(test, as);
	test->priv = as;
	return as;
}

/*
 * The map holding @addr, or NULL: the space's own entry, found in the
 * first copy of its tree (single-threaded here: it holds still).
 */
static struct kvio_as_entry *kt_map_of(struct rb_node *n)
{
	return container_of(n, struct kvio_as_entry, node.node[0]);
}

static struct kvio_as_entry *kt_at(struct kvio_as *as, u64 addr)
{
	struct rb_node *n = as->tree.tree[0].rb_node;

	while (n) {
		struct kvio_as_entry *map = kt_map_of(n);

		if (addr < map->start)
			n = n->rb_left;
		else if (addr > map->last)
			n = n->rb_right;
		else
			return map;
	}
	return NULL;
}

/* The first map intersecting [start, last], and the next after @map. */
static struct kvio_as_entry *kt_first(struct kvio_as *as, u64 start, u64 last)
{
	struct rb_node *n;

	for (n = rb_first(&as->tree.tree[0]); n; n = rb_next(n))
		if (kt_map_of(n)->last >= start)
			return kt_map_of(n)->start <= last ? kt_map_of(n) :
							     NULL;
	return NULL;
}

static struct kvio_as_entry *kt_next(struct kvio_as *as,
				     struct kvio_as_entry *map, u64 last)
{
	if (map->last >= last)
		return NULL;
	return kt_first(as, map->last + 1, last);
}

static void maps_add_lookup(struct kunit *test)
{
	struct kvio_as *tlb = kt_alloc(test, 0, 0);
	struct kvio_as_entry *map;

	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0x1000, 0x1fff,
					  0x7f0000000000,
					  KVIO_PERM_RW, NULL), 0);
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
	KUNIT_EXPECT_PTR_EQ(test, kt_first(tlb, 0, 0x1000), map);
	KUNIT_EXPECT_PTR_EQ(test, kt_first(tlb, 0x1fff, U64_MAX),
			    map);
}

static void maps_add_invalid(struct kunit *test)
{
	struct kvio_as *tlb = kt_alloc(test, 0, 0);

	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0x2000, 0x1fff, 0,
					  KVIO_PERM_RW, NULL), -EINVAL);
	/* The translation of the last byte would pass 2^64. */
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0, 0xfff,
					  U64_MAX - 0xffe,
					  KVIO_PERM_RW, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 0u);
	/* Ending exactly at 2^64 - 1 is fine. */
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0, 0xfff,
					  U64_MAX - 0xfff,
					  KVIO_PERM_RW, NULL), 0);
	/* A single byte. */
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0x5000, 0x5000, 0,
					  KVIO_PERM_RO, NULL), 0);
	KUNIT_EXPECT_NOT_NULL(test, kt_at(tlb, 0x5000));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x5001));
}

static void maps_overlap_refused(struct kunit *test)
{
	struct kvio_as *tlb = kt_alloc(test, 0, 0);

	KUNIT_ASSERT_EQ(test, kvio_as_map(tlb, 0x1000, 0x1fff, 0,
					  KVIO_PERM_RW, NULL), 0);
	/* Partial at either end, inside, around, one shared byte. */
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0x800, 0x17ff, 0,
					  KVIO_PERM_RW, NULL), -EEXIST);
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0x1800, 0x27ff, 0,
					  KVIO_PERM_RW, NULL), -EEXIST);
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0x1100, 0x11ff, 0,
					  KVIO_PERM_RW, NULL), -EEXIST);
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0, U64_MAX, 0,
					  KVIO_PERM_RW, NULL), -EEXIST);
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0x1fff, 0x1fff, 0,
					  KVIO_PERM_RW, NULL), -EEXIST);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 1u);
	/* Adjacent on both sides. */
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0x2000, 0x2fff, 0,
					  KVIO_PERM_RW, NULL), 0);
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0, 0xfff, 0,
					  KVIO_PERM_RW, NULL), 0);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 3u);
}

static void maps_overlap_retires(struct kunit *test)
{
	struct kvio_as *tlb = kt_alloc(test, 0, KVIO_AS_REPLACE);
	struct kvio_as_entry *map;

	KUNIT_ASSERT_EQ(test, kvio_as_map(tlb, 0x1000, 0x1fff, 0x100,
					  KVIO_PERM_RW, NULL), 0);
	KUNIT_ASSERT_EQ(test, kvio_as_map(tlb, 0x3000, 0x3fff, 0x300,
					  KVIO_PERM_RW, NULL), 0);
	KUNIT_ASSERT_EQ(test, kvio_as_map(tlb, 0x5000, 0x5fff, 0x500,
					  KVIO_PERM_RW, NULL), 0);
	/* Touches the first two: both go, whole; the third stays. */
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0x1800, 0x37ff, 0x900,
					  KVIO_PERM_RO, NULL), 0);
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
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0x1800, 0x37ff, 0xa00,
					  KVIO_PERM_WO, NULL), 0);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 2u);
	KUNIT_EXPECT_EQ(test, kt_at(tlb, 0x1800)->addr, 0xa00ULL);
}

static void maps_limit(struct kunit *test)
{
	struct kvio_as *tlb = kt_alloc(test, 2, KVIO_AS_REPLACE);

	KUNIT_ASSERT_EQ(test, kvio_as_map(tlb, 0x1000, 0x1fff, 0,
					  KVIO_PERM_RW, NULL), 0);
	KUNIT_ASSERT_EQ(test, kvio_as_map(tlb, 0x2000, 0x2fff, 0,
					  KVIO_PERM_RW, NULL), 0);
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0x3000, 0x3fff, 0,
					  KVIO_PERM_RW, NULL), -ENOSPC);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 2u);
	/* Full, but the new range retires one first: room for it. */
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0x2800, 0x37ff, 0,
					  KVIO_PERM_RW, NULL), 0);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 2u);
	kvio_as_unmap(tlb, 0x1000, 0x1000, false);
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0x3800, 0x3fff, 0,
					  KVIO_PERM_RW, NULL), 0);
}

static void maps_del_range(struct kunit *test)
{
	struct kvio_as *tlb = kt_alloc(test, 0, 0);
	u64 a;

	kvio_as_unmap(tlb, 0, U64_MAX, false);	/* empty: nothing */
	for (a = 0x1000; a < 0x6000; a += 0x1000)
		KUNIT_ASSERT_EQ(test, kvio_as_map(tlb, a, a + 0xfff, a,
						  KVIO_PERM_RW, NULL), 0);
	/* One byte of a map removes all of it. */
	kvio_as_unmap(tlb, 0x1fff, 0x1fff, false);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 4u);
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x1000));
	/* Spanning the end of one and the start of another: both. */
	kvio_as_unmap(tlb, 0x2fff, 0x3000, false);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 2u);
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x2000));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x3fff));
	/* A hole: nothing. */
	kvio_as_unmap(tlb, 0x6000, 0x7fff, false);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 2u);
	kvio_as_unmap(tlb, 0, U64_MAX, false);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 0u);
	KUNIT_EXPECT_TRUE(test, list_empty(&tlb->maps));
}

static void maps_iteration(struct kunit *test)
{
	static const u64 starts[] = { 0x5000, 0x1000, 0x9000, 0x3000, 0x7000 };
	struct kvio_as *tlb = kt_alloc(test, 0, 0);
	struct kvio_as_entry *map;
	unsigned int i, n;
	u64 prev;

	for (i = 0; i < ARRAY_SIZE(starts); i++)
		KUNIT_ASSERT_EQ(test, kvio_as_map(tlb, starts[i],
						  starts[i] + 0xfff,
						  0, KVIO_PERM_RW, NULL), 0);
	/* Everything, in address order. */
	n = 0;
	prev = 0;
	for (map = kt_first(tlb, 0, U64_MAX); map;
	     map = kt_next(tlb, map, U64_MAX)) {
		KUNIT_EXPECT_GT(test, map->start, prev);
		prev = map->start;
		n++;
	}
	KUNIT_EXPECT_EQ(test, n, 5u);
	/* A window: only the maps it intersects. */
	n = 0;
	for (map = kt_first(tlb, 0x3fff, 0x7000); map;
	     map = kt_next(tlb, map, 0x7000))
		n++;
	KUNIT_EXPECT_EQ(test, n, 3u);
	KUNIT_EXPECT_NULL(test, kt_first(tlb, 0xa000, U64_MAX));
	/* The insertion-order list: the oldest first (IOTLB eviction). */
	map = list_first_entry(&tlb->maps, struct kvio_as_entry, link);
	KUNIT_EXPECT_EQ(test, map->start, 0x5000ULL);
}

static void maps_end_of_address_space(struct kunit *test)
{
	struct kvio_as *tlb = kt_alloc(test, 0, 0);
	struct kvio_as_entry *map;

	KUNIT_ASSERT_EQ(test, kvio_as_map(tlb, U64_MAX - 0xfff,
					  U64_MAX, 0x1000,
					  KVIO_PERM_RW, NULL), 0);
	map = kt_at(tlb, U64_MAX);
	KUNIT_ASSERT_NOT_NULL(test, map);
	KUNIT_EXPECT_EQ(test, map->last, U64_MAX);
	KUNIT_EXPECT_PTR_EQ(test, kt_first(tlb, 0, U64_MAX), map);
	KUNIT_EXPECT_NULL(test, kt_next(tlb, map, U64_MAX));
	kvio_as_unmap(tlb, U64_MAX, U64_MAX, false);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 0u);

	/* One map for the whole space. */
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0, U64_MAX, 1,
					  KVIO_PERM_RW, NULL), -EINVAL);
	KUNIT_ASSERT_EQ(test, kvio_as_map(tlb, 0, U64_MAX, 0,
					  KVIO_PERM_RW, NULL), 0);
	KUNIT_EXPECT_NOT_NULL(test, kt_at(tlb, 0));
	KUNIT_EXPECT_NOT_NULL(test, kt_at(tlb, 1ULL << 63));
	KUNIT_EXPECT_NOT_NULL(test, kt_at(tlb, U64_MAX));
}

static void maps_reset(struct kunit *test)
{
	struct kvio_as *tlb = kt_alloc(test, 4, 0);
	u64 a;

	for (a = 0; a < 4; a++)
		KUNIT_ASSERT_EQ(test, kvio_as_map(tlb, a * 0x1000,
						  a * 0x1000 + 0xfff,
						  0, KVIO_PERM_RW, NULL),
				0);
	kvio_as_clear(tlb);
	KUNIT_EXPECT_EQ(test, tlb->nmaps, 0u);
	KUNIT_EXPECT_TRUE(test, list_empty(&tlb->maps));
	KUNIT_EXPECT_NULL(test, kt_first(tlb, 0, U64_MAX));
	/* Usable again, with its limit and flags. */
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0, 0xfff, 0,
					  KVIO_PERM_RW, NULL), 0);
	KUNIT_EXPECT_EQ(test, kvio_as_map(tlb, 0x800, 0x1800, 0,
					  KVIO_PERM_RW, NULL), -EEXIST);
}

static struct kunit_case kvio_as_maps_cases[] = {
	KUNIT_CASE(maps_add_lookup),
	KUNIT_CASE(maps_add_invalid),
	KUNIT_CASE(maps_overlap_refused),
	KUNIT_CASE(maps_overlap_retires),
	KUNIT_CASE(maps_limit),
	KUNIT_CASE(maps_del_range),
	KUNIT_CASE(maps_iteration),
	KUNIT_CASE(maps_end_of_address_space),
	KUNIT_CASE(maps_reset),
	{}
};

static struct kunit_suite kvio_as_maps_suite = {
	.name = "kvio_as_maps",
	.init = kt_as_init,
	.exit = kt_as_exit,
	.test_cases = kvio_as_maps_cases,
};

/*
 * Suite "kvio_memtable": the memory table as VHOST_SET_MEM_TABLE builds it
 * (core/dev.c: a range map limited to max_mem_regions, 64 by default, no
 * overlaps, each region [gpa, gpa + size - 1] -> its user address) and
 * looked up as the engine does (core/vq.c: the map holding one address,
 * then hva = map->addr + (gpa - map->start)).
 */
#define KT_MEM_REGIONS	64

static struct kvio_as *kt_memtable(struct kunit *test)
{
	return kt_alloc(test, KT_MEM_REGIONS, 0);
}

/* A region as SET_MEM_TABLE adds it: 0 or the range map's errno. */
static int kt_region(struct kvio_as *tlb, u64 gpa, u64 size, u64 hva)
{
	u64 last;

	if (!size || check_add_overflow(gpa, size - 1, &last))
		return -EFAULT;
	return kvio_as_map(tlb, gpa, last, hva, KVIO_PERM_RW, NULL);
}

/* The user address @gpa translates to, or 0 for a miss. */
static u64 kt_hva(struct kvio_as *tlb, u64 gpa)
{
	struct kvio_as_entry *map = kt_at(tlb, gpa);

	return map ? map->addr + (gpa - map->start) : 0;
}

static void memtable_adjacent(struct kunit *test)
{
	struct kvio_as *tlb = kt_memtable(test);
	struct kvio_as_entry *lo, *hi;

	/* Two regions touching in guest memory, far apart in user memory. */
	KUNIT_ASSERT_EQ(test, kt_region(tlb, 0, 0xa0000, 0x7f0000000000), 0);
	KUNIT_ASSERT_EQ(test, kt_region(tlb, 0xa0000, 0x20000, 0x7e0000000000),
			0);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, 0x9ffff), 0x7f000009ffffULL);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, 0xa0000), 0x7e0000000000ULL);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, 0xbffff), 0x7e000001ffffULL);
	KUNIT_EXPECT_EQ(test, kt_hva(tlb, 0xc0000), 0ULL);
	/* A buffer across the seam is found in two pieces, in order. */
	lo = kt_first(tlb, 0x9ff00, 0xa00ff);
	KUNIT_ASSERT_NOT_NULL(test, lo);
	KUNIT_EXPECT_EQ(test, lo->start, 0ULL);
	KUNIT_EXPECT_EQ(test, lo->last, 0x9ffffULL);
	hi = kt_next(tlb, lo, 0xa00ff);
	KUNIT_ASSERT_NOT_NULL(test, hi);
	KUNIT_EXPECT_EQ(test, hi->start, 0xa0000ULL);
	KUNIT_EXPECT_NULL(test, kt_next(tlb, hi, 0xa00ff));
}

static void memtable_boundaries(struct kunit *test)
{
	struct kvio_as *tlb = kt_memtable(test);

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
	struct kvio_as *tlb = kt_memtable(test);

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
	struct kvio_as *tlb = kt_memtable(test);
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
	struct kvio_as *tlb = kt_memtable(test);
	struct kvio_as_entry *map;

	/* An empty table (no SET_MEM_TABLE yet) holds nothing. */
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, U64_MAX));
	KUNIT_EXPECT_NULL(test, kt_first(tlb, 0, U64_MAX));
	KUNIT_ASSERT_EQ(test, kt_region(tlb, 0x10000, 0x10000, 0x1000000), 0);
	KUNIT_ASSERT_EQ(test, kt_region(tlb, 0x40000, 0x10000, 0x2000000), 0);
	/* Below, between, above; address 0 and 2^64 - 1. */
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0xffff));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x20000));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x3ffff));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, 0x50000));
	KUNIT_EXPECT_NULL(test, kt_at(tlb, U64_MAX));
	KUNIT_EXPECT_NULL(test, kt_first(tlb, 0x20000, 0x3ffff));
	/* A range query that covers a gap finds the next region. */
	map = kt_first(tlb, 0x20000, 0x40000);
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
	.init = kt_as_init,
	.exit = kt_as_exit,
	.test_cases = kvio_memtable_cases,
};

/* Suite "kvio_as": what a vIOMMU domain and its owners rely on. */

static void as_exact_unmap(struct kunit *test)
{
	struct kvio_as *as = kt_alloc(test, 0, 0);

	KUNIT_EXPECT_EQ(test, kvio_as_unmap(as, 0, U64_MAX, true), 0);
	KUNIT_ASSERT_EQ(test, kvio_as_map(as, 0x1000, 0x1fff, 0, KVIO_PERM_RW,
					  NULL), 0);
	KUNIT_ASSERT_EQ(test, kvio_as_map(as, 0x2000, 0x3fff, 0, KVIO_PERM_RW,
					  NULL), 0);
	KUNIT_ASSERT_EQ(test, kvio_as_map(as, 0x5000, 0x5fff, 0, KVIO_PERM_RW,
					  NULL), 0);
	/* Would split the second map at its end, or the first at its start. */
	KUNIT_EXPECT_EQ(test, kvio_as_unmap(as, 0x1000, 0x2fff, true), -ERANGE);
	KUNIT_EXPECT_EQ(test, kvio_as_unmap(as, 0x1800, 0x3fff, true), -ERANGE);
	KUNIT_EXPECT_EQ(test, as->nmaps, 3u);
	KUNIT_EXPECT_NOT_NULL(test, kt_at(as, 0x1000));
	/* Whole maps and holes: the maps go, the holes are no error. */
	KUNIT_EXPECT_EQ(test, kvio_as_unmap(as, 0, 0x4fff, true), 2);
	KUNIT_EXPECT_EQ(test, as->nmaps, 1u);
	KUNIT_EXPECT_NULL(test, kt_at(as, 0x2000));
	KUNIT_EXPECT_EQ(test, kvio_as_unmap(as, 0x5000, 0x5fff, true), 1);
	KUNIT_EXPECT_EQ(test, kvio_as_unmap(as, 0x2000, 0x1fff, true), -EINVAL);
	/* Not exact: touching one byte removes the whole map. */
	KUNIT_ASSERT_EQ(test, kvio_as_map(as, 0x1000, 0x1fff, 0, KVIO_PERM_RW,
					  NULL), 0);
	KUNIT_EXPECT_EQ(test, kvio_as_unmap(as, 0x1fff, 0x1fff, false), 1);
	KUNIT_EXPECT_EQ(test, as->nmaps, 0u);
}

struct kt_notes {
	struct kvio_as_notifier nb;
	unsigned int maps, unmaps;
	u64 last_start;
	void *last_opaque;
	u64 refuse;		/* a map starting here is refused; 0 none */
};

static int kt_note_map(struct kvio_as_notifier *nb,
		       const struct kvio_as_entry *map)
{
	struct kt_notes *n = container_of(nb, struct kt_notes, nb);

	if (n->refuse && map->start == n->refuse)
		return -ENOMEM;
	n->maps++;
	n->last_start = map->start;
	n->last_opaque = map->opaque;
	return 0;
}

static void kt_note_unmap(struct kvio_as_notifier *nb,
			  const struct kvio_as_entry *map)
{
	struct kt_notes *n = container_of(nb, struct kt_notes, nb);

	n->unmaps++;
	n->last_start = map->start;
	n->last_opaque = map->opaque;
}

static void as_notifiers(struct kunit *test)
{
	struct kvio_as *as = kvio_as_alloc(NULL, NULL,
					   KVIO_AS_REPLACE | KVIO_AS_EVICT, 2);
	struct kt_notes n = {
		.nb = { .map = kt_note_map, .unmap = kt_note_unmap },
	};
	int tag[4];
	struct kvio_as_entry out;

	KUNIT_ASSERT_NOT_NULL(test, as);
	kvio_as_notifier_register(as, &n.nb);
	KUNIT_EXPECT_EQ(test, kvio_as_map(as, 0x1000, 0x1fff, 0x10,
					  KVIO_PERM_RO, &tag[0]), 0);
	KUNIT_EXPECT_EQ(test, n.maps, 1u);
	KUNIT_EXPECT_PTR_EQ(test, n.last_opaque, (void *)&tag[0]);
	/* The opaque pointer comes back from lookups. */
	KUNIT_ASSERT_TRUE(test, kvio_as_lookup(as, 0x1800, &out));
	KUNIT_EXPECT_PTR_EQ(test, out.opaque, (void *)&tag[0]);
	KUNIT_EXPECT_EQ(test, out.addr, 0x10ULL);
	KUNIT_EXPECT_FALSE(test, kvio_as_lookup(as, 0x2000, &out));
	/* Replacing: an unmap of the old map (with its opaque), a map. */
	KUNIT_EXPECT_EQ(test, kvio_as_map(as, 0x1800, 0x27ff, 0x20,
					  KVIO_PERM_RW, &tag[1]), 0);
	KUNIT_EXPECT_EQ(test, n.unmaps, 1u);
	KUNIT_EXPECT_EQ(test, n.maps, 2u);
	KUNIT_ASSERT_EQ(test, kvio_as_map(as, 0x3000, 0x3fff, 0x30,
					  KVIO_PERM_RW, &tag[2]), 0);
	/* Full: the oldest map (tag 1) is evicted, and heard of. */
	KUNIT_EXPECT_EQ(test, kvio_as_map(as, 0x5000, 0x5fff, 0x50,
					  KVIO_PERM_RW, &tag[3]), 0);
	KUNIT_EXPECT_EQ(test, n.unmaps, 2u);
	KUNIT_EXPECT_NULL(test, kt_at(as, 0x1800));
	KUNIT_EXPECT_EQ(test, as->nmaps, 2u);
	KUNIT_EXPECT_EQ(test, kvio_as_unmap(as, 0x3000, 0x3000, false), 1);
	KUNIT_EXPECT_EQ(test, n.unmaps, 3u);
	KUNIT_EXPECT_EQ(test, n.last_start, 0x3000ULL);
	KUNIT_EXPECT_PTR_EQ(test, n.last_opaque, (void *)&tag[2]);
	/* Removals bump the count cached translations are checked against. */
	KUNIT_EXPECT_EQ(test, READ_ONCE(as->unmaps), 3UL);
	kvio_as_notifier_unregister(as, &n.nb);
	kvio_as_clear(as);
	KUNIT_EXPECT_EQ(test, n.unmaps, 3u);
	KUNIT_EXPECT_EQ(test, READ_ONCE(as->unmaps), 4UL);
	/* The last reference removes what is left, a registered one hears. */
	kvio_as_notifier_register(as, &n.nb);
	KUNIT_ASSERT_EQ(test, kvio_as_map(as, 0, 0xfff, 0, KVIO_PERM_RW, NULL),
			0);
	kvio_as_put(as);
	KUNIT_EXPECT_EQ(test, n.maps, 5u);
	KUNIT_EXPECT_EQ(test, n.unmaps, 4u);
}

/* A notifier refuses a map: it is not kept, the earlier ones hear it go. */
static void as_notifier_refuses(struct kunit *test)
{
	struct kvio_as *as = kt_alloc(test, 0, 0);
	struct kt_notes first = {
		.nb = { .map = kt_note_map, .unmap = kt_note_unmap },
	};
	struct kt_notes second = {
		.nb = { .map = kt_note_map, .unmap = kt_note_unmap },
		.refuse = 0x9000,
	};

	kvio_as_notifier_register(as, &first.nb);
	kvio_as_notifier_register(as, &second.nb);
	KUNIT_EXPECT_EQ(test, kvio_as_map(as, 0x1000, 0x1fff, 0, KVIO_PERM_RW,
					  NULL), 0);
	KUNIT_EXPECT_EQ(test, kvio_as_map(as, 0x9000, 0x9fff, 0, KVIO_PERM_RW,
					  NULL), -ENOMEM);
	KUNIT_EXPECT_EQ(test, first.maps, 2u);
	KUNIT_EXPECT_EQ(test, first.unmaps, 1u);
	KUNIT_EXPECT_EQ(test, first.last_start, 0x9000ULL);
	KUNIT_EXPECT_EQ(test, second.maps, 1u);
	KUNIT_EXPECT_EQ(test, second.unmaps, 0u);
	KUNIT_EXPECT_NULL(test, kt_at(as, 0x9000));
	KUNIT_EXPECT_EQ(test, as->nmaps, 1u);
	kvio_as_notifier_unregister(as, &second.nb);
	kvio_as_notifier_unregister(as, &first.nb);
}

static void as_translate_stages(struct kunit *test)
{
	struct kvio_as *mem = kt_alloc(test, 0, 0);
	struct kvio_as *dom, *tlb;
	struct kvio_piece p;
	int tag;

	/* Guest memory in two regions, touching at GPA 1 MiB. */
	KUNIT_ASSERT_EQ(test, kvio_as_map(mem, 0, 0xfffff, 0x7f0000000000,
					  KVIO_PERM_RW, NULL), 0);
	KUNIT_ASSERT_EQ(test, kvio_as_map(mem, 0x100000, 0x1fffff,
					  0x7e0000000000, KVIO_PERM_RW, NULL),
			0);

	/* No IOVA stage: GPA -> HVA, the piece ends with the region. */
	KUNIT_EXPECT_EQ(test, kvio_as_translate(NULL, mem, 0xff800, U64_MAX,
						KVIO_PERM_WO, &p), 0);
	KUNIT_EXPECT_EQ(test, p.hva, 0x7f00000ff800ULL);
	KUNIT_EXPECT_EQ(test, p.last, 0xfffffULL);
	KUNIT_EXPECT_EQ(test, kvio_as_translate(NULL, mem, 0xff800, 0xff8ff,
						KVIO_PERM_WO, &p), 0);
	KUNIT_EXPECT_EQ(test, p.last, 0xff8ffULL);
	KUNIT_EXPECT_EQ(test, kvio_as_translate(NULL, mem, 0x200000, U64_MAX,
						KVIO_PERM_RO, &p), -EFAULT);
	KUNIT_EXPECT_EQ(test, kvio_as_translate(NULL, NULL, 0, U64_MAX,
						KVIO_PERM_RO, &p), -EFAULT);

	/* A domain: IOVA -> GPA, then the memory table. */
	dom = kvio_as_alloc(NULL, NULL, KVIO_AS_OUT_GPA, 0);
	KUNIT_ASSERT_NOT_NULL(test, dom);
	KUNIT_ASSERT_EQ(test, kvio_as_map(dom, 0x10000000, 0x10001fff, 0xff000,
					  KVIO_PERM_RO, &tag), 0);
	KUNIT_ASSERT_EQ(test, kvio_as_map(dom, 0x20000000, 0x20000fff,
					  0x300000, KVIO_PERM_RW, NULL), 0);
	/* It crosses the seam between the regions: two pieces. */
	KUNIT_EXPECT_EQ(test, kvio_as_translate(dom, mem, 0x10000000, U64_MAX,
						KVIO_PERM_RO, &p), 0);
	KUNIT_EXPECT_EQ(test, p.hva, 0x7f00000ff000ULL);
	KUNIT_EXPECT_EQ(test, p.last, 0x10000fffULL);
	KUNIT_EXPECT_PTR_EQ(test, p.opaque, (void *)&tag);
	KUNIT_EXPECT_EQ(test, kvio_as_translate(dom, mem, 0x10001000, U64_MAX,
						KVIO_PERM_RO, &p), 0);
	KUNIT_EXPECT_EQ(test, p.hva, 0x7e0000000000ULL);
	KUNIT_EXPECT_EQ(test, p.last, 0x10001fffULL);
	/* Clamped by the caller's last too. */
	KUNIT_EXPECT_EQ(test, kvio_as_translate(dom, mem, 0x10000010,
						0x1000001f, KVIO_PERM_RO, &p),
			0);
	KUNIT_EXPECT_EQ(test, p.last, 0x1000001fULL);
	/* Read-only map written; no map; a GPA outside guest memory. */
	KUNIT_EXPECT_EQ(test, kvio_as_translate(dom, mem, 0x10000000, U64_MAX,
						KVIO_PERM_WO, &p), -EACCES);
	KUNIT_EXPECT_EQ(test, kvio_as_translate(dom, mem, 0x10002000, U64_MAX,
						KVIO_PERM_RO, &p), -ENOENT);
	KUNIT_EXPECT_EQ(test, kvio_as_translate(dom, mem, 0x20000000, U64_MAX,
						KVIO_PERM_RO, &p), -EFAULT);
	kvio_as_put(dom);

	/* A device IOTLB gives user addresses: no second stage. */
	tlb = kvio_as_alloc(NULL, NULL, KVIO_AS_REPLACE, 0);
	KUNIT_ASSERT_NOT_NULL(test, tlb);
	KUNIT_ASSERT_EQ(test, kvio_as_map(tlb, 0x4000, 0x7fff, 0x600000001000,
					  KVIO_PERM_WO, NULL), 0);
	KUNIT_EXPECT_EQ(test, kvio_as_translate(tlb, NULL, 0x5000, U64_MAX,
						KVIO_PERM_WO, &p), 0);
	KUNIT_EXPECT_EQ(test, p.hva, 0x600000002000ULL);
	KUNIT_EXPECT_EQ(test, p.last, 0x7fffULL);
	KUNIT_EXPECT_EQ(test, kvio_as_translate(tlb, NULL, 0x5000, U64_MAX,
						KVIO_PERM_RO, &p), -EACCES);
	kvio_as_put(tlb);
}

/*
 * Lock-free readers against a writer: every map i is [i * 8 KiB, + 4 KiB)
 * -> HVA (i << 32) + its start, so any translation a reader gets can be
 * checked on its own.  A stale or freed map would give a wrong answer (or
 * a KASAN report on the debug kernel).
 */
#define KT_RACE_MAPS	512

struct kt_race {
	struct kvio_as *as;
	unsigned long lookups, hits, wrong;
	bool stop;
};

static int kt_race_reader(void *arg)
{
	struct kt_race *r = arg;
	struct kvio_piece p;

	while (!READ_ONCE(r->stop)) {
		u64 i = get_random_u32() % KT_RACE_MAPS;
		u64 addr = i * 0x2000 + (get_random_u32() & 0xfff);

		r->lookups++;
		if (!kvio_as_translate(r->as, NULL, addr, U64_MAX,
				       KVIO_PERM_RO, &p)) {
			r->hits++;
			if (p.hva != (i << 32) + addr ||
			    p.last != i * 0x2000 + 0xfff)
				r->wrong++;
		}
		if (!(r->lookups % 1024))
			cond_resched();
	}
	return 0;
}

static void as_rcu_readers(struct kunit *test)
{
	struct kt_race r = { .as = kt_alloc(test, 0, KVIO_AS_REPLACE) };
	struct task_struct *reader;
	unsigned long deadline, rounds = 0;

	reader = kthread_run(kt_race_reader, &r, "kvio-as-race");
	KUNIT_ASSERT_FALSE(test, IS_ERR(reader));
	get_task_struct(reader);
	deadline = jiffies + msecs_to_jiffies(300);
	while (time_before(jiffies, deadline)) {
		u64 i = get_random_u32() % KT_RACE_MAPS;
		u64 start = i * 0x2000;

		if (get_random_u32() & 1)
			kvio_as_map(r.as, start, start + 0xfff,
				    (i << 32) + start, KVIO_PERM_RW, NULL);
		else
			kvio_as_unmap(r.as, start, start + 0xfff, true);
		if (!(++rounds % 64))
			cond_resched();
	}
	WRITE_ONCE(r.stop, true);
	kthread_stop(reader);
	put_task_struct(reader);
	kunit_info(test, "%lu writes, %lu lookups, %lu hits\n", rounds,
		   r.lookups, r.hits);
	KUNIT_EXPECT_EQ(test, r.wrong, 0UL);
	KUNIT_EXPECT_GT(test, r.lookups, 0UL);
}

/*
 * 16k maps in one domain: every lookup right, removal exact.  (64k took
 * 70 s on the debug kernel, half the hung-task timeout its insmod sleeps
 * under; selftests/test_iommu maps 64k through the ring.)
 */
#define KT_BIG_MAPS	16384

static void as_many_maps(struct kunit *test)
{
	struct kvio_as *as = kt_alloc(test, 0, KVIO_AS_OUT_GPA);
	struct kvio_as_entry out;
	unsigned long i, bad = 0;
	u64 t0, t1;

	for (i = 0; i < KT_BIG_MAPS; i++) {
		u64 iova = (u64)i << 13;

		KUNIT_ASSERT_EQ(test, kvio_as_map(as, iova, iova + 0xfff,
						  (u64)(KT_BIG_MAPS - i) << 12,
						  KVIO_PERM_RW, NULL), 0);
		if (!(i % 1024))
			cond_resched();
	}
	KUNIT_EXPECT_EQ(test, as->nmaps, (unsigned int)KT_BIG_MAPS);
	t0 = ktime_get_ns();
	for (i = 0; i < KT_BIG_MAPS; i++) {
		u64 iova = ((u64)i << 13) + 0x123;

		if (!kvio_as_lookup(as, iova, &out) ||
		    out.addr != (u64)(KT_BIG_MAPS - i) << 12)
			bad++;
		if (kvio_as_lookup(as, iova + 0x1000, &out))
			bad++;
		if (!(i % 1024))
			cond_resched();
	}
	t1 = ktime_get_ns();
	KUNIT_EXPECT_EQ(test, bad, 0UL);
	kunit_info(test, "%d maps: %llu ns per lookup\n", KT_BIG_MAPS,
		   (t1 - t0) / (2 * KT_BIG_MAPS));
	/* Every other map, exactly; then what is left, in one range. */
	for (i = 0; i < KT_BIG_MAPS; i += 2) {
		KUNIT_ASSERT_EQ(test, kvio_as_unmap(as, (u64)i << 13,
						    ((u64)i << 13) + 0x1fff,
						    true), 1);
		if (!(i % 1024))
			cond_resched();
	}
	KUNIT_EXPECT_EQ(test, as->nmaps, (unsigned int)KT_BIG_MAPS / 2);
	KUNIT_EXPECT_EQ(test, kvio_as_unmap(as, 0, U64_MAX, true),
			KT_BIG_MAPS / 2);
	KUNIT_EXPECT_TRUE(test, list_empty(&as->maps));
}

static struct kunit_case kvio_as_cases[] = {
	KUNIT_CASE(as_exact_unmap),
	KUNIT_CASE(as_notifiers),
	KUNIT_CASE(as_notifier_refuses),
	KUNIT_CASE(as_translate_stages),
	KUNIT_CASE(as_rcu_readers),
	KUNIT_CASE(as_many_maps),
	{}
};

static struct kunit_suite kvio_as_suite = {
	.name = "kvio_as",
	.init = kt_as_init,
	.exit = kt_as_exit,
	.test_cases = kvio_as_cases,
};

kunit_test_suites(&kvio_as_maps_suite, &kvio_memtable_suite, &kvio_as_suite);
