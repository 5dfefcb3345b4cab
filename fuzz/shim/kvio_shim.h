/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Just enough of the kernel's headers to compile kvio's pure sources
 * (core/chain.c, core/log_bits.c, vhost_blk/parse.c) in userspace, for the
 * fuzzers.  Included first in every such file (clang -include); the headers
 * in linux/ beside it stand in for kernel-only headers those sources
 * include.  Headers the kernel exports to userspace (linux/types.h,
 * linux/errno.h, linux/virtio_ring.h, linux/virtio_blk.h, asm/byteorder.h)
 * come from the system.
 */
#ifndef _KVIO_FUZZ_SHIM_H
#define _KVIO_FUZZ_SHIM_H

#include <endian.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/types.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s64 s64;

#define U32_MAX		((u32)~0U)
#define U64_MAX		((u64)~0ULL)
#define BITS_PER_LONG	(sizeof(long) * 8)

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define check_add_overflow(a, b, d)	__builtin_add_overflow(a, b, d)

#define min(a, b)	((a) < (b) ? (a) : (b))
#define max(a, b)	((a) > (b) ? (a) : (b))

#define u64_to_user_ptr(x)	((void *)(uintptr_t)(x))

/* User pointers are plain pointers here (sparse's address space). */
#define __user

/* linux/sizes.h */
#define SZ_1G			0x40000000

/* On-disk and on-wire little-endian fields (asm/byteorder.h). */
#define le32_to_cpu(x)		le32toh(x)
#define le64_to_cpu(x)		le64toh(x)

/* The dirty log's granule is 4 KiB guest pages; the bitmap's pages: */
#define PAGE_SIZE		4096UL
#define PAGE_MASK		(~(PAGE_SIZE - 1))
#define offset_in_page(p)	((unsigned long)(p) & ~PAGE_MASK)

/* linux/virtio_byteorder.h: legacy rings may be big-endian. */
static inline u16 __virtio16_to_cpu(bool little_endian, __u16 val)
{
	return little_endian ? le16toh(val) : be16toh(val);
}

static inline u32 __virtio32_to_cpu(bool little_endian, __u32 val)
{
	return little_endian ? le32toh(val) : be32toh(val);
}

static inline u64 __virtio64_to_cpu(bool little_endian, __u64 val)
{
	return little_endian ? le64toh(val) : be64toh(val);
}

/* Atomic bit operations, as the VMM clears bits while we set them. */
typedef struct {
	long counter;
} atomic_long_t;

static inline void atomic_long_or(long i, atomic_long_t *v)
{
	__atomic_fetch_or(&v->counter, i, __ATOMIC_RELAXED);
}

static inline void set_bit_le(unsigned int nr, void *addr)
{
	__atomic_fetch_or((u8 *)addr + nr / 8, (u8)(1U << (nr % 8)),
			  __ATOMIC_RELAXED);
}

#endif /* _KVIO_FUZZ_SHIM_H */
