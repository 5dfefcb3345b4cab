// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "kvio_blk_parse": the virtio-blk request parser
 * (vhost_blk/parse.c), one rule at a time, each with chains that follow it
 * and chains that break it, asserting the exact verdict, status, used
 * length and data layout.
 *
 * The chain's iovecs carry made-up user addresses: readable ones
 * KT_RBASE + offset into a buffer in kernel memory that the read op copies
 * from (after checking the read stays inside one readable iovec), writable
 * ones KT_WBASE + offset, only ever compared.
 */
#include <kunit/test.h>
#include <linux/string.h>
#include <linux/uio.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_byteorder.h>

#include "../parse.h"

#define KT_IOVS		16
#define KT_MEM		8192
#define KT_RBASE	0x7f0000000000ULL
#define KT_WBASE	0x7f8000000000ULL
#define KT_CAPACITY	2048		/* sectors: 1 MiB */

struct kt_blk {
	struct kvio_blk_params p;
	struct kvio_blk_parse r;
	/* Readable iovecs, in order, then writable ones. */
	struct iovec riov[KT_IOVS], wiov[KT_IOVS];
	struct iovec iov[2 * KT_IOVS];
	unsigned int nout, nin;
	size_t rpos;		/* next readable offset in mem */
	u64 wpos;		/* next writable offset */
	u8 mem[KT_MEM];
	bool le;
	unsigned int reads;
	int fail_read_at;	/* read number that fails; -1: none */
};

static int kt_read(struct kvio_blk_parse *r, void *buf,
		   const void __user *src, size_t len)
{
	struct kt_blk *t = r->priv;
	u64 a = (u64)(uintptr_t)src;
	unsigned int i;

	if ((int)t->reads++ == t->fail_read_at)
		return -EFAULT;
	/* Only readable iovecs, one at a time: anything else fails the case. */
	for (i = 0; i < t->nout; i++) {
		u64 base = (u64)(uintptr_t)t->riov[i].iov_base;

		if (a >= base && a - base < t->riov[i].iov_len &&
		    len <= t->riov[i].iov_len - (a - base))
			break;
	}
	if (i == t->nout || !len)
		return -EIO;
	a -= KT_RBASE;
	if (a > KT_MEM || len > KT_MEM - a)
		return -EFAULT;
	memcpy(buf, t->mem + a, len);
	return 0;
}

static int kt_blk_init(struct kunit *test)
{
	struct kt_blk *t;

	t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t);
	t->p.capacity = KT_CAPACITY;
	t->p.lbs = 512;
	t->p.seg_max = 1022;
	t->p.max_discard_sectors = 4194304;
	t->p.max_discard_seg = 1;
	t->p.max_wz_sectors = 4194304;
	t->p.max_wz_seg = 1;
	t->le = true;
	t->fail_read_at = -1;
	t->r.discard = true;
	t->r.write_zeroes = true;
	test->priv = t;
	return 0;
}

/* A readable iovec of @len bytes, the first @n of them @bytes. */
static void kt_out(struct kunit *test, const void *bytes, size_t n,
		   size_t len)
{
	struct kt_blk *t = test->priv;

	KUNIT_ASSERT_LT(test, t->nout, (unsigned int)KT_IOVS);
	KUNIT_ASSERT_GT(test, len, (size_t)0);
	if (n) {
		KUNIT_ASSERT_LE(test, t->rpos + n, (size_t)KT_MEM);
		memcpy(t->mem + t->rpos, bytes, n);
	}
	t->riov[t->nout].iov_base = (void __user *)(uintptr_t)(KT_RBASE +
							       t->rpos);
	t->riov[t->nout].iov_len = len;
	t->nout++;
	t->rpos += len;
}

static void kt_out_bytes(struct kunit *test, const void *bytes, size_t n)
{
	kt_out(test, bytes, n, n);
}

/* A readable iovec of @len bytes of data (zeroes, or out of KT_MEM). */
static void kt_data(struct kunit *test, size_t len)
{
	kt_out(test, NULL, 0, len);
}

static void kt_in(struct kunit *test, size_t len)
{
	struct kt_blk *t = test->priv;

	KUNIT_ASSERT_LT(test, t->nin, (unsigned int)KT_IOVS);
	t->wiov[t->nin].iov_base = (void __user *)(uintptr_t)(KT_WBASE +
							      t->wpos);
	t->wiov[t->nin].iov_len = len;
	t->nin++;
	t->wpos += len;
}

static void kt_mkhdr(struct kt_blk *t, struct virtio_blk_outhdr *hdr,
		     u32 type, u64 sector)
{
	hdr->type = __cpu_to_virtio32(t->le, type);
	hdr->ioprio = 0;
	hdr->sector = __cpu_to_virtio64(t->le, sector);
}

