// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "kvio_chain": the descriptor-chain parser (core/chain.c) over
 * a descriptor table in kernel memory, a memory table that is a real
 * struct kvio_as (so lookups go through kvio_as_translate() as in the
 * engine),
 * and an arena that plays the owner's memory for indirect tables.  "User
 * addresses" are KT_UBASE + arena offset; they are compared, never
 * dereferenced, except through the read op, which checks them.
 */
#include <kunit/test.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_ring.h>

#include <kvio/chain.h>
#include <kvio/as.h>

#define KT_NUM		512
#define KT_ARENA	(64 * 1024)
#define KT_UBASE	0x7f0000000000ULL

struct kt_chain {
	struct kvio_as *mem;
	u8 *arena;
	struct vring_desc table[KT_NUM];
	struct iovec iov[KT_NUM];
	struct kvio_log log[KT_NUM];
	struct kvio_chain c;
	bool le;
	int desc_fail_at;	/* -1: none */
	int miss_err;		/* what an unmapped address returns */
	unsigned int reschedules;
};

static int kt_read_desc(struct kvio_chain *c, unsigned int i,
			struct vring_desc *raw)
{
	struct kt_chain *t = c->priv;

	if (i >= KT_NUM)
		return -EIO;	/* the parser must never ask */
	if ((int)i == t->desc_fail_at)
		return -EFAULT;
	*raw = t->table[i];
	return 0;
}

static int kt_translate(struct kvio_chain *c, u64 addr, bool write,
			struct kvio_chain_map *cmap)
{
	struct kt_chain *t = c->priv;
	u32 perm = write ? KVIO_PERM_WO : KVIO_PERM_RO;
	struct kvio_as_entry map;
	struct kvio_piece p;
	int ret;

	if (!kvio_as_lookup(t->mem, addr, &map))
		return t->miss_err;
	ret = kvio_as_translate(NULL, t->mem, addr, U64_MAX, perm, &p);
	if (ret)
		return ret;
	cmap->start = addr;
	cmap->last = p.last;
	cmap->uaddr = p.hva;
	return 0;
}

static int kt_read(struct kvio_chain *c, u64 uaddr, void *buf, size_t len)
{
	struct kt_chain *t = c->priv;

	if (uaddr < KT_UBASE || uaddr - KT_UBASE > KT_ARENA ||
	    len > KT_ARENA - (uaddr - KT_UBASE))
		return -EFAULT;
	memcpy(buf, t->arena + (uaddr - KT_UBASE), len);
	return 0;
}

static void kt_resched(struct kvio_chain *c)
{
	struct kt_chain *t = c->priv;

	t->reschedules++;
}

static const struct kvio_chain_ops kt_ops = {
	.read_desc = kt_read_desc,
	.translate = kt_translate,
	.read = kt_read,
	.resched = kt_resched,
};

static int kt_chain_init(struct kunit *test)
{
	struct kt_chain *t;

	t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t);
	t->arena = kunit_kzalloc(test, KT_ARENA, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t->arena);
	t->mem = kvio_as_alloc(NULL, NULL, 0, 0);
	KUNIT_ASSERT_NOT_NULL(test, t->mem);
	t->le = true;
	t->desc_fail_at = -1;
	t->miss_err = -EFAULT;
	t->c.ops = &kt_ops;
	t->c.priv = t;
	t->c.num = 4;
	t->c.iov = t->iov;
	t->c.iov_count = KT_NUM;
	t->c.log_max = KT_NUM;
	test->priv = t;
	return 0;
}

static void kt_chain_exit(struct kunit *test)
{
	struct kt_chain *t = test->priv;

	if (t)
		kvio_as_put(t->mem);
}

/* Guest [gpa, gpa + len) -> arena offset @off. */
static void kt_map(struct kunit *test, u64 gpa, u64 len, u64 off, u32 perm)
{
	struct kt_chain *t = test->priv;

	KUNIT_ASSERT_EQ(test, kvio_as_map(t->mem, gpa, gpa + len - 1,
					  KT_UBASE + off, perm, NULL), 0);
}

static void kt_fill(struct kt_chain *t, struct vring_desc *d, u64 addr,
		    u32 len, u16 flags, u16 next)
{
	d->addr = __cpu_to_virtio64(t->le, addr);
	d->len = __cpu_to_virtio32(t->le, len);
	d->flags = __cpu_to_virtio16(t->le, flags);
	d->next = __cpu_to_virtio16(t->le, next);
}

