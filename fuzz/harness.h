/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What every harness of fuzz/ shares: check(), which aborts (libFuzzer
 * records a crash) when a promise of the code under test is broken, and a
 * cursor that takes little-endian fields from the input, reading missing
 * bytes as 0.
 */
#ifndef _KVIO_FUZZ_HARNESS_H
#define _KVIO_FUZZ_HARNESS_H

#include <stdio.h>
#include <stdlib.h>

#define check(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
			__LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

struct cursor {
	const u8 *p;
	size_t n;
};

/* The next @bytes (at most 8) of the input, little-endian. */
static inline u64 take(struct cursor *cur, unsigned int bytes)
{
	u64 v = 0;
	unsigned int i;

	for (i = 0; i < bytes; i++) {
		if (cur->n) {
			v |= (u64)*cur->p << (8 * i);
			cur->p++;
			cur->n--;
		}
	}
	return v;
}

#endif /* _KVIO_FUZZ_HARNESS_H */