/* The header alone in a readable iovec. */
static void kt_hdr(struct kunit *test, u32 type, u64 sector)
{
	struct virtio_blk_outhdr hdr;

	kt_mkhdr(test->priv, &hdr, type, sector);
	kt_out_bytes(test, &hdr, sizeof(hdr));
}

static enum kvio_blk_verdict kt_parse(struct kunit *test)
{
	struct kt_blk *t = test->priv;
	struct kvio_blk_parse *r = &t->r;

	memcpy(t->iov, t->riov, t->nout * sizeof(*t->iov));
	memcpy(t->iov + t->nout, t->wiov, t->nin * sizeof(*t->iov));
	r->p = &t->p;
	r->iov = t->iov;
	r->out = t->nout;
	r->in = t->nin;
	r->little_endian = t->le;
	r->read = kt_read;
	r->priv = t;
	t->reads = 0;
	return kvio_blk_parse_req(r);
}

/* Start over with an empty chain, same configuration. */
static void kt_reset(struct kunit *test)
{
	struct kt_blk *t = test->priv;

	t->nout = 0;
	t->nin = 0;
	t->r.splits = 0;
	t->rpos = 0;
	t->wpos = 0;
	t->fail_read_at = -1;
}

static void kt_expect_answer(struct kunit *test, u8 status)
{
	struct kt_blk *t = test->priv;

	KUNIT_EXPECT_EQ(test, kt_parse(test), KVIO_BLK_ANSWER);
	KUNIT_EXPECT_EQ(test, t->r.answer, status);
	/* The whole writable part, however the answer came about. */
	KUNIT_EXPECT_EQ(test, (u64)t->r.used_len,
			min_t(u64, t->wpos, U32_MAX));
}

static void kt_expect_ioerr(struct kunit *test)
{
	kt_expect_answer(test, VIRTIO_BLK_S_IOERR);
}

static void kt_expect_serve(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, kt_parse(test), KVIO_BLK_SERVE);
}

static u64 kt_status(struct kunit *test)
{
	struct kt_blk *t = test->priv;

	return (u64)(uintptr_t)t->r.status;
}

/* The status byte. */

static void blk_no_status(struct kunit *test)
{
	/* Nothing writable: nothing to answer with, the ring breaks. */
	kt_hdr(test, VIRTIO_BLK_T_OUT, 0);
	kt_data(test, 512);
	KUNIT_EXPECT_EQ(test, kt_parse(test), KVIO_BLK_BROKEN);
	kt_reset(test);
	KUNIT_EXPECT_EQ(test, kt_parse(test), KVIO_BLK_BROKEN);
}

static void blk_status_last_byte(struct kunit *test)
{
	struct kt_blk *t = test->priv;

	/* Alone in its own iovec. */
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, 4096);
	kt_in(test, 1);
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, kt_status(test), KT_WBASE + 4096);
	KUNIT_EXPECT_EQ(test, t->r.in_len, 4097ULL);
	KUNIT_EXPECT_EQ(test, t->r.nr_segs, 1u);
	/* After the data, in the same iovec. */
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, 512);
	kt_in(test, 3585);
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, kt_status(test), KT_WBASE + 4096);
	KUNIT_EXPECT_EQ(test, t->r.nr_segs, 2u);
	KUNIT_EXPECT_EQ(test, t->r.data_len, 4096u);
	/* Even of a chain answered IOERR (unknown type: UNSUPP). */
	kt_reset(test);
	kt_hdr(test, 0x1234, 0);
	kt_in(test, 7);
	kt_expect_answer(test, VIRTIO_BLK_S_UNSUPP);
	KUNIT_EXPECT_EQ(test, kt_status(test), KT_WBASE + 6);
}

/* The header. */

static void blk_header_split(struct kunit *test)
{
	struct kt_blk *t = test->priv;
	struct virtio_blk_outhdr hdr;
	u8 *b = (u8 *)&hdr;

	/* 5 + 7 + 4 bytes, the last piece followed by data. */
	kt_mkhdr(t, &hdr, VIRTIO_BLK_T_OUT, 0x123);
	kt_out_bytes(test, b, 5);
	kt_out_bytes(test, b + 5, 7);
	kt_out(test, b + 12, 4, 4 + 512);
	kt_in(test, 1);
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, t->r.type, (u32)VIRTIO_BLK_T_OUT);
	KUNIT_EXPECT_EQ(test, t->r.sector, 0x123ULL);
	KUNIT_EXPECT_EQ(test, t->reads, 3u);	/* each piece once */
	KUNIT_EXPECT_EQ(test, t->r.first, 2u);
	KUNIT_EXPECT_EQ(test, t->r.skip, (size_t)4);
	KUNIT_EXPECT_EQ(test, t->r.nr_segs, 1u);
	KUNIT_EXPECT_EQ(test, t->r.data_len, 512u);
	KUNIT_EXPECT_EQ(test, t->r.out_len, 16ULL + 512);
}