/* Ring descriptor @i. */
static void kt_desc(struct kunit *test, unsigned int i, u64 addr, u32 len,
		    u16 flags, u16 next)
{
	struct kt_chain *t = test->priv;

	kt_fill(t, &t->table[i], addr, len, flags, next);
}

/* An indirect-table entry at arena offset @off. */
static void kt_entry(struct kunit *test, size_t off, u64 addr, u32 len,
		     u16 flags, u16 next)
{
	struct kt_chain *t = test->priv;
	struct vring_desc d;

	kt_fill(t, &d, addr, len, flags, next);
	memcpy(t->arena + off, &d, sizeof(d));
}

static int kt_walk(struct kunit *test, unsigned int head)
{
	struct kt_chain *t = test->priv;

	t->c.little_endian = t->le;
	return kvio_chain_walk(&t->c, head);
}

static u64 kt_iov_base(struct kunit *test, unsigned int i)
{
	struct kt_chain *t = test->priv;

	return (u64)(uintptr_t)t->iov[i].iov_base;
}

static void kt_expect_fault(struct kunit *test, unsigned int head, int err,
			    enum kvio_chain_fault fault)
{
	struct kt_chain *t = test->priv;

	KUNIT_EXPECT_EQ(test, kt_walk(test, head), err);
	KUNIT_EXPECT_EQ(test, t->c.fault, fault);
}

/* Most cases: guest RAM [0x10000, 0x20000) -> arena [0, 64 KiB), RW. */
#define KT_RAM		0x10000ULL

static void kt_ram(struct kunit *test)
{
	kt_map(test, KT_RAM, KT_ARENA, 0, KVIO_PERM_RW);
}

/* Valid chains. */

static void chain_direct_single(struct kunit *test)
{
	struct kt_chain *t = test->priv;

	kt_ram(test);
	kt_desc(test, 2, KT_RAM + 0x100, 64, 0, 0);
	KUNIT_EXPECT_EQ(test, kt_walk(test, 2), 0);
	KUNIT_EXPECT_EQ(test, t->c.fault, KVIO_CHAIN_OK);
	KUNIT_EXPECT_EQ(test, t->c.out, 1u);
	KUNIT_EXPECT_EQ(test, t->c.in, 0u);
	KUNIT_EXPECT_EQ(test, kt_iov_base(test, 0), KT_UBASE + 0x100);
	KUNIT_EXPECT_EQ(test, t->iov[0].iov_len, (size_t)64);
}

