// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "kvio_log_bits": the dirty-log bitmap arithmetic
 * (core/log_bits.c): which pages a write covers, which bitmap bytes and
 * bits that means, how the bits split over bitmap pages, and setting them.
 */
#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "../log_bits.h"

#define KT_BITS_PER_PAGE	(PAGE_SIZE * 8)

static void log_gpa_pages_empty(struct kunit *test)
{
	u64 first = 7, last = 7;

	/* A zero-length write marks nothing (CVE-2019-14835). */
	KUNIT_EXPECT_FALSE(test, kvio_log_gpa_pages(0x1000, 0, &first, &last));
	KUNIT_EXPECT_FALSE(test, kvio_log_gpa_pages(0, 0, &first, &last));
	KUNIT_EXPECT_FALSE(test, kvio_log_gpa_pages(U64_MAX, 0, &first, &last));
}

static void log_gpa_pages_edges(struct kunit *test)
{
	u64 first, last;

	KUNIT_ASSERT_TRUE(test, kvio_log_gpa_pages(0x1234, 1, &first, &last));
	KUNIT_EXPECT_EQ(test, first, 1ULL);
	KUNIT_EXPECT_EQ(test, last, 1ULL);
	/* Two bytes across a page boundary: two pages. */
	KUNIT_ASSERT_TRUE(test, kvio_log_gpa_pages(0xfff, 2, &first, &last));
	KUNIT_EXPECT_EQ(test, first, 0ULL);
	KUNIT_EXPECT_EQ(test, last, 1ULL);
	/* A whole page is one page; one byte more is two. */
	KUNIT_ASSERT_TRUE(test, kvio_log_gpa_pages(0x1000, 0x1000, &first,
						   &last));
	KUNIT_EXPECT_EQ(test, last, 1ULL);
	KUNIT_ASSERT_TRUE(test, kvio_log_gpa_pages(0x1000, 0x1001, &first,
						   &last));
	KUNIT_EXPECT_EQ(test, last, 2ULL);
}

static void log_gpa_pages_top(struct kunit *test)
{
	u64 first, last;

	/* The last byte of the address space. */
	KUNIT_ASSERT_TRUE(test, kvio_log_gpa_pages(U64_MAX, 1, &first, &last));
	KUNIT_EXPECT_EQ(test, first, U64_MAX >> 12);
	KUNIT_EXPECT_EQ(test, last, U64_MAX >> 12);
	KUNIT_EXPECT_FALSE(test, kvio_log_gpa_pages(U64_MAX, 2, &first, &last));
	/* Everything: 2^64 - 1 bytes from 0 or from 1, not from 2. */
	KUNIT_ASSERT_TRUE(test, kvio_log_gpa_pages(0, U64_MAX, &first, &last));
	KUNIT_EXPECT_EQ(test, first, 0ULL);
	KUNIT_EXPECT_EQ(test, last, (U64_MAX - 1) >> 12);
	KUNIT_EXPECT_TRUE(test, kvio_log_gpa_pages(1, U64_MAX, &first, &last));
	KUNIT_EXPECT_FALSE(test, kvio_log_gpa_pages(2, U64_MAX, &first, &last));
}

static void log_bitmap_bytes(struct kunit *test)
{
	u64 start, end;

	/* One byte of bitmap covers 32 KiB of guest memory. */
	KUNIT_ASSERT_TRUE(test, kvio_log_bitmap_bytes(0x10000, 0, 0x7fff,
						      &start, &end));
	KUNIT_EXPECT_EQ(test, start, 0x10000ULL);
	KUNIT_EXPECT_EQ(test, end, 0x10000ULL);
	KUNIT_ASSERT_TRUE(test, kvio_log_bitmap_bytes(0x10000, 0x7fff, 0x8000,
						      &start, &end));
	KUNIT_EXPECT_EQ(test, end, 0x10001ULL);
	KUNIT_EXPECT_FALSE(test, kvio_log_bitmap_bytes(0x10000, 2, 1, &start,
						       &end));
	/* The bitmap of the top of the address space would pass 2^64. */
	KUNIT_EXPECT_FALSE(test, kvio_log_bitmap_bytes(U64_MAX - 10, 0,
						       U64_MAX, &start, &end));
	KUNIT_ASSERT_TRUE(test, kvio_log_bitmap_bytes(U64_MAX - (U64_MAX >> 15),
						      0, U64_MAX, &start,
						      &end));
	KUNIT_EXPECT_EQ(test, end, U64_MAX);
}

