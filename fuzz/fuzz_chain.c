// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the descriptor-chain parser, core/chain.c, compiled
 * unchanged in userspace.
 *
 * The input is a ring configuration, a memory layout (up to six regions,
 * guest [start, last] -> user address, with permissions), the descriptor
 * table, and "guest memory" (the arena) where regions that map into it let
 * indirect tables be read.  Layout, little-endian, missing bytes read 0:
 *
 *   u8  cfg     bit 0 little-endian ring, 1 log, 2 log user addresses,
 *               3 read_desc fails at index fail, 4 unmapped is -EAGAIN,
 *               5 skip_faults (a vIOMMU domain's walk)
 *   u8  num     ring size 1 + num % 64
 *   u8  iovs    iovecs 1 + iovs % 16
 *   u8  logs    log entries logs % 17
 *   u8  head
 *   u8  fail
 *   u8  nreg    regions nreg % 7, then each:
 *               u64 start, u32 len - 1, u16 arena offset, u8 perm (1 r, 2 w)
 *   num * 16    the descriptor table
 *   rest        the arena (user addresses ARENA_BASE...)
 *
 * Beyond the sanitizers, each run checks what the parser promises: ops are
 * called with valid arguments and a bounded number of times; on success
 * every iovec lies in a region with the right permission, the log matches
 * the writable iovecs, and the byte counts match a naive second walk of the
 * same chain (no more than it with skip_faults, when buffers were left out);
 * a chain that walk finds malformed must be refused, and a chain it finds
 * well formed may only be refused for an address or capacity reason, and
 * with skip_faults never for a buffer that does not translate.  Any mismatch aborts, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <linux/virtio_ring.h>

#include <kvio/chain.h>
#include "harness.h"

#define MAX_NUM		64
#define MAX_IOVS	16
#define MAX_LOGS	16
#define MAX_REGIONS	6
#define ARENA_MAX	65536
#define ARENA_BASE	0x100000000ULL

struct region {
	u64 start, last, uaddr;
	u8 perm;
};

struct input {
	bool le, log, log_uaddr, desc_fail, miss_again, skip_faults;
	unsigned int num, iovs, logs, head, fail;
	unsigned int nreg;
	struct region reg[MAX_REGIONS];
	struct vring_desc table[MAX_NUM];
	const u8 *arena;
	size_t arena_len;
	/* Op calls, bounded by the chain rules. */
	unsigned long read_descs, translates, reads;
};

static bool overlaps(const struct input *in, const struct region *r)
{
	unsigned int i;

	for (i = 0; i < in->nreg; i++)
		if (r->start <= in->reg[i].last && in->reg[i].start <= r->last)
			return true;
	return false;
}

static void parse(struct input *in, const u8 *data, size_t size)
{
	struct cursor cur = { data, size };
	unsigned int i, n, cfg;

	memset(in, 0, sizeof(*in));
	cfg = take(&cur, 1);
	in->le = cfg & 1;
	in->log = cfg & 2;
	in->log_uaddr = cfg & 4;
	in->desc_fail = cfg & 8;
	in->miss_again = cfg & 16;
	in->skip_faults = cfg & 32;
	in->num = 1 + take(&cur, 1) % MAX_NUM;
	in->iovs = 1 + take(&cur, 1) % MAX_IOVS;
	in->logs = take(&cur, 1) % (MAX_LOGS + 1);
	in->head = take(&cur, 1);
	in->fail = take(&cur, 1);
	n = take(&cur, 1) % (MAX_REGIONS + 1);
	for (i = 0; i < n; i++) {
		struct region *r = &in->reg[in->nreg];
		u64 len_1;

		r->start = take(&cur, 8);
		len_1 = take(&cur, 4);
		/* A region ends at 2^64 - 1 at the latest, as in the kernel. */
		r->last = r->start > U64_MAX - len_1 ? U64_MAX : r->start + len_1;
		r->uaddr = ARENA_BASE + take(&cur, 2);
		r->perm = take(&cur, 1) & 3;
		/*
		 * Maps never overlap in guest addresses (the memory table
		 * refuses it, the IOTLB replaces); they may alias in user
		 * addresses.
		 */
		if (!overlaps(in, r))
			in->nreg++;
	}
	for (i = 0; i < in->num; i++) {
		size_t n = cur.n < sizeof(in->table[i]) ? cur.n :
			   sizeof(in->table[i]);

		memcpy(&in->table[i], cur.p, n);
		cur.p += n;
		cur.n -= n;
	}
	in->arena = cur.p;
	in->arena_len = cur.n < ARENA_MAX ? cur.n : ARENA_MAX;
}

static const struct region *lookup(const struct input *in, u64 addr)
{
	unsigned int i;

	for (i = 0; i < in->nreg; i++)
		if (in->reg[i].start <= addr && addr <= in->reg[i].last)
			return &in->reg[i];
	return NULL;
}

/* The region whose user range holds [uaddr, uaddr + len), len > 0. */
static const struct region *user_region(const struct input *in, u64 uaddr,
					u64 len, u8 perm)
{
	unsigned int i;

	for (i = 0; i < in->nreg; i++) {
		const struct region *r = &in->reg[i];
		u64 ulast = r->uaddr + (r->last - r->start);

		if ((r->perm & perm) == perm && uaddr >= r->uaddr &&
		    uaddr <= ulast && len - 1 <= ulast - uaddr)
			return r;
	}
	return NULL;
}

/*
 * Whether user range [uaddr, uaddr + len), len > 0, is covered by regions
 * with @perm (an iovec may merge pieces of regions adjacent in user memory).
 */
static bool user_covered(const struct input *in, u64 uaddr, u64 len, u8 perm)
{
	u64 last = uaddr + (len - 1);

	for (;;) {
		const struct region *best = NULL;
		unsigned int i;

		for (i = 0; i < in->nreg; i++) {
			const struct region *r = &in->reg[i];
			u64 ulast = r->uaddr + (r->last - r->start);

			if ((r->perm & perm) == perm && r->uaddr <= uaddr &&
			    uaddr <= ulast &&
			    (!best || ulast > best->uaddr +
					      (best->last - best->start)))
				best = r;
		}
		if (!best)
			return false;
		if (best->uaddr + (best->last - best->start) >= last)
			return true;
		uaddr = best->uaddr + (best->last - best->start) + 1;
	}
}

static int op_read_desc(struct kvio_chain *c, unsigned int i,
			struct vring_desc *raw)
{
	struct input *in = c->priv;

	check(i < in->num);
	check(++in->read_descs <= in->num);
	if (in->desc_fail && i == in->fail)
		return -EFAULT;
	*raw = in->table[i];
	return 0;
}

static int op_translate(struct kvio_chain *c, u64 addr, bool write,
			struct kvio_chain_map *map)
{
	struct input *in = c->priv;
	const struct region *r = lookup(in, addr);

	in->translates++;
	if (!r)
		return in->miss_again ? -EAGAIN : -EFAULT;
	if (!(r->perm & (write ? 2 : 1)))
		return -EFAULT;
	map->start = r->start;
	map->last = r->last;
	map->uaddr = r->uaddr;
	return 0;
}

static int op_read(struct kvio_chain *c, u64 uaddr, void *buf, size_t len)
{
	struct input *in = c->priv;

	/* Table entries only, and only through a readable translation. */
	check(len > 0 && len <= sizeof(struct vring_desc));
	check(user_region(in, uaddr, len, 1));
	in->reads++;
	if (uaddr < ARENA_BASE || uaddr - ARENA_BASE > in->arena_len ||
	    len > in->arena_len - (uaddr - ARENA_BASE))
		return -EFAULT;
	memcpy(buf, in->arena + (uaddr - ARENA_BASE), len);
	return 0;
}

static const struct kvio_chain_ops ops = {
	.read_desc = op_read_desc,
	.translate = op_translate,
	.read = op_read,
};

/* The naive second walk: rules only, no translation of buffers. */
enum ref_verdict { REF_VALID, REF_MALFORMED, REF_UNKNOWN };

struct ref_desc {
	u64 addr;
	u32 len;
	u16 flags, next;
};

static struct ref_desc ref_decode(const struct input *in,
				  const struct vring_desc *raw)
{
	struct ref_desc d = {
		.addr = __virtio64_to_cpu(in->le, raw->addr),
		.len = __virtio32_to_cpu(in->le, raw->len),
		.flags = __virtio16_to_cpu(in->le, raw->flags),
		.next = __virtio16_to_cpu(in->le, raw->next),
	};
	return d;
}

/* Reads an indirect entry byte by byte; false if any byte is unreadable. */
static bool ref_read_entry(const struct input *in, u64 addr,
			   struct vring_desc *raw)
{
	u8 *b = (u8 *)raw;
	unsigned int k;

	for (k = 0; k < sizeof(*raw); k++) {
		const struct region *r = lookup(in, addr + k);
		u64 off;

		if (!r || !(r->perm & 1))
			return false;
		off = r->uaddr + (addr + k - r->start) - ARENA_BASE;
		if (r->uaddr + (addr + k - r->start) < ARENA_BASE ||
		    off >= in->arena_len)
			return false;
		b[k] = in->arena[off];
	}
	return true;
}

/* Accounts one buffer; false if it breaks the readable-first rule. */
static bool ref_buffer(const struct ref_desc *d, u64 *rd, u64 *wr)
{
	if (d->flags & VRING_DESC_F_WRITE) {
		*wr += d->len;
		return true;
	}
	if (*wr)
		return false;
	*rd += d->len;
	return true;
}

static enum ref_verdict ref_walk(const struct input *in, u64 *rd, u64 *wr)
{
	unsigned int i = in->head, steps = 0;
	struct ref_desc d;

	*rd = 0;
	*wr = 0;
	if (i >= in->num)
		return REF_MALFORMED;
	for (;;) {
		if (++steps > in->num)
			return REF_MALFORMED;
		if (in->desc_fail && i == in->fail)
			return REF_UNKNOWN;
		d = ref_decode(in, &in->table[i]);
		if (d.flags & VRING_DESC_F_INDIRECT)
			break;
		if (!ref_buffer(&d, rd, wr))
			return REF_MALFORMED;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return REF_VALID;
		i = d.next;
		if (i >= in->num)
			return REF_MALFORMED;
	}

	/* An indirect table ends the chain. */
	{
		u64 base = d.addr, count = d.len / 16;
		unsigned int j = 0;

		if (d.flags & VRING_DESC_F_NEXT)
			return REF_MALFORMED;
		if (d.len == 0 || d.len % 16 || count > 32768)
			return REF_MALFORMED;
		if (base + (d.len - 1) < base)
			return REF_MALFORMED;
		steps = 0;
		for (;;) {
			struct vring_desc raw;

			if (++steps > count)
				return REF_MALFORMED;
			if (!ref_read_entry(in, base + 16ULL * j, &raw))
				return REF_UNKNOWN;
			d = ref_decode(in, &raw);
			if (d.flags & VRING_DESC_F_INDIRECT)
				return REF_MALFORMED;
			if (!ref_buffer(&d, rd, wr))
				return REF_MALFORMED;
			if (!(d.flags & VRING_DESC_F_NEXT))
				return REF_VALID;
			j = d.next;
			if (j >= count)
				return REF_MALFORMED;
		}
	}
}

static bool structural(enum kvio_chain_fault f)
{
	switch (f) {
	case KVIO_CHAIN_BUF_FAULT:
	case KVIO_CHAIN_IOV_FULL:
	case KVIO_CHAIN_LOG_FULL:
	case KVIO_CHAIN_DESC_FAULT:
	case KVIO_CHAIN_IND_FAULT:
		return false;
	default:
		return true;
	}
}

static void check_success(const struct input *in, const struct kvio_chain *c,
			  u64 rd, u64 wr)
{
	u64 out_bytes = 0, in_bytes = 0;
	unsigned int i;

	check(c->fault == KVIO_CHAIN_OK);
	check(c->out + c->in <= c->iov_count);
	/* Every descriptor counted gave an iovec at least. */
	check(c->bufs <= c->out + c->in);
	check(!c->bufs == !(c->out + c->in));
	for (i = 0; i < c->out + c->in; i++) {
		const struct iovec *v = &c->iov[i];
		u64 base = (u64)(uintptr_t)v->iov_base;
		bool writable = i >= c->out;

		check(v->iov_len > 0);
		check(user_covered(in, base, v->iov_len, writable ? 2 : 1));
		if (writable)
			in_bytes += v->iov_len;
		else
			out_bytes += v->iov_len;
	}
	if (c->faults) {
		/* Left out: fewer bytes, never more. */
		check(c->skip_faults);
		check(out_bytes <= rd);
		check(in_bytes <= wr);
	} else {
		check(out_bytes == rd);
		check(in_bytes == wr);
	}

	if (!c->log) {
		check(c->log_num == 0);
		return;
	}
	check(c->log_num <= c->log_max);
	if (c->log_uaddr) {
		/* One entry per writable iovec, the same ranges. */
		check(c->log_num == c->in);
		for (i = 0; i < c->in; i++) {
			const struct iovec *v = &c->iov[c->out + i];

			check(c->log[i].addr == (u64)(uintptr_t)v->iov_base);
			check(c->log[i].len == v->iov_len);
		}
	} else {
		u64 logged = 0;

		for (i = 0; i < c->log_num; i++) {
			check(c->log[i].len > 0);
			logged += c->log[i].len;
		}
		check(c->faults ? logged <= wr : logged == wr);
	}
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct input in;
	struct kvio_chain c = { 0 };
	enum ref_verdict verdict;
	u64 rd, wr;
	int ret;

	parse(&in, data, size);
	/* Exactly the sizes the parser is told, so ASan sees any overrun. */
	c.iov = malloc(sizeof(*c.iov) * in.iovs);
	c.log = in.log ? malloc(sizeof(*c.log) * (in.logs ? in.logs : 1)) :
		NULL;
	check(c.iov && (!in.log || c.log));
	c.ops = &ops;
	c.priv = &in;
	c.num = in.num;
	c.little_endian = in.le;
	c.log_uaddr = in.log_uaddr;
	c.skip_faults = in.skip_faults;
	c.iov_count = in.iovs;
	c.log_max = in.logs;

	ret = kvio_chain_walk(&c, in.head);
	verdict = ref_walk(&in, &rd, &wr);

	/* A direct walk reads each slot at most once per visit. */
	check(in.read_descs <= in.num);
	check(in.reads <= 32768UL * 16);
	if (ret == 0) {
		check(verdict == REF_VALID);
		check_success(&in, &c, rd, wr);
	} else {
		check(ret < 0);
		check(c.fault != KVIO_CHAIN_OK && c.fault < KVIO_CHAIN_NR_FAULTS);
		check(ret == -EINVAL || ret == -EFAULT || ret == -ENOBUFS ||
		      ret == -EAGAIN);
		if (verdict == REF_VALID)
			check(!structural(c.fault));
		if (structural(c.fault))
			check(verdict == REF_MALFORMED);
		/* Skipped, an untranslatable buffer never ends the walk. */
		if (in.skip_faults)
			check(!(c.fault == KVIO_CHAIN_BUF_FAULT &&
				ret == -EFAULT));
	}
	free(c.iov);
	free(c.log);
	return 0;
}