static void blk_header_with_data(struct kunit *test)
{
	struct kt_blk *t = test->priv;
	struct virtio_blk_outhdr hdr;

	/* Header and data in one iovec. */
	kt_mkhdr(t, &hdr, VIRTIO_BLK_T_OUT, 8);
	kt_out(test, &hdr, sizeof(hdr), sizeof(hdr) + 1024);
	kt_in(test, 1);
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, t->reads, 1u);
	KUNIT_EXPECT_EQ(test, t->r.first, 0u);
	KUNIT_EXPECT_EQ(test, t->r.skip, (size_t)16);
	KUNIT_EXPECT_EQ(test, t->r.nr_segs, 1u);
	KUNIT_EXPECT_EQ(test, t->r.data_len, 1024u);
	/* Header ending exactly where its iovec does. */
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_OUT, 8);
	kt_data(test, 512);
	kt_data(test, 512);
	kt_in(test, 1);
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, t->r.first, 1u);
	KUNIT_EXPECT_EQ(test, t->r.skip, (size_t)0);
	KUNIT_EXPECT_EQ(test, t->r.nr_segs, 2u);
	KUNIT_EXPECT_EQ(test, t->r.used_len, 1u);
}

static void blk_header_short(struct kunit *test)
{
	struct kt_blk *t = test->priv;
	struct virtio_blk_outhdr hdr;

	kt_mkhdr(t, &hdr, VIRTIO_BLK_T_IN, 0);
	kt_out_bytes(test, &hdr, 15);
	kt_in(test, 513);
	kt_expect_ioerr(test);
	KUNIT_EXPECT_EQ(test, t->reads, 0u);	/* too short: not read */
	/* Nothing readable at all. */
	kt_reset(test);
	kt_in(test, 513);
	kt_expect_ioerr(test);
	KUNIT_EXPECT_EQ(test, kt_status(test), KT_WBASE + 512);
}

static void blk_header_unreadable(struct kunit *test)
{
	struct kt_blk *t = test->priv;
	struct virtio_blk_outhdr hdr;
	u8 *b = (u8 *)&hdr;

	/* The second piece of the header faults. */
	kt_mkhdr(t, &hdr, VIRTIO_BLK_T_IN, 0);
	kt_out_bytes(test, b, 8);
	kt_out_bytes(test, b + 8, 8);
	kt_in(test, 513);
	t->fail_read_at = 1;
	kt_expect_ioerr(test);
	KUNIT_EXPECT_EQ(test, t->reads, 2u);
}

static void blk_header_big_endian(struct kunit *test)
{
	struct kt_blk *t = test->priv;

	/* A legacy guest in big-endian byte order. */
	t->le = false;
	kt_hdr(test, VIRTIO_BLK_T_OUT, 0x10);
	kt_data(test, 512);
	kt_in(test, 1);
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, t->r.type, (u32)VIRTIO_BLK_T_OUT);
	KUNIT_EXPECT_EQ(test, t->r.sector, 0x10ULL);
	/* The same bytes read as little-endian are another request. */
	t->le = true;
	kt_expect_answer(test, VIRTIO_BLK_S_UNSUPP);
	KUNIT_EXPECT_EQ(test, t->r.type, (u32)VIRTIO_BLK_T_OUT << 24);
}

/* Types. */

static void blk_unknown_type(struct kunit *test)
{
	static const u32 types[] = {
		2,			/* SCSI_CMD */
		3,			/* SCSI_CMD_OUT */
		10,			/* GET_LIFETIME */
		14,			/* SECURE_ERASE */
		15,			/* ZONE_APPEND */
		VIRTIO_BLK_T_OUT | 0x80000000,	/* the legacy BARRIER bit */
		0xffffffff,
	};
	struct kt_blk *t = test->priv;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		kt_reset(test);
		kt_hdr(test, types[i], 0);
		kt_in(test, 512);
		kt_in(test, 1);
		kt_expect_answer(test, VIRTIO_BLK_S_UNSUPP);
		KUNIT_EXPECT_EQ(test, t->r.type, types[i]);
	}
}

/* Directions. */