static void log_run_in_page(struct kunit *test)
{
	struct kvio_log_run run;

	KUNIT_ASSERT_TRUE(test, kvio_log_first_run(0x10000, 0, 9, &run));
	KUNIT_EXPECT_EQ(test, run.uaddr, 0x10000ULL);
	KUNIT_EXPECT_EQ(test, run.bit, 0u);
	KUNIT_EXPECT_EQ(test, run.nbits, 10u);
	KUNIT_EXPECT_EQ(test, run.last, 9ULL);
	/* Page 13: bit 5 of byte 1. */
	KUNIT_ASSERT_TRUE(test, kvio_log_first_run(0x10000, 13, 13, &run));
	KUNIT_EXPECT_EQ(test, run.uaddr, 0x10001ULL);
	KUNIT_EXPECT_EQ(test, run.bit, 13u);
	KUNIT_EXPECT_EQ(test, run.nbits, 1u);
	/* An unaligned bitmap: bits count from its page's start. */
	KUNIT_ASSERT_TRUE(test, kvio_log_first_run(0x10010, 3, 3, &run));
	KUNIT_EXPECT_EQ(test, run.bit, 0x10u * 8 + 3);
	KUNIT_EXPECT_FALSE(test, kvio_log_first_run(0x10000, 4, 3, &run));
}

static void log_run_across_pages(struct kunit *test)
{
	u64 base = 0x10000 + PAGE_SIZE - 1;	/* last byte of a page */
	u64 first = 0, last = 3 * KT_BITS_PER_PAGE, total = 0;
	struct kvio_log_run run;
	unsigned int runs = 0;

	KUNIT_ASSERT_TRUE(test, kvio_log_first_run(base, first, last, &run));
	KUNIT_EXPECT_EQ(test, run.bit, (unsigned int)KT_BITS_PER_PAGE - 8);
	KUNIT_EXPECT_EQ(test, run.nbits, 8u);
	KUNIT_EXPECT_EQ(test, run.last, 7ULL);
	/* The next run starts the next bitmap page at bit 0. */
	KUNIT_ASSERT_TRUE(test, kvio_log_first_run(base, 8, last, &run));
	KUNIT_EXPECT_EQ(test, run.uaddr, 0x10000ULL + PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, run.bit, 0u);
	KUNIT_EXPECT_EQ(test, run.nbits, (unsigned int)KT_BITS_PER_PAGE);

	/* Runs tile the range exactly, each within one page. */
	for (;;) {
		KUNIT_ASSERT_TRUE(test, kvio_log_first_run(base, first, last,
							   &run));
		KUNIT_ASSERT_LE(test, run.bit + run.nbits,
				(unsigned int)KT_BITS_PER_PAGE);
		KUNIT_ASSERT_EQ(test, run.last, first + run.nbits - 1);
		total += run.nbits;
		runs++;
		if (run.last == last)
			break;
		KUNIT_ASSERT_LT(test, runs, 10u);
		first = run.last + 1;
	}
	KUNIT_EXPECT_EQ(test, total, last + 1);
	KUNIT_EXPECT_EQ(test, runs, 4u);
}

static void log_run_overflow(struct kunit *test)
{
	struct kvio_log_run run;

	/* The bitmap byte of page 8 would be at 2^64. */
	KUNIT_EXPECT_FALSE(test, kvio_log_first_run(U64_MAX, 8, 8, &run));
	KUNIT_ASSERT_TRUE(test, kvio_log_first_run(U64_MAX, 0, 100, &run));
	KUNIT_EXPECT_EQ(test, run.uaddr, U64_MAX);
	KUNIT_EXPECT_EQ(test, run.nbits, 8u);
	/* The highest guest page, from bitmap 0. */
	KUNIT_ASSERT_TRUE(test, kvio_log_first_run(0, U64_MAX >> 12,
						   U64_MAX >> 12, &run));
	KUNIT_EXPECT_EQ(test, run.uaddr, U64_MAX >> 15);
}

/* Region guest [0x100000, 0x1fffff] at user 0x7f0000000000. */
static bool kt_region(u64 uaddr, u64 ulast, u64 *fp, u64 *lp)
{
	return kvio_log_region_pages(0x100000, 0x1fffff, 0x7f0000000000ULL,
				     uaddr, ulast, fp, lp);
}