static void chain_direct_out_in_log(struct kunit *test)
{
	struct kt_chain *t = test->priv;

	kt_ram(test);
	t->c.log = t->log;
	kt_desc(test, 0, KT_RAM, 16, VRING_DESC_F_NEXT, 3);
	kt_desc(test, 3, KT_RAM + 0x1000, 100, VRING_DESC_F_NEXT, 1);
	kt_desc(test, 1, KT_RAM + 0x2000, 512,
		VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	kt_desc(test, 2, KT_RAM + 0x3000, 1, VRING_DESC_F_WRITE, 0);
	KUNIT_EXPECT_EQ(test, kt_walk(test, 0), 0);
	KUNIT_EXPECT_EQ(test, t->c.out, 2u);
	KUNIT_EXPECT_EQ(test, t->c.in, 2u);
	KUNIT_EXPECT_EQ(test, kt_iov_base(test, 1), KT_UBASE + 0x1000);
	KUNIT_EXPECT_EQ(test, kt_iov_base(test, 2), KT_UBASE + 0x2000);
	KUNIT_EXPECT_EQ(test, t->iov[3].iov_len, (size_t)1);
	/* Guest-physical ranges of the writable buffers, one each. */
	KUNIT_EXPECT_EQ(test, t->c.log_num, 2u);
	KUNIT_EXPECT_EQ(test, t->log[0].addr, KT_RAM + 0x2000);
	KUNIT_EXPECT_EQ(test, t->log[0].len, 512ULL);
	KUNIT_EXPECT_EQ(test, t->log[1].addr, KT_RAM + 0x3000);
	KUNIT_EXPECT_EQ(test, t->log[1].len, 1ULL);
}

static void chain_zero_length(struct kunit *test)
{
	struct kt_chain *t = test->priv;

	kt_ram(test);
	t->c.log = t->log;
	/* Zero-length buffers take no iovec and log nothing, even unmapped. */
	kt_desc(test, 0, 0, 0, VRING_DESC_F_NEXT, 1);
	kt_desc(test, 1, 0, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	kt_desc(test, 2, KT_RAM, 8, 0, 0);
	KUNIT_EXPECT_EQ(test, kt_walk(test, 0), 0);
	KUNIT_EXPECT_EQ(test, t->c.out, 1u);
	KUNIT_EXPECT_EQ(test, t->c.in, 0u);
	KUNIT_EXPECT_EQ(test, t->c.log_num, 0u);
}

static void chain_split_merged(struct kunit *test)
{
	struct kt_chain *t = test->priv;

	/* Two regions, adjacent in guest and in user memory: one iovec. */
	kt_map(test, 0x1000, 0x1000, 0, KVIO_PERM_RW);
	kt_map(test, 0x2000, 0x1000, 0x1000, KVIO_PERM_RW);
	kt_desc(test, 0, 0x1f00, 0x200, VRING_DESC_F_WRITE, 0);
	KUNIT_EXPECT_EQ(test, kt_walk(test, 0), 0);
	KUNIT_EXPECT_EQ(test, t->c.in, 1u);
	KUNIT_EXPECT_EQ(test, kt_iov_base(test, 0), KT_UBASE + 0xf00);
	KUNIT_EXPECT_EQ(test, t->iov[0].iov_len, (size_t)0x200);
}

static void chain_split_apart(struct kunit *test)
{
	struct kt_chain *t = test->priv;

	kt_map(test, 0x1000, 0x1000, 0, KVIO_PERM_RW);
	kt_map(test, 0x2000, 0x1000, 0x8000, KVIO_PERM_RW);
	kt_desc(test, 0, 0x1f00, 0x200, VRING_DESC_F_WRITE, 0);
	t->c.log = t->log;
	KUNIT_EXPECT_EQ(test, kt_walk(test, 0), 0);
	KUNIT_EXPECT_EQ(test, t->c.in, 2u);
	KUNIT_EXPECT_EQ(test, kt_iov_base(test, 0), KT_UBASE + 0xf00);
	KUNIT_EXPECT_EQ(test, t->iov[0].iov_len, (size_t)0x100);
	KUNIT_EXPECT_EQ(test, kt_iov_base(test, 1), KT_UBASE + 0x8000);
	KUNIT_EXPECT_EQ(test, t->iov[1].iov_len, (size_t)0x100);
	/* Guest-physical log: one range for the descriptor. */
	KUNIT_EXPECT_EQ(test, t->c.log_num, 1u);
	KUNIT_EXPECT_EQ(test, t->log[0].addr, 0x1f00ULL);
	KUNIT_EXPECT_EQ(test, t->log[0].len, 0x200ULL);

	/* User-address log (device IOTLB): one range per iovec. */
	t->c.log_uaddr = true;
	KUNIT_EXPECT_EQ(test, kt_walk(test, 0), 0);
	KUNIT_EXPECT_EQ(test, t->c.log_num, 2u);
	KUNIT_EXPECT_EQ(test, t->log[0].addr, KT_UBASE + 0xf00);
	KUNIT_EXPECT_EQ(test, t->log[1].addr, KT_UBASE + 0x8000);
	KUNIT_EXPECT_EQ(test, t->log[1].len, 0x100ULL);
}

/* Indirect table of three entries at arena 0x400, walked 0 -> 2 -> 1. */
static void kt_indirect_table(struct kunit *test)
{
	kt_entry(test, 0x400, KT_RAM + 0x1000, 32, VRING_DESC_F_NEXT, 2);
	kt_entry(test, 0x410, KT_RAM + 0x2000, 64, VRING_DESC_F_WRITE, 0);
	kt_entry(test, 0x420, KT_RAM + 0x3000, 8,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
}

static void chain_indirect(struct kunit *test)
{
	struct kt_chain *t = test->priv;

	kt_ram(test);
	kt_indirect_table(test);
	t->c.log = t->log;
	kt_desc(test, 1, KT_RAM + 0x400, 48, VRING_DESC_F_INDIRECT, 0);
	KUNIT_EXPECT_EQ(test, kt_walk(test, 1), 0);
	KUNIT_EXPECT_EQ(test, t->c.out, 1u);
	KUNIT_EXPECT_EQ(test, t->c.in, 2u);
	KUNIT_EXPECT_EQ(test, kt_iov_base(test, 0), KT_UBASE + 0x1000);
	KUNIT_EXPECT_EQ(test, kt_iov_base(test, 1), KT_UBASE + 0x3000);
	KUNIT_EXPECT_EQ(test, kt_iov_base(test, 2), KT_UBASE + 0x2000);
	KUNIT_EXPECT_EQ(test, t->c.log_num, 2u);
}

static void chain_indirect_split(struct kunit *test)
{
	struct kt_chain *t = test->priv;
	struct vring_desc table[3];

	/*
	 * The table's first 24 bytes at arena 0x400, the rest at 0x800: the
	 * second entry straddles two regions that are apart in user memory.
	 */
	kt_map(test, 0x1000, 0x18, 0x400, KVIO_PERM_RO);
	kt_map(test, 0x1018, 0x1000, 0x800, KVIO_PERM_RO);
	kt_map(test, KT_RAM, 0x8000, 0x8000, KVIO_PERM_RW);
	kt_fill(t, &table[0], KT_RAM + 0x100, 32, VRING_DESC_F_NEXT, 1);
	kt_fill(t, &table[1], KT_RAM + 0x200, 64,
		VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	kt_fill(t, &table[2], KT_RAM + 0x300, 8, VRING_DESC_F_WRITE, 0);
	memcpy(t->arena + 0x400, table, 0x18);
	memcpy(t->arena + 0x800, (u8 *)table + 0x18, sizeof(table) - 0x18);
	kt_desc(test, 0, 0x1000, sizeof(table), VRING_DESC_F_INDIRECT, 0);
	KUNIT_EXPECT_EQ(test, kt_walk(test, 0), 0);
	KUNIT_EXPECT_EQ(test, t->c.out, 1u);
	KUNIT_EXPECT_EQ(test, t->c.in, 2u);
	KUNIT_EXPECT_EQ(test, kt_iov_base(test, 0), KT_UBASE + 0x8100);
	KUNIT_EXPECT_EQ(test, kt_iov_base(test, 1), KT_UBASE + 0x8200);
	KUNIT_EXPECT_EQ(test, t->iov[1].iov_len, (size_t)64);
	KUNIT_EXPECT_EQ(test, kt_iov_base(test, 2), KT_UBASE + 0x8300);
}

static void chain_direct_then_indirect(struct kunit *test)
{
	struct kt_chain *t = test->priv;

	kt_ram(test);
	kt_indirect_table(test);
	kt_desc(test, 0, KT_RAM + 0x800, 16, VRING_DESC_F_NEXT, 1);
	kt_desc(test, 1, KT_RAM + 0x400, 48, VRING_DESC_F_INDIRECT, 0);
	KUNIT_EXPECT_EQ(test, kt_walk(test, 0), 0);
	KUNIT_EXPECT_EQ(test, t->c.out, 2u);
	KUNIT_EXPECT_EQ(test, t->c.in, 2u);
}

static void chain_big_endian(struct kunit *test)
{
	struct kt_chain *t = test->priv;

	/* A legacy ring in big-endian byte order. */
	t->le = false;
	kt_ram(test);
	kt_desc(test, 0, KT_RAM + 0x10, 16, VRING_DESC_F_NEXT, 1);
	kt_desc(test, 1, KT_RAM + 0x20, 0x1234, VRING_DESC_F_WRITE, 0);
	KUNIT_EXPECT_EQ(test, kt_walk(test, 0), 0);
	KUNIT_EXPECT_EQ(test, t->c.out, 1u);
	KUNIT_EXPECT_EQ(test, t->c.in, 1u);
	KUNIT_EXPECT_EQ(test, t->iov[1].iov_len, (size_t)0x1234);
}

static void chain_end_of_address_space(struct kunit *test)
{
	struct kt_chain *t = test->priv;

	/* A region and a buffer both ending at 2^64 - 1. */
	kt_map(test, U64_MAX - 0xfff, 0x1000, 0, KVIO_PERM_RW);
	kt_desc(test, 0, U64_MAX - 0xff, 0x100, VRING_DESC_F_WRITE, 0);
	KUNIT_EXPECT_EQ(test, kt_walk(test, 0), 0);
	KUNIT_EXPECT_EQ(test, t->c.in, 1u);
	KUNIT_EXPECT_EQ(test, kt_iov_base(test, 0), KT_UBASE + 0xf00);
	KUNIT_EXPECT_EQ(test, t->iov[0].iov_len, (size_t)0x100);
}

static void chain_full_ring(struct kunit *test)
{
	struct kt_chain *t = test->priv;
	unsigned int i;

	/* A chain through every descriptor of the ring is not a loop. */
	kt_ram(test);
	for (i = 0; i < 4; i++)
		kt_desc(test, i, KT_RAM + 0x100 * i, 16,
			i < 3 ? VRING_DESC_F_NEXT : 0, i + 1);
	KUNIT_EXPECT_EQ(test, kt_walk(test, 0), 0);
	KUNIT_EXPECT_EQ(test, t->c.out, 4u);
}

static void chain_long_resched(struct kunit *test)
{
	struct kt_chain *t = test->priv;
	unsigned int i;

	/* 300 descriptors: ops->resched once, after 256. */
	kt_ram(test);
	t->c.num = KT_NUM;
	for (i = 0; i < 300; i++)
		kt_desc(test, i, KT_RAM + 2 * i, 1,
			i < 299 ? VRING_DESC_F_NEXT : 0, i + 1);
	KUNIT_EXPECT_EQ(test, kt_walk(test, 0), 0);
	KUNIT_EXPECT_EQ(test, t->c.out, 300u);
	KUNIT_EXPECT_EQ(test, t->reschedules, 1u);
}

/* Malformed chains and failed translations. */

static void chain_bad_head(struct kunit *test)
{
	kt_ram(test);
	kt_desc(test, 0, KT_RAM, 16, 0, 0);
	kt_expect_fault(test, 4, -EINVAL, KVIO_CHAIN_HEAD_RANGE);
	kt_expect_fault(test, 0xffff, -EINVAL, KVIO_CHAIN_HEAD_RANGE);
}

static void chain_bad_next(struct kunit *test)
{
	kt_ram(test);
	kt_desc(test, 0, KT_RAM, 16, VRING_DESC_F_NEXT, 4);
	kt_expect_fault(test, 0, -EINVAL, KVIO_CHAIN_NEXT_RANGE);
}

static void chain_loop(struct kunit *test)
{
	kt_ram(test);
	kt_desc(test, 0, KT_RAM, 16, VRING_DESC_F_NEXT, 0);
	kt_expect_fault(test, 0, -EINVAL, KVIO_CHAIN_LOOP);
	kt_desc(test, 0, KT_RAM, 16, VRING_DESC_F_NEXT, 1);
	kt_desc(test, 1, KT_RAM, 16, VRING_DESC_F_NEXT, 0);
	kt_expect_fault(test, 1, -EINVAL, KVIO_CHAIN_LOOP);
}

static void chain_bad_order(struct kunit *test)
{
	kt_ram(test);
	kt_desc(test, 0, KT_RAM, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	kt_desc(test, 1, KT_RAM + 0x100, 16, 0, 0);
	kt_expect_fault(test, 0, -EINVAL, KVIO_CHAIN_ORDER);
}

static void chain_unmapped(struct kunit *test)
{
	kt_ram(test);
	kt_desc(test, 0, 0x100, 16, 0, 0);
	kt_expect_fault(test, 0, -EFAULT, KVIO_CHAIN_BUF_FAULT);
	/* Starts in RAM, runs past its end into a hole. */
	kt_desc(test, 0, KT_RAM + KT_ARENA - 8, 16, 0, 0);
	kt_expect_fault(test, 0, -EFAULT, KVIO_CHAIN_BUF_FAULT);
}

static void chain_permission(struct kunit *test)
{
	kt_map(test, 0x1000, 0x1000, 0, KVIO_PERM_RO);
	kt_map(test, 0x2000, 0x1000, 0x1000, KVIO_PERM_WO);
	kt_desc(test, 0, 0x1000, 16, VRING_DESC_F_WRITE, 0);
	kt_expect_fault(test, 0, -EFAULT, KVIO_CHAIN_BUF_FAULT);
	kt_desc(test, 0, 0x2000, 16, 0, 0);
	kt_expect_fault(test, 0, -EFAULT, KVIO_CHAIN_BUF_FAULT);
}

/*
 * skip_faults (a vIOMMU domain): an unmapped or unpermitted buffer is left
 * out and counted, the walk goes on, and the chain's shape is still checked.
 */
static void chain_skip_faults(struct kunit *test)
{
	struct kt_chain *t = test->priv;

	kt_ram(test);
	kt_map(test, 0x40000, 0x1000, 0x8000, KVIO_PERM_RO);
	t->c.skip_faults = true;
	t->c.log = t->log;
	t->c.log_uaddr = true;
	/* Header, data outside every map, status: two iovecs, one fault. */
	kt_desc(test, 0, KT_RAM, 16, VRING_DESC_F_NEXT, 1);
	kt_desc(test, 1, 0x100000, 4096, VRING_DESC_F_WRITE |
		VRING_DESC_F_NEXT, 2);
	kt_desc(test, 2, KT_RAM + 0x100, 1, VRING_DESC_F_WRITE, 0);
	KUNIT_EXPECT_EQ(test, kt_walk(test, 0), 0);
	KUNIT_EXPECT_EQ(test, t->c.faults, 1U);
	KUNIT_EXPECT_EQ(test, t->c.fault_addr, 0x100000ULL);
	KUNIT_EXPECT_TRUE(test, t->c.tail_mapped);
	KUNIT_EXPECT_EQ(test, t->c.out, 1U);
	KUNIT_EXPECT_EQ(test, t->c.in, 1U);
	KUNIT_EXPECT_EQ(test, t->c.log_num, 1U);
	KUNIT_EXPECT_EQ(test, kt_iov_base(test, 1), KT_UBASE + 0x100);
	/* Writable into a read-only map: a fault too; the tail is lost. */
	kt_desc(test, 2, 0x40000, 1, VRING_DESC_F_WRITE, 0);
	KUNIT_EXPECT_EQ(test, kt_walk(test, 0), 0);
	KUNIT_EXPECT_EQ(test, t->c.faults, 2U);
	KUNIT_EXPECT_FALSE(test, t->c.tail_mapped);
	KUNIT_EXPECT_EQ(test, t->c.in, 0U);
	KUNIT_EXPECT_EQ(test, t->c.log_num, 0U);
	/* A faulted writable buffer still orders the chain. */
	kt_desc(test, 2, KT_RAM + 0x100, 16, 0, 0);
	kt_expect_fault(test, 0, -EINVAL, KVIO_CHAIN_ORDER);
	/* A loop is still a loop. */
	kt_desc(test, 2, KT_RAM + 0x100, 1, VRING_DESC_F_WRITE |
		VRING_DESC_F_NEXT, 1);
	kt_expect_fault(test, 0, -EINVAL, KVIO_CHAIN_LOOP);
	/* Without the flag the same fault ends the walk. */
	t->c.skip_faults = false;
	kt_desc(test, 2, KT_RAM + 0x100, 1, VRING_DESC_F_WRITE, 0);
	kt_expect_fault(test, 0, -EFAULT, KVIO_CHAIN_BUF_FAULT);
	/* A clean chain: no faults, the tail whole. */
	t->c.skip_faults = true;
	kt_desc(test, 1, KT_RAM + 0x1000, 4096, VRING_DESC_F_WRITE |
		VRING_DESC_F_NEXT, 2);
	KUNIT_EXPECT_EQ(test, kt_walk(test, 0), 0);
	KUNIT_EXPECT_EQ(test, t->c.faults, 0U);
	KUNIT_EXPECT_TRUE(test, t->c.tail_mapped);
	KUNIT_EXPECT_EQ(test, t->c.in, 2U);
}

static void chain_buffer_wraps(struct kunit *test)
{
	kt_map(test, U64_MAX - 0xfff, 0x1000, 0, KVIO_PERM_RW);
	kt_desc(test, 0, U64_MAX - 0xf, 0x20, 0, 0);
	kt_expect_fault(test, 0, -EFAULT, KVIO_CHAIN_BUF_FAULT);
}

static void chain_iov_full(struct kunit *test)
{
	struct kt_chain *t = test->priv;

	kt_map(test, 0x1000, 0x1000, 0, KVIO_PERM_RW);
	kt_map(test, 0x2000, 0x1000, 0x8000, KVIO_PERM_RW);
	/* One buffer in two pieces, one iovec. */
	t->c.iov_count = 1;
	kt_desc(test, 0, 0x1f00, 0x200, 0, 0);
	kt_expect_fault(test, 0, -ENOBUFS, KVIO_CHAIN_IOV_FULL);
	/* Two buffers, one iovec. */
	kt_desc(test, 0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
	kt_desc(test, 1, 0x1100, 16, 0, 0);
	kt_expect_fault(test, 0, -ENOBUFS, KVIO_CHAIN_IOV_FULL);
	/* Exactly enough. */
	t->c.iov_count = 2;
	KUNIT_EXPECT_EQ(test, kt_walk(test, 0), 0);
}

static void chain_log_full(struct kunit *test)
{
	struct kt_chain *t = test->priv;

	kt_map(test, 0x1000, 0x1000, 0, KVIO_PERM_RW);
	kt_map(test, 0x2000, 0x1000, 0x8000, KVIO_PERM_RW);
	t->c.log = t->log;
	t->c.log_max = 1;
	kt_desc(test, 0, 0x1000, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	kt_desc(test, 1, 0x1100, 16, VRING_DESC_F_WRITE, 0);
	kt_expect_fault(test, 0, -ENOBUFS, KVIO_CHAIN_LOG_FULL);
	/* User-address log: one buffer in two iovecs needs two entries. */
	t->c.log_uaddr = true;
	kt_desc(test, 0, 0x1f00, 0x200, VRING_DESC_F_WRITE, 0);
	kt_expect_fault(test, 0, -ENOBUFS, KVIO_CHAIN_LOG_FULL);
}

static void chain_desc_fault(struct kunit *test)
{
	struct kt_chain *t = test->priv;

	kt_ram(test);
	kt_desc(test, 0, KT_RAM, 16, VRING_DESC_F_NEXT, 1);
	t->desc_fail_at = 1;
	kt_expect_fault(test, 0, -EFAULT, KVIO_CHAIN_DESC_FAULT);
}

static void chain_iotlb_miss(struct kunit *test)
{
	struct kt_chain *t = test->priv;

	/* A miss is passed on as is: the caller does not break the ring. */
	t->miss_err = -EAGAIN;
	kt_desc(test, 0, 0x1000, 16, 0, 0);
	kt_expect_fault(test, 0, -EAGAIN, KVIO_CHAIN_BUF_FAULT);
	kt_desc(test, 0, 0x1000, 48, VRING_DESC_F_INDIRECT, 0);
	kt_expect_fault(test, 0, -EAGAIN, KVIO_CHAIN_IND_FAULT);
}

static void chain_indirect_with_next(struct kunit *test)
{
	kt_ram(test);
	kt_indirect_table(test);
	kt_desc(test, 0, KT_RAM + 0x400, 48,
		VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	kt_expect_fault(test, 0, -EINVAL, KVIO_CHAIN_IND_NEXT);
}

static void chain_indirect_bad_len(struct kunit *test)
{
	kt_ram(test);
	kt_indirect_table(test);
	kt_desc(test, 0, KT_RAM + 0x400, 0, VRING_DESC_F_INDIRECT, 0);
	kt_expect_fault(test, 0, -EINVAL, KVIO_CHAIN_IND_LEN);
	kt_desc(test, 0, KT_RAM + 0x400, 40, VRING_DESC_F_INDIRECT, 0);
	kt_expect_fault(test, 0, -EINVAL, KVIO_CHAIN_IND_LEN);
}

static void chain_indirect_too_long(struct kunit *test)
{
	kt_desc(test, 0, 0x100000, (KVIO_CHAIN_INDIRECT_MAX + 1) * 16,
		VRING_DESC_F_INDIRECT, 0);
	kt_expect_fault(test, 0, -EINVAL, KVIO_CHAIN_IND_SIZE);
	/* The largest table passes the size check (and is unmapped here). */
	kt_desc(test, 0, 0x100000, KVIO_CHAIN_INDIRECT_MAX * 16,
		VRING_DESC_F_INDIRECT, 0);
	kt_expect_fault(test, 0, -EFAULT, KVIO_CHAIN_IND_FAULT);
}

static void chain_indirect_wraps(struct kunit *test)
{
	kt_map(test, U64_MAX - 0xfff, 0x1000, 0, KVIO_PERM_RW);
	kt_desc(test, 0, U64_MAX - 0xf, 32, VRING_DESC_F_INDIRECT, 0);
	kt_expect_fault(test, 0, -EFAULT, KVIO_CHAIN_IND_WRAP);
}

static void chain_indirect_unreachable(struct kunit *test)
{
	kt_ram(test);
	kt_desc(test, 0, 0x1000, 48, VRING_DESC_F_INDIRECT, 0);
	kt_expect_fault(test, 0, -EFAULT, KVIO_CHAIN_IND_FAULT);
	/* Mapped write-only: a table must be readable. */
	kt_map(test, 0x1000, 0x1000, 0x400, KVIO_PERM_WO);
	kt_expect_fault(test, 0, -EFAULT, KVIO_CHAIN_IND_FAULT);
}

static void chain_indirect_nested(struct kunit *test)
{
	kt_ram(test);
	kt_entry(test, 0x400, KT_RAM, 16, VRING_DESC_F_NEXT, 1);
	kt_entry(test, 0x410, KT_RAM + 0x400, 32, VRING_DESC_F_INDIRECT, 0);
	kt_desc(test, 0, KT_RAM + 0x400, 32, VRING_DESC_F_INDIRECT, 0);
	kt_expect_fault(test, 0, -EINVAL, KVIO_CHAIN_IND_NESTED);
}

static void chain_indirect_next_past(struct kunit *test)
{
	/* Entry 2 exists in memory, just after the table's end. */
	kt_ram(test);
	kt_entry(test, 0x400, KT_RAM, 16, VRING_DESC_F_NEXT, 2);
	kt_entry(test, 0x410, KT_RAM, 16, 0, 0);
	kt_entry(test, 0x420, KT_RAM, 16, 0, 0);
	kt_desc(test, 0, KT_RAM + 0x400, 32, VRING_DESC_F_INDIRECT, 0);
	kt_expect_fault(test, 0, -EINVAL, KVIO_CHAIN_IND_NEXT_RANGE);
}

static void chain_indirect_loop(struct kunit *test)
{
	kt_ram(test);
	kt_entry(test, 0x400, KT_RAM, 16, VRING_DESC_F_NEXT, 1);
	kt_entry(test, 0x410, KT_RAM, 16, VRING_DESC_F_NEXT, 0);
	kt_desc(test, 0, KT_RAM + 0x400, 32, VRING_DESC_F_INDIRECT, 0);
	kt_expect_fault(test, 0, -EINVAL, KVIO_CHAIN_IND_LOOP);
}

static void chain_indirect_bad_order(struct kunit *test)
{
	kt_ram(test);
	kt_entry(test, 0x400, KT_RAM, 16,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	kt_entry(test, 0x410, KT_RAM, 16, 0, 0);
	kt_desc(test, 0, KT_RAM + 0x400, 32, VRING_DESC_F_INDIRECT, 0);
	kt_expect_fault(test, 0, -EINVAL, KVIO_CHAIN_ORDER);
}

static void chain_fault_strings(struct kunit *test)
{
	int f;

	for (f = 0; f < KVIO_CHAIN_NR_FAULTS; f++)
		KUNIT_EXPECT_STRNEQ(test, kvio_chain_fault_str(f), "unknown");
	KUNIT_EXPECT_STREQ(test, kvio_chain_fault_str(KVIO_CHAIN_NR_FAULTS),
			   "unknown");
	KUNIT_EXPECT_STREQ(test, kvio_chain_fault_str(-1), "unknown");
}

static struct kunit_case kvio_chain_cases[] = {
	KUNIT_CASE(chain_direct_single),
	KUNIT_CASE(chain_direct_out_in_log),
	KUNIT_CASE(chain_zero_length),
	KUNIT_CASE(chain_split_merged),
	KUNIT_CASE(chain_split_apart),
	KUNIT_CASE(chain_indirect),
	KUNIT_CASE(chain_indirect_split),
	KUNIT_CASE(chain_direct_then_indirect),
	KUNIT_CASE(chain_big_endian),
	KUNIT_CASE(chain_end_of_address_space),
	KUNIT_CASE(chain_full_ring),
	KUNIT_CASE(chain_long_resched),
	KUNIT_CASE(chain_bad_head),
	KUNIT_CASE(chain_bad_next),
	KUNIT_CASE(chain_loop),
	KUNIT_CASE(chain_bad_order),
	KUNIT_CASE(chain_unmapped),
	KUNIT_CASE(chain_permission),
	KUNIT_CASE(chain_skip_faults),
	KUNIT_CASE(chain_buffer_wraps),
	KUNIT_CASE(chain_iov_full),
	KUNIT_CASE(chain_log_full),
	KUNIT_CASE(chain_desc_fault),
	KUNIT_CASE(chain_iotlb_miss),
	KUNIT_CASE(chain_indirect_with_next),
	KUNIT_CASE(chain_indirect_bad_len),
	KUNIT_CASE(chain_indirect_too_long),
	KUNIT_CASE(chain_indirect_wraps),
	KUNIT_CASE(chain_indirect_unreachable),
	KUNIT_CASE(chain_indirect_nested),
	KUNIT_CASE(chain_indirect_next_past),
	KUNIT_CASE(chain_indirect_loop),
	KUNIT_CASE(chain_indirect_bad_order),
	KUNIT_CASE(chain_fault_strings),
	{}
};

static struct kunit_suite kvio_chain_suite = {
	.name = "kvio_chain",
	.init = kt_chain_init,
	.exit = kt_chain_exit,
	.test_cases = kvio_chain_cases,
};

kunit_test_suite(kvio_chain_suite);