static void blk_in_direction(struct kunit *test)
{
	struct kt_blk *t = test->priv;

	/* Data readable besides the header. */
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_data(test, 512);
	kt_in(test, 513);
	kt_expect_ioerr(test);
	/* Good: the data and the status writable. */
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_IN, 16);
	kt_in(test, 512);
	kt_in(test, 512);
	kt_in(test, 1);
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, t->r.first, 1u);
	KUNIT_EXPECT_EQ(test, t->r.skip, (size_t)0);
	KUNIT_EXPECT_EQ(test, t->r.nr_segs, 2u);
	KUNIT_EXPECT_EQ(test, t->r.data_len, 1024u);
	/* The whole writable part: data and status. */
	KUNIT_EXPECT_EQ(test, t->r.used_len, 1025u);
	KUNIT_EXPECT_EQ(test, t->r.sector, 16ULL);
}

static void blk_out_direction(struct kunit *test)
{
	/* Data writable besides the status. */
	kt_hdr(test, VIRTIO_BLK_T_OUT, 0);
	kt_data(test, 512);
	kt_in(test, 512);
	kt_in(test, 1);
	kt_expect_ioerr(test);
	/* Two writable bytes. */
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_OUT, 0);
	kt_data(test, 512);
	kt_in(test, 2);
	kt_expect_ioerr(test);
	/* Only the data in the wrong place. */
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_OUT, 0);
	kt_in(test, 513);
	kt_expect_ioerr(test);
}

static void blk_flush(struct kunit *test)
{
	struct kt_blk *t = test->priv;

	kt_hdr(test, VIRTIO_BLK_T_FLUSH, 0);
	kt_in(test, 1);
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, t->r.used_len, 1u);
	/* Data, either way, is IOERR. */
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_FLUSH, 0);
	kt_data(test, 512);
	kt_in(test, 1);
	kt_expect_ioerr(test);
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_FLUSH, 0);
	kt_in(test, 513);
	kt_expect_ioerr(test);
	/* The sector is ignored, read-only does not matter. */
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_FLUSH, U64_MAX);
	kt_in(test, 1);
	t->r.ro = true;
	kt_expect_serve(test);
}

static void blk_get_id(struct kunit *test)
{
	static const struct {
		size_t in;	/* writable bytes, one iovec */
		u32 id_len;
	} cases[] = { { 21, 20 }, { 1, 0 }, { 9, 8 }, { 4096, 20 } };
	struct kt_blk *t = test->priv;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		kt_reset(test);
		kt_hdr(test, VIRTIO_BLK_T_GET_ID, 0);
		kt_in(test, cases[i].in);
		kt_expect_serve(test);
		KUNIT_EXPECT_EQ(test, t->r.id_len, cases[i].id_len);
		/* Up to the status byte, past the serial's end. */
		KUNIT_EXPECT_EQ(test, t->r.used_len, (u32)cases[i].in);
		KUNIT_EXPECT_EQ(test, kt_status(test),
				KT_WBASE + cases[i].in - 1);
	}
	/* Readable bytes after the header. */
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_GET_ID, 0);
	kt_data(test, 1);
	kt_in(test, 21);
	kt_expect_ioerr(test);
}

/* Lengths, alignment, ranges. */

static void blk_rw_zero_length(struct kunit *test)
{
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, 1);
	kt_expect_ioerr(test);
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_OUT, 0);
	kt_in(test, 1);
	kt_expect_ioerr(test);
}

static void blk_rw_block_multiple(struct kunit *test)
{
	struct kt_blk *t = test->priv;

	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, 500);
	kt_in(test, 1);
	kt_expect_ioerr(test);
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_OUT, 0);
	kt_data(test, 513);
	kt_in(test, 1);
	kt_expect_ioerr(test);
	/* 4 KiB blocks: 512 bytes is not a whole block, 4096 is. */
	t->p.lbs = 4096;
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, 512);
	kt_in(test, 1);
	kt_expect_ioerr(test);
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, 4096);
	kt_in(test, 1);
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, t->r.data_len, 4096u);
}

static void blk_rw_max_bytes(struct kunit *test)
{
	struct kt_blk *t = test->priv;

	t->p.capacity = 1ULL << 40;
	/* 1 GiB exactly, then one block more. */
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, SZ_1G);
	kt_in(test, 1);
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, t->r.data_len, (u32)SZ_1G);
	KUNIT_EXPECT_EQ(test, t->r.used_len, (u32)SZ_1G + 1);
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, SZ_1G);
	kt_in(test, 513);
	kt_expect_ioerr(test);
	/* 4 GiB + 512 bytes: not cut to 32 bits (it would be 512). */
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_OUT, 0);
	kt_data(test, SZ_2G);
	kt_data(test, SZ_2G);
	kt_data(test, 512);
	kt_in(test, 1);
	kt_expect_ioerr(test);
}

