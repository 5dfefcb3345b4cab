// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the dirty-log bitmap arithmetic, core/log_bits.c,
 * compiled unchanged in userspace.  Every answer is checked against the
 * same computation done in 128-bit arithmetic, which cannot overflow, and
 * the bit setter against a bit-by-bit model.  Layout, little-endian,
 * missing bytes read 0:
 *
 *   u64 log_base, u64 gpa, u64 len
 *   u64 region start, u64 region last, u64 region uaddr, u64 uaddr, u64 ulast
 *   u16 bit start, u16 bit count, then the bitmap page's initial bytes
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log_bits.h"
#include "harness.h"

typedef unsigned __int128 u128;

#define BITMAP_BITS	(PAGE_SIZE * 8)

static void check_gpa_pages(u64 gpa, u64 len, u64 *first, u64 *last,
			    bool *ok)
{
	u128 end = (u128)gpa + len - 1;

	*ok = kvio_log_gpa_pages(gpa, len, first, last);
	if (len == 0 || end > U64_MAX) {
		check(!*ok);
		return;
	}
	check(*ok);
	check(*first == gpa >> 12);
	check(*last == (u64)(end >> 12));
}

static void check_bitmap_bytes(u64 log_base, u64 first, u64 last)
{
	u128 start = (u128)log_base + (first >> 15);
	u128 end = (u128)log_base + (last >> 15);
	u64 s, e;
	bool ok;

	ok = kvio_log_bitmap_bytes(log_base, first, last, &s, &e);
	if (last < first || start > U64_MAX || end > U64_MAX) {
		check(!ok);
		return;
	}
	check(ok);
	check(s == start && e == end);
	check(s <= e);
}

/* Walks runs over pages [first, last] like log.c, at most 64 of them. */
static void check_runs(u64 log_base, u64 first, u64 last)
{
	unsigned int n;

	for (n = 0; n < 64; n++) {
		struct kvio_log_run run;
		u128 byte = (u128)log_base + (first >> 3);
		bool ok = kvio_log_first_run(log_base, first, last, &run);

		if (last < first || byte > ULONG_MAX) {
			check(!ok);
			return;
		}
		check(ok);
		check(run.uaddr == (u64)byte);
		check(run.bit == (run.uaddr % PAGE_SIZE) * 8 + (first & 7));
		check(run.nbits >= 1);
		check(run.bit + run.nbits <= BITMAP_BITS);
		check((u128)first + run.nbits - 1 == run.last);
		check(run.last <= last);
		/* A run stops early only at the end of its bitmap page. */
		if (run.last < last)
			check(run.bit + run.nbits == BITMAP_BITS);
		else
			return;
		first = run.last + 1;
	}
}

static void check_region_pages(u64 start, u64 last, u64 ru, u64 uaddr,
			       u64 ulast)
{
	u128 rulast = (u128)ru + (last - start);
	u64 fp, lp;
	bool ok;

	ok = kvio_log_region_pages(start, last, ru, uaddr, ulast, &fp, &lp);
	if (last < start || ulast < uaddr || rulast > U64_MAX ||
	    ru > ulast || rulast < uaddr) {
		check(!ok);
		return;
	}
	check(ok);
	{
		u128 lo = ru > uaddr ? ru : uaddr;
		u128 hi = rulast < ulast ? rulast : ulast;

		check(fp == (u64)((start + (lo - ru)) >> 12));
		check(lp == (u64)((start + (hi - ru)) >> 12));
		check(fp <= lp && lp <= last >> 12 && fp >= start >> 12);
	}
}

static void check_set_bits(unsigned int start, unsigned int nbits,
			   struct cursor *cur)
{
	static unsigned long page[PAGE_SIZE / sizeof(unsigned long)];
	static u8 expect[PAGE_SIZE];
	unsigned int i, end;

	start %= BITMAP_BITS;
	nbits %= BITMAP_BITS - start + 1;
	end = start + nbits;
	memset(expect, 0, sizeof(expect));
	memcpy(expect, cur->p, cur->n < PAGE_SIZE ? cur->n : PAGE_SIZE);
	memcpy(page, expect, PAGE_SIZE);

	kvio_log_set_bits(page, start, nbits);
	/* The model: bit by bit at the edges, whole bytes in between. */
	for (i = start; i < end && i % 8; i++)
		expect[i / 8] |= 1U << (i % 8);
	for (; i + 8 <= end; i += 8)
		expect[i / 8] = 0xff;
	for (; i < end; i++)
		expect[i / 8] |= 1U << (i % 8);
	check(!memcmp(page, expect, PAGE_SIZE));
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct cursor cur = { data, size };
	u64 log_base = take(&cur, 8), gpa = take(&cur, 8), len = take(&cur, 8);
	u64 rstart = take(&cur, 8), rlast = take(&cur, 8);
	u64 ruaddr = take(&cur, 8), uaddr = take(&cur, 8);
	u64 ulast = take(&cur, 8);
	unsigned int bit = take(&cur, 2), nbits = take(&cur, 2);
	u64 first = 0, last = 0;
	bool ok;

	check_gpa_pages(gpa, len, &first, &last, &ok);
	/* The guest-address form (kvio_log_range_ok), then the page runs. */
	check_bitmap_bytes(log_base, gpa, gpa + (len ? len - 1 : 0));
	if (ok)
		check_runs(log_base, first, last);
	/* Arbitrary page numbers too, not only ones a shift produced. */
	check_runs(log_base, gpa, len);
	check_region_pages(rstart, rlast, ruaddr, uaddr, ulast);
	check_set_bits(bit, nbits, &cur);
	return 0;
}