static void log_region_pages(struct kunit *test)
{
	u64 fp, lp;

	KUNIT_ASSERT_TRUE(test, kt_region(0x7f0000001800ULL, 0x7f0000002800ULL,
					  &fp, &lp));
	KUNIT_EXPECT_EQ(test, fp, 0x101ULL);
	KUNIT_EXPECT_EQ(test, lp, 0x102ULL);
	/* Sticking out on both sides: clipped to the region. */
	KUNIT_ASSERT_TRUE(test, kt_region(0x7effffffffffULL, 0x7f0000200000ULL,
					  &fp, &lp));
	KUNIT_EXPECT_EQ(test, fp, 0x100ULL);
	KUNIT_EXPECT_EQ(test, lp, 0x1ffULL);
	/* One byte at each edge. */
	KUNIT_EXPECT_TRUE(test, kt_region(0x7effffff0000ULL, 0x7f0000000000ULL,
					  &fp, &lp));
	KUNIT_EXPECT_EQ(test, lp, 0x100ULL);
	KUNIT_EXPECT_TRUE(test, kt_region(0x7f00000fffffULL, 0x7f0000ffffffULL,
					  &fp, &lp));
	KUNIT_EXPECT_EQ(test, fp, 0x1ffULL);
	/* Just before and just after. */
	KUNIT_EXPECT_FALSE(test, kt_region(0x7effffff0000ULL, 0x7effffffffffULL,
					   &fp, &lp));
	KUNIT_EXPECT_FALSE(test, kt_region(0x7f0000100000ULL, 0x7f0000100000ULL,
					   &fp, &lp));
	/* Malformed: range reversed, region reversed, region wraps. */
	KUNIT_EXPECT_FALSE(test, kt_region(0x7f0000002000ULL, 0x7f0000001000ULL,
					   &fp, &lp));
	KUNIT_EXPECT_FALSE(test, kvio_log_region_pages(0x2000, 0x1000, 0, 0,
						       U64_MAX, &fp, &lp));
	KUNIT_EXPECT_FALSE(test, kvio_log_region_pages(0, 0x1fff,
						       U64_MAX - 0xfff, 0,
						       U64_MAX, &fp, &lp));
	/* A region at the top of the guest address space. */
	KUNIT_ASSERT_TRUE(test, kvio_log_region_pages(U64_MAX - 0xfff, U64_MAX,
						      0x1000, 0x1000, 0x1fff,
						      &fp, &lp));
	KUNIT_EXPECT_EQ(test, fp, U64_MAX >> 12);
	KUNIT_EXPECT_EQ(test, lp, U64_MAX >> 12);
}

static bool kt_bit(const u8 *map, unsigned int i)
{
	return map[i / 8] & (1U << (i % 8));
}

static void kt_check_bits(struct kunit *test, unsigned int start,
			  unsigned int nbits, u8 fill)
{
	u8 *map = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	unsigned int i, wrong = 0;

	KUNIT_ASSERT_NOT_NULL(test, map);
	memset(map, fill, PAGE_SIZE);
	kvio_log_set_bits(map, start, nbits);
	for (i = 0; i < KT_BITS_PER_PAGE; i++) {
		bool want = (i >= start && i - start < nbits) ||
			    (fill & (1U << (i % 8)));

		if (kt_bit(map, i) != want)
			wrong++;
	}
	KUNIT_EXPECT_EQ_MSG(test, wrong, 0u, "start %u nbits %u fill %#x",
			    start, nbits, fill);
}

static void log_set_bits(struct kunit *test)
{
	kt_check_bits(test, 0, 0, 0);
	kt_check_bits(test, 5, 0, 0);
	kt_check_bits(test, 0, 1, 0);
	kt_check_bits(test, 0, BITS_PER_LONG, 0);
	kt_check_bits(test, 3, BITS_PER_LONG, 0);
	kt_check_bits(test, BITS_PER_LONG - 1, 2, 0);
	kt_check_bits(test, 7, 3 * BITS_PER_LONG + 5, 0);
	kt_check_bits(test, KT_BITS_PER_PAGE - 1, 1, 0);
	kt_check_bits(test, 0, KT_BITS_PER_PAGE, 0);
	/* Bits already set (the VMM's) stay set. */
	kt_check_bits(test, 9, 100, 0x55);
	kt_check_bits(test, 0, 0, 0xff);
}

static struct kunit_case kvio_log_bits_cases[] = {
	KUNIT_CASE(log_gpa_pages_empty),
	KUNIT_CASE(log_gpa_pages_edges),
	KUNIT_CASE(log_gpa_pages_top),
	KUNIT_CASE(log_bitmap_bytes),
	KUNIT_CASE(log_run_in_page),
	KUNIT_CASE(log_run_across_pages),
	KUNIT_CASE(log_run_overflow),
	KUNIT_CASE(log_region_pages),
	KUNIT_CASE(log_set_bits),
	{}
};

static struct kunit_suite kvio_log_bits_suite = {
	.name = "kvio_log_bits",
	.test_cases = kvio_log_bits_cases,
};

kunit_test_suite(kvio_log_bits_suite);