static void blk_rw_sector_alignment(struct kunit *test)
{
	struct kt_blk *t = test->priv;

	t->p.lbs = 4096;
	kt_hdr(test, VIRTIO_BLK_T_IN, 1);
	kt_in(test, 4096);
	kt_in(test, 1);
	kt_expect_ioerr(test);
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_IN, 8);
	kt_in(test, 4096);
	kt_in(test, 1);
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, t->r.sector, 8ULL);
}

/* An IN of @bytes at @sector: the verdict. */
static enum kvio_blk_verdict kt_read_at(struct kunit *test, u64 sector,
					size_t bytes)
{
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_IN, sector);
	kt_in(test, bytes);
	kt_in(test, 1);
	return kt_parse(test);
}

static void blk_rw_range(struct kunit *test)
{
	struct kt_blk *t = test->priv;

	/* Capacity 2048 sectors: the last one, and one past. */
	KUNIT_EXPECT_EQ(test, kt_read_at(test, 2047, 512), KVIO_BLK_SERVE);
	KUNIT_EXPECT_EQ(test, kt_read_at(test, 2047, 1024), KVIO_BLK_ANSWER);
	KUNIT_EXPECT_EQ(test, t->r.answer, (u8)VIRTIO_BLK_S_IOERR);
	KUNIT_EXPECT_EQ(test, kt_read_at(test, 2048, 512), KVIO_BLK_ANSWER);
	KUNIT_EXPECT_EQ(test, kt_read_at(test, 0, 1024 * 1024),
			KVIO_BLK_SERVE);
	KUNIT_EXPECT_EQ(test, kt_read_at(test, 0, 1024 * 1024 + 512),
			KVIO_BLK_ANSWER);
	/* Sectors whose byte offset or end would wrap 64 bits. */
	KUNIT_EXPECT_EQ(test, kt_read_at(test, U64_MAX, 512), KVIO_BLK_ANSWER);
	KUNIT_EXPECT_EQ(test, kt_read_at(test, 1ULL << 55, 512),
			KVIO_BLK_ANSWER);
	KUNIT_EXPECT_EQ(test, kt_read_at(test, U64_MAX - 7, 4096),
			KVIO_BLK_ANSWER);
	/* With the largest capacity, the end is still checked exactly. */
	t->p.capacity = U64_MAX;
	KUNIT_EXPECT_EQ(test, kt_read_at(test, U64_MAX - 8, 4096),
			KVIO_BLK_SERVE);
	KUNIT_EXPECT_EQ(test, kt_read_at(test, U64_MAX - 7, 4096),
			KVIO_BLK_ANSWER);
	/* No capacity (no backend yet): nothing is in range. */
	t->p.capacity = 0;
	KUNIT_EXPECT_EQ(test, kt_read_at(test, 0, 512), KVIO_BLK_ANSWER);
}

static void blk_rw_seg_max(struct kunit *test)
{
	struct kt_blk *t = test->priv;
	struct virtio_blk_outhdr hdr;

	t->p.seg_max = 2;
	/* The status byte alone is no segment. */
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, 512);
	kt_in(test, 512);
	kt_in(test, 1);
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, t->r.nr_segs, 2u);
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, 512);
	kt_in(test, 512);
	kt_in(test, 512);
	kt_in(test, 1);
	kt_expect_ioerr(test);
	/* With data, it is. */
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, 512);
	kt_in(test, 512);
	kt_in(test, 513);
	kt_expect_ioerr(test);
	/* OUT: the header's iovec counts when data follows in it. */
	kt_reset(test);
	kt_mkhdr(t, &hdr, VIRTIO_BLK_T_OUT, 0);
	kt_out(test, &hdr, sizeof(hdr), sizeof(hdr) + 512);
	kt_data(test, 512);
	kt_data(test, 512);
	kt_in(test, 1);
	kt_expect_ioerr(test);
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_OUT, 0);
	kt_data(test, 512);
	kt_data(test, 512);
	kt_in(test, 1);
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, t->r.nr_segs, 2u);
	/*
	 * Two descriptors, one of them split where a memory region ends:
	 * three iovecs, still two segments.  One more iovec is one too many.
	 */
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, 512);
	kt_in(test, 256);
	kt_in(test, 256);
	kt_in(test, 1);
	t->r.splits = 1;
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, t->r.nr_segs, 3u);
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, 512);
	kt_in(test, 256);
	kt_in(test, 256);
	kt_in(test, 512);
	kt_in(test, 1);
	t->r.splits = 1;
	kt_expect_ioerr(test);
}

