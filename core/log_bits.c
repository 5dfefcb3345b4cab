// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dirty-log bitmap arithmetic (core/log_bits.h).  Also compiled in userspace
 * by fuzz/ (with fuzz/shim/), so it includes nothing beyond the headers the
 * shim provides.
 */
#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/overflow.h>

#include "log_bits.h"

bool kvio_log_gpa_pages(u64 gpa, u64 len, u64 *first, u64 *last)
{
	u64 end;

	/* A zero-length write marks nothing (CVE-2019-14835). */
	if (!len)
		return false;
	if (check_add_overflow(gpa, len - 1, &end))
		return false;
	*first = gpa >> KVIO_LOG_PAGE_SHIFT;
	*last = end >> KVIO_LOG_PAGE_SHIFT;
	return true;
}

bool kvio_log_bitmap_bytes(u64 log_base, u64 first, u64 last, u64 *start,
			   u64 *end)
{
	if (last < first)
		return false;
	return !check_add_overflow(log_base, first >> KVIO_LOG_BYTE_SHIFT,
				   start) &&
	       !check_add_overflow(log_base, last >> KVIO_LOG_BYTE_SHIFT, end);
}

bool kvio_log_first_run(u64 log_base, u64 first, u64 last,
			struct kvio_log_run *run)
{
	unsigned int room;
	u64 uaddr;

	if (last < first)
		return false;
	if (check_add_overflow(log_base, first >> 3, &uaddr) ||
	    uaddr > ULONG_MAX)
		return false;
	run->uaddr = uaddr;
	run->bit = offset_in_page(uaddr) * 8 + (first & 7);
	/* Bits left in this bitmap page, at least 1. */
	room = PAGE_SIZE * 8 - run->bit;
	if (last - first >= room) {
		run->nbits = room;
		run->last = first + room - 1;
	} else {
		run->nbits = last - first + 1;
		run->last = last;
	}
	return true;
}

bool kvio_log_region_pages(u64 start, u64 last, u64 region_uaddr, u64 uaddr,
			   u64 ulast, u64 *first_page, u64 *last_page)
{
	u64 region_ulast, first_hit, last_hit;

	if (last < start || ulast < uaddr)
		return false;
	if (check_add_overflow(region_uaddr, last - start, &region_ulast))
		return false;
	if (region_uaddr > ulast || region_ulast < uaddr)
		return false;
	first_hit = max(region_uaddr, uaddr);
	last_hit = min(region_ulast, ulast);
	/* Both within the region, so neither sum passes @last. */
	*first_page = (start + (first_hit - region_uaddr)) >>
		      KVIO_LOG_PAGE_SHIFT;
	*last_page = (start + (last_hit - region_uaddr)) >> KVIO_LOG_PAGE_SHIFT;
	return true;
}

void kvio_log_set_bits(void *bitmap, unsigned int start, unsigned int nbits)
{
	unsigned long *words = bitmap;

	while (nbits && start % BITS_PER_LONG) {
		set_bit_le(start++, bitmap);
		nbits--;
	}
	/* A whole word of ones reads the same in any byte order. */
	while (nbits >= BITS_PER_LONG) {
		atomic_long_or(-1L,
			       (atomic_long_t *)&words[start / BITS_PER_LONG]);
		start += BITS_PER_LONG;
		nbits -= BITS_PER_LONG;
	}
	while (nbits--)
		set_bit_le(start++, bitmap);
}
