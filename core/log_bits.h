/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Dirty-log bitmap arithmetic: which bitmap bits a guest range maps to.  One
 * bit per 4 KiB guest page, whatever PAGE_SIZE is: bit n (little-endian bit
 * order, bit n % 8 of byte n / 8) for guest page n, in a bitmap at the
 * owner's user address log_base.
 *
 * Pure functions: log.c pins, maps and signals; this file only computes, so
 * the KUnit suites and the userspace fuzzer (fuzz/) run the same code.
 */
#ifndef _KVIO_LOG_BITS_H
#define _KVIO_LOG_BITS_H

#include <linux/types.h>

#define KVIO_LOG_PAGE_SHIFT	12
/* Guest bytes covered by one byte of bitmap, as a shift. */
#define KVIO_LOG_BYTE_SHIFT	(KVIO_LOG_PAGE_SHIFT + 3)

/*
 * Guest pages [*first, *last] of guest-physical [gpa, gpa + len).  False if
 * len is 0 (nothing to mark) or the range runs past 2^64.
 */
bool kvio_log_gpa_pages(u64 gpa, u64 len, u64 *first, u64 *last);

/*
 * Bitmap bytes [*start, *end] (user addresses) holding the bits of
 * guest-physical addresses [first, last].  False if last < first or an
 * address overflows.
 */
bool kvio_log_bitmap_bytes(u64 log_base, u64 first, u64 last, u64 *start,
			   u64 *end);

/* The bits of a run of guest pages that sit in one bitmap page. */
struct kvio_log_run {
	u64 uaddr;		/* bitmap byte of the run's first page */
	unsigned int bit;	/* first bit, from the bitmap page's start */
	unsigned int nbits;	/* >= 1 */
	u64 last;		/* last guest page of the run */
};

/*
 * The first run of guest pages [first, last]: from @first up to @last or
 * the end of the bitmap page holding @first's bit, whichever comes first.
 * False if last < first, or the bitmap byte's address overflows or is not
 * a user address (above ULONG_MAX).
 */
bool kvio_log_first_run(u64 log_base, u64 first, u64 last,
			struct kvio_log_run *run);

/*
 * The guest pages [*first, *last] behind user addresses [uaddr, ulast]
 * inside the memory region guest [start, last] -> user @region_uaddr.
 * False if the ranges do not meet or either is malformed (ends before it
 * starts, or the region's user range passes 2^64).
 */
bool kvio_log_region_pages(u64 start, u64 last, u64 region_uaddr, u64 uaddr,
			   u64 ulast, u64 *first_page, u64 *last_page);

/*
 * Sets bits [start, start + nbits) of @bitmap, atomically against a VMM
 * clearing bits of the same words.
 */
void kvio_log_set_bits(void *bitmap, unsigned int start, unsigned int nbits);

#endif /* _KVIO_LOG_BITS_H */