static void blk_rw_size_max(struct kunit *test)
{
	struct kt_blk *t = test->priv;
	struct virtio_blk_outhdr hdr;

	t->p.size_max = 1024;
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, 1024);
	kt_in(test, 1);
	kt_expect_serve(test);
	/* The status byte does not count against its iovec. */
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, 512);
	kt_in(test, 1025);
	kt_expect_serve(test);
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, 1536);
	kt_in(test, 1);
	kt_expect_ioerr(test);
	/* Nor the header bytes before the data of an OUT. */
	kt_reset(test);
	kt_mkhdr(t, &hdr, VIRTIO_BLK_T_OUT, 0);
	kt_out(test, &hdr, sizeof(hdr), sizeof(hdr) + 1024);
	kt_in(test, 1);
	kt_expect_serve(test);
	kt_reset(test);
	kt_out(test, &hdr, sizeof(hdr), sizeof(hdr) + 512);
	kt_data(test, 1536);
	kt_in(test, 1);
	kt_expect_ioerr(test);
	/* 0: no limit. */
	t->p.size_max = 0;
	kt_expect_serve(test);
}

static void blk_rw_read_only(struct kunit *test)
{
	struct kt_blk *t = test->priv;

	t->r.ro = true;
	kt_hdr(test, VIRTIO_BLK_T_OUT, 0);
	kt_data(test, 512);
	kt_in(test, 1);
	kt_expect_ioerr(test);
	t->r.ro = false;
	kt_expect_serve(test);
	/* Reads are fine. */
	t->r.ro = true;
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_IN, 0);
	kt_in(test, 513);
	kt_expect_serve(test);
}

static void blk_results_reset(struct kunit *test)
{
	struct kt_blk *t = test->priv;

	kt_hdr(test, VIRTIO_BLK_T_IN, 8);
	kt_in(test, 512);
	kt_in(test, 1);
	kt_expect_serve(test);
	/* A refused chain next leaves nothing of the last one behind. */
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_GET_ID, 0);
	kt_data(test, 1);
	kt_in(test, 21);
	kt_expect_ioerr(test);
	KUNIT_EXPECT_EQ(test, t->r.sector, 0ULL);
	KUNIT_EXPECT_EQ(test, t->r.nr_segs, 0u);
	KUNIT_EXPECT_EQ(test, t->r.data_len, 0u);
	KUNIT_EXPECT_EQ(test, t->r.id_len, 0u);
	KUNIT_EXPECT_EQ(test, t->r.dwz_segs, 0u);
}

/* DISCARD and WRITE_ZEROES. */

static void kt_seg(struct virtio_blk_discard_write_zeroes *seg, u64 sector,
		   u32 count, u32 flags)
{
	seg->sector = cpu_to_le64(sector);
	seg->num_sectors = cpu_to_le32(count);
	seg->flags = cpu_to_le32(flags);
}

/* A DISCARD or WRITE_ZEROES chain of @n segments after the header. */
static void kt_dwz(struct kunit *test, u32 type,
		   const struct virtio_blk_discard_write_zeroes *segs,
		   unsigned int n)
{
	kt_reset(test);
	kt_hdr(test, type, 0);
	if (n)
		kt_out_bytes(test, segs, n * sizeof(*segs));
	kt_in(test, 1);
}

static void blk_dwz_not_acked(struct kunit *test)
{
	struct kt_blk *t = test->priv;
	struct virtio_blk_discard_write_zeroes seg;

	kt_seg(&seg, 0, 8, 0);
	t->r.discard = false;
	kt_dwz(test, VIRTIO_BLK_T_DISCARD, &seg, 1);
	kt_expect_answer(test, VIRTIO_BLK_S_UNSUPP);
	/* UNSUPP before any layout check. */
	kt_dwz(test, VIRTIO_BLK_T_DISCARD, NULL, 0);
	kt_expect_answer(test, VIRTIO_BLK_S_UNSUPP);
	kt_dwz(test, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1);
	kt_expect_serve(test);
	t->r.write_zeroes = false;
	kt_expect_answer(test, VIRTIO_BLK_S_UNSUPP);
	t->r.discard = true;
	kt_dwz(test, VIRTIO_BLK_T_DISCARD, &seg, 1);
	kt_expect_serve(test);
}

static void blk_dwz_layout(struct kunit *test)
{
	struct virtio_blk_discard_write_zeroes segs[3];
	struct kt_blk *t = test->priv;

	kt_seg(&segs[0], 0, 8, 0);
	kt_seg(&segs[1], 8, 8, 0);
	kt_seg(&segs[2], 16, 8, 0);
	kt_dwz(test, VIRTIO_BLK_T_WRITE_ZEROES, segs, 1);
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, t->r.dwz_segs, 1u);
	KUNIT_EXPECT_EQ(test, t->r.used_len, 1u);
	/* No segment, a partial one. */
	kt_dwz(test, VIRTIO_BLK_T_WRITE_ZEROES, NULL, 0);
	kt_expect_ioerr(test);
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	kt_out_bytes(test, segs, 24);
	kt_in(test, 1);
	kt_expect_ioerr(test);
	/* Writable bytes besides the status. */
	kt_reset(test);
	kt_hdr(test, VIRTIO_BLK_T_DISCARD, 0);
	kt_out_bytes(test, segs, sizeof(segs[0]));
	kt_in(test, 2);
	kt_expect_ioerr(test);
	/* More segments than max_*_seg: 1, then 3. */
	kt_dwz(test, VIRTIO_BLK_T_DISCARD, segs, 2);
	kt_expect_ioerr(test);
	t->p.max_discard_seg = 3;
	kt_dwz(test, VIRTIO_BLK_T_DISCARD, segs, 3);
	kt_expect_serve(test);
	KUNIT_EXPECT_EQ(test, t->r.dwz_segs, 3u);
	/* Read-only. */
	t->r.ro = true;
	kt_expect_ioerr(test);
}

static void blk_dwz_copy(struct kunit *test)
{
	struct virtio_blk_discard_write_zeroes segs[2], copy[2];
	struct kt_blk *t = test->priv;
	struct virtio_blk_outhdr hdr;
	u8 *b = (u8 *)segs;

	kt_seg(&segs[0], 0x1122334455667788ULL, 8, 1);
	kt_seg(&segs[1], 64, 0x99, 0);
	t->p.max_wz_seg = 2;
	/* Header and 3 bytes in one iovec, the rest split at byte 20. */
	kt_mkhdr(t, &hdr, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	memcpy(t->mem, &hdr, sizeof(hdr));
	memcpy(t->mem + sizeof(hdr), b, 3);
	kt_out(test, NULL, 0, sizeof(hdr) + 3);
	kt_out_bytes(test, b + 3, 17);
	kt_out_bytes(test, b + 20, sizeof(segs) - 20);
	kt_in(test, 1);
	kt_expect_serve(test);
	KUNIT_ASSERT_EQ(test, t->r.dwz_segs, 2u);
	memset(copy, 0xff, sizeof(copy));
	KUNIT_EXPECT_EQ(test, kvio_blk_parse_copy(&t->r, KVIO_BLK_HDR_LEN,
						  copy, sizeof(copy)), 0);
	KUNIT_EXPECT_EQ(test, memcmp(copy, segs, sizeof(segs)), 0);
	/* Past the readable part; a fault on the way. */
	KUNIT_EXPECT_EQ(test, kvio_blk_parse_copy(&t->r, KVIO_BLK_HDR_LEN + 1,
						  copy, sizeof(copy)),
			-EFAULT);
	t->reads = 0;
	t->fail_read_at = 2;
	KUNIT_EXPECT_EQ(test, kvio_blk_parse_copy(&t->r, KVIO_BLK_HDR_LEN,
						  copy, sizeof(copy)),
			-EFAULT);
	KUNIT_EXPECT_EQ(test, t->reads, 3u);
}

static u8 kt_check(struct kunit *test, u64 sector, u32 count, u32 flags,
		   bool wz)
{
	struct kt_blk *t = test->priv;
	struct virtio_blk_discard_write_zeroes seg;

	kt_seg(&seg, sector, count, flags);
	return kvio_blk_dwz_check(&t->p, &seg, 1, wz);
}

static void blk_dwz_flags(struct kunit *test)
{
	struct virtio_blk_discard_write_zeroes segs[2];
	struct kt_blk *t = test->priv;

	KUNIT_EXPECT_EQ(test, kt_check(test, 0, 8, 0, false), VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_EQ(test, kt_check(test, 0, 8, 0, true), VIRTIO_BLK_S_OK);
	/* Unmap: WRITE_ZEROES only. */
	KUNIT_EXPECT_EQ(test, kt_check(test, 0, 8, 1, true), VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_EQ(test, kt_check(test, 0, 8, 1, false),
			VIRTIO_BLK_S_UNSUPP);
	/* Unknown flags. */
	KUNIT_EXPECT_EQ(test, kt_check(test, 0, 8, 2, true),
			VIRTIO_BLK_S_UNSUPP);
	KUNIT_EXPECT_EQ(test, kt_check(test, 0, 8, 0x80000001, true),
			VIRTIO_BLK_S_UNSUPP);
	/* Every segment's flags come before any segment's range. */
	kt_seg(&segs[0], KT_CAPACITY, 8, 0);
	kt_seg(&segs[1], 0, 8, 4);
	KUNIT_EXPECT_EQ(test, kvio_blk_dwz_check(&t->p, segs, 2, true),
			VIRTIO_BLK_S_UNSUPP);
	kt_seg(&segs[1], 0, 8, 0);
	KUNIT_EXPECT_EQ(test, kvio_blk_dwz_check(&t->p, segs, 2, true),
			VIRTIO_BLK_S_IOERR);
}

static void blk_dwz_ranges(struct kunit *test)
{
	struct kt_blk *t = test->priv;

	KUNIT_EXPECT_EQ(test, kt_check(test, 0, 0, 0, true),
			VIRTIO_BLK_S_IOERR);
	KUNIT_EXPECT_EQ(test, kt_check(test, 0, KT_CAPACITY, 0, true),
			VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_EQ(test, kt_check(test, 1, KT_CAPACITY, 0, false),
			VIRTIO_BLK_S_IOERR);
	KUNIT_EXPECT_EQ(test, kt_check(test, KT_CAPACITY - 1, 1, 0, false),
			VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_EQ(test, kt_check(test, KT_CAPACITY, 1, 0, false),
			VIRTIO_BLK_S_IOERR);
	KUNIT_EXPECT_EQ(test, kt_check(test, U64_MAX, 1, 0, false),
			VIRTIO_BLK_S_IOERR);
	KUNIT_EXPECT_EQ(test, kt_check(test, U64_MAX - 7, 8, 0, true),
			VIRTIO_BLK_S_IOERR);
	/* max_*_sectors per segment, each its own. */
	t->p.max_wz_sectors = 16;
	t->p.max_discard_sectors = 8;
	KUNIT_EXPECT_EQ(test, kt_check(test, 0, 16, 0, true), VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_EQ(test, kt_check(test, 0, 17, 0, true),
			VIRTIO_BLK_S_IOERR);
	KUNIT_EXPECT_EQ(test, kt_check(test, 0, 16, 0, false),
			VIRTIO_BLK_S_IOERR);
	/* Whole logical blocks. */
	t->p.lbs = 4096;
	KUNIT_EXPECT_EQ(test, kt_check(test, 8, 8, 0, true), VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_EQ(test, kt_check(test, 4, 8, 0, true),
			VIRTIO_BLK_S_IOERR);
	KUNIT_EXPECT_EQ(test, kt_check(test, 8, 4, 0, true),
			VIRTIO_BLK_S_IOERR);
}

static void blk_range_ok(struct kunit *test)
{
	struct kt_blk *t = test->priv;

	KUNIT_EXPECT_TRUE(test, kvio_blk_range_ok(&t->p, 0, 0));
	KUNIT_EXPECT_TRUE(test, kvio_blk_range_ok(&t->p, KT_CAPACITY, 0));
	KUNIT_EXPECT_FALSE(test, kvio_blk_range_ok(&t->p, KT_CAPACITY + 1, 0));
	KUNIT_EXPECT_FALSE(test, kvio_blk_range_ok(&t->p, 1, U64_MAX));
	t->p.lbs = 65536;
	KUNIT_EXPECT_TRUE(test, kvio_blk_range_ok(&t->p, 128, 128));
	KUNIT_EXPECT_FALSE(test, kvio_blk_range_ok(&t->p, 64, 128));
}

static struct kunit_case kvio_blk_parse_cases[] = {
	KUNIT_CASE(blk_no_status),
	KUNIT_CASE(blk_status_last_byte),
	KUNIT_CASE(blk_header_split),
	KUNIT_CASE(blk_header_with_data),
	KUNIT_CASE(blk_header_short),
	KUNIT_CASE(blk_header_unreadable),
	KUNIT_CASE(blk_header_big_endian),
	KUNIT_CASE(blk_unknown_type),
	KUNIT_CASE(blk_in_direction),
	KUNIT_CASE(blk_out_direction),
	KUNIT_CASE(blk_flush),
	KUNIT_CASE(blk_get_id),
	KUNIT_CASE(blk_rw_zero_length),
	KUNIT_CASE(blk_rw_block_multiple),
	KUNIT_CASE(blk_rw_max_bytes),
	KUNIT_CASE(blk_rw_sector_alignment),
	KUNIT_CASE(blk_rw_range),
	KUNIT_CASE(blk_rw_seg_max),
	KUNIT_CASE(blk_rw_size_max),
	KUNIT_CASE(blk_rw_read_only),
	KUNIT_CASE(blk_results_reset),
	KUNIT_CASE(blk_dwz_not_acked),
	KUNIT_CASE(blk_dwz_layout),
	KUNIT_CASE(blk_dwz_copy),
	KUNIT_CASE(blk_dwz_flags),
	KUNIT_CASE(blk_dwz_ranges),
	KUNIT_CASE(blk_range_ok),
	{}
};

static struct kunit_suite kvio_blk_parse_suite = {
	.name = "kvio_blk_parse",
	.init = kt_blk_init,
	.test_cases = kvio_blk_parse_cases,
};

kunit_test_suite(kvio_blk_parse_suite);
