// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the virtio-blk request parser, vhost_blk/parse.c,
 * compiled unchanged in userspace.
 *
 * The input is the device configuration, what the guest acked, the iovecs
 * of one chain as the engine would hand them over, and "guest memory" (the
 * arena) behind the readable ones.  Layout, little-endian, missing bytes
 * read 0:
 *
 *   u8  cfg      bit 0 little-endian header, 1 read-only, 2 DISCARD acked,
 *                3 WRITE_ZEROES acked, 4-5 splits (iovecs beyond one per
 *                descriptor, as the engine reports them)
 *   u8  lbs      logical block size 512 << (lbs % 8)
 *   u64 capacity sectors
 *   u16 seg_max  1 + seg_max % 1022
 *   u32 size_max 0: no limit
 *   u32 max_discard_sectors, u32 max_wz_sectors   1 + v % 4194304
 *   u8  max_discard_seg, u8 max_wz_seg            1 + v % 256
 *   u8  nout     readable iovecs nout % 33
 *   u8  nin      writable iovecs nin % 33
 *   each readable iovec:  u32 len (0 reads as 1), u8 gap (arena bytes
 *                         skipped before it)
 *   each writable iovec:  u32 len (0 reads as 1)
 *   rest         the arena: readable iovecs lie in it one after the other,
 *                each after its gap; a read past its end fails (-EFAULT)
 *
 * Beyond the sanitizers, each run checks the parser against a naive model
 * of the rules written from Documentation/blk.rst (bytes gathered one by
 * one, ranges in 128-bit integers): the verdict, the status, the status
 * byte's address, the header fields, the data layout and the used length
 * must all agree; the read op checks that only readable iovecs are read.
 * DISCARD and WRITE_ZEROES segments are then copied and checked too.  Any
 * mismatch aborts, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <linux/virtio_blk.h>

#include "../vhost_blk/parse.h"
#include "harness.h"

#define MAX_IOVS	32
#define ARENA_MAX	65536
#define RBASE		0x100000000ULL		/* readable iovecs, the arena */
#define WBASE		0x4000000000ULL		/* writable iovecs */

struct input {
	struct kvio_blk_params p;
	bool le, ro, discard, wz;
	unsigned int splits;
	unsigned int nout, nin;
	u32 len[2 * MAX_IOVS];
	u64 off[MAX_IOVS];		/* readable: arena offset */
	const u8 *arena;
	size_t arena_len;
	unsigned long reads;
};

static void parse_input(struct input *in, const u8 *data, size_t size)
{
	struct cursor cur = { data, size };
	unsigned int i, cfg;
	u64 pos = 0;

	memset(in, 0, sizeof(*in));
	cfg = take(&cur, 1);
	in->le = cfg & 1;
	in->ro = cfg & 2;
	in->discard = cfg & 4;
	in->wz = cfg & 8;
	in->splits = (cfg >> 4) & 3;
	in->p.lbs = 512U << (take(&cur, 1) % 8);
	in->p.capacity = take(&cur, 8);
	in->p.seg_max = 1 + take(&cur, 2) % 1022;
	in->p.size_max = take(&cur, 4);
	in->p.max_discard_sectors = 1 + take(&cur, 4) % 4194304;
	in->p.max_wz_sectors = 1 + take(&cur, 4) % 4194304;
	in->p.max_discard_seg = 1 + take(&cur, 1) % 256;
	in->p.max_wz_seg = 1 + take(&cur, 1) % 256;
	in->p.ro = in->ro;
	in->nout = take(&cur, 1) % (MAX_IOVS + 1);
	in->nin = take(&cur, 1) % (MAX_IOVS + 1);
	for (i = 0; i < in->nout; i++) {
		in->len[i] = take(&cur, 4);
		if (!in->len[i])
			in->len[i] = 1;
		pos += take(&cur, 1);
		in->off[i] = pos;
		pos += in->len[i];
	}
	for (i = 0; i < in->nin; i++) {
		in->len[in->nout + i] = take(&cur, 4);
		if (!in->len[in->nout + i])
			in->len[in->nout + i] = 1;
	}
	in->arena = cur.p;
	in->arena_len = cur.n < ARENA_MAX ? cur.n : ARENA_MAX;
}

static int op_read(struct kvio_blk_parse *r, void *buf,
		   const void __user *src, size_t len)
{
	struct input *in = r->priv;
	u64 a = (u64)(uintptr_t)src;
	unsigned int i;

	in->reads++;
	check(len > 0);
	/* Inside one readable iovec, never a writable one. */
	for (i = 0; i < in->nout; i++) {
		u64 base = RBASE + in->off[i];

		if (a >= base && a - base < in->len[i] &&
		    len <= in->len[i] - (a - base))
			break;
	}
	check(i < in->nout);
	a -= RBASE;
	if (a > in->arena_len || len > in->arena_len - a)
		return -EFAULT;
	memcpy(buf, in->arena + a, len);
	return 0;
}

/*
 * The model.  Byte @k of the readable part, or -1 if unreadable (past the
 * arena).
 */
static int model_byte(const struct input *in, u64 k)
{
	unsigned int i;

	for (i = 0; i < in->nout; i++) {
		if (k < in->len[i]) {
			u64 a = in->off[i] + k;

			return a < in->arena_len ? in->arena[a] : -1;
		}
		k -= in->len[i];
	}
	return -1;
}

static bool model_gather(const struct input *in, u64 off, u8 *buf, u64 len)
{
	u64 k;

	for (k = 0; k < len; k++) {
		int b = model_byte(in, off + k);

		if (b < 0)
			return false;
		buf[k] = b;
	}
	return true;
}

static u64 get_le(const u8 *b, unsigned int n)
{
	u64 v = 0;

	while (n--)
		v = v << 8 | b[n];
	return v;
}

static u64 get_be(const u8 *b, unsigned int n)
{
	u64 v = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

static bool model_range(const struct kvio_blk_params *p, u64 sector,
			u64 count)
{
	u64 unit = p->lbs / 512;

	return sector % unit == 0 && count % unit == 0 &&
	       (unsigned __int128)sector + count <= p->capacity;
}

struct expect {
	enum kvio_blk_verdict v;
	u8 answer;
	u32 type;
	u64 sector;
	u64 data_len, used_len, segs, id_len, dwz_segs;
};

/* IN (@write false) and OUT, from the bytes and iovecs, one by one. */
static void model_rw(const struct input *in, u64 out_len, u64 in_len,
		     bool write, struct expect *e)
{
	const struct kvio_blk_params *p = &in->p;
	u64 data, segs = 0, k, before = 0;
	unsigned int i;

	e->v = KVIO_BLK_ANSWER;
	e->answer = VIRTIO_BLK_S_IOERR;
	if (write ? in_len != 1 : out_len != KVIO_BLK_HDR_LEN)
		return;
	data = write ? out_len - KVIO_BLK_HDR_LEN : in_len - 1;
	/* Segments: the iovecs holding data bytes, each within size_max. */
	for (i = 0; i < (write ? in->nout : in->nin); i++) {
		u64 len = in->len[(write ? 0 : in->nout) + i];
		u64 lo = before, hi = before + len;	/* [lo, hi) */
		u64 dlo = write ? KVIO_BLK_HDR_LEN : 0;
		u64 dhi = write ? out_len : in_len - 1;

		before = hi;
		lo = lo > dlo ? lo : dlo;
		hi = hi < dhi ? hi : dhi;
		if (lo >= hi)
			continue;
		segs++;
		k = hi - lo;
		if (p->size_max && k > p->size_max)
			return;
	}
	if (!data || data > (1ULL << 30) || data % p->lbs ||
	    segs > p->seg_max + in->splits)
		return;
	if (write && in->ro)
		return;
	if (!model_range(p, e->sector, data / 512))
		return;
	e->v = KVIO_BLK_SERVE;
	e->data_len = data;
	e->segs = segs;
}

static void model(const struct input *in, struct expect *e)
{
	const struct kvio_blk_params *p = &in->p;
	u64 out_len = 0, in_len = 0, len;
	unsigned int i;
	u8 hdr[16];

	memset(e, 0, sizeof(*e));
	for (i = 0; i < in->nout; i++)
		out_len += in->len[i];
	for (i = 0; i < in->nin; i++)
		in_len += in->len[in->nout + i];
	if (!in_len) {
		e->v = KVIO_BLK_BROKEN;
		return;
	}
	/* Any answer: the whole writable part. */
	e->used_len = in_len < 0xffffffffULL ? in_len : 0xffffffffULL;
	e->v = KVIO_BLK_ANSWER;
	e->answer = VIRTIO_BLK_S_IOERR;
	if (!model_gather(in, 0, hdr, sizeof(hdr)))
		return;
	e->type = in->le ? get_le(hdr, 4) : get_be(hdr, 4);
	e->sector = in->le ? get_le(hdr + 8, 8) : get_be(hdr + 8, 8);

	switch (e->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		model_rw(in, out_len, in_len, e->type == VIRTIO_BLK_T_OUT, e);
		return;
	case VIRTIO_BLK_T_FLUSH:
		if (out_len == KVIO_BLK_HDR_LEN && in_len == 1)
			e->v = KVIO_BLK_SERVE;
		return;
	case VIRTIO_BLK_T_GET_ID:
		if (out_len == KVIO_BLK_HDR_LEN) {
			e->v = KVIO_BLK_SERVE;
			e->id_len = in_len - 1 < 20 ? in_len - 1 : 20;
		}
		return;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (!(e->type == VIRTIO_BLK_T_DISCARD ? in->discard : in->wz)) {
			e->answer = VIRTIO_BLK_S_UNSUPP;
			return;
		}
		len = out_len - KVIO_BLK_HDR_LEN;
		if (in_len != 1 || !len || len % 16 || in->ro ||
		    len / 16 > (e->type == VIRTIO_BLK_T_DISCARD ?
				p->max_discard_seg : p->max_wz_seg))
			return;
		e->v = KVIO_BLK_SERVE;
		e->dwz_segs = len / 16;
		return;
	default:
		e->answer = VIRTIO_BLK_S_UNSUPP;
		return;
	}
}

/* The status of DISCARD / WRITE_ZEROES segments @segs (16 bytes each). */
static u8 model_dwz(const struct input *in, const u8 *segs, u64 n, bool wz)
{
	u64 max = wz ? in->p.max_wz_sectors : in->p.max_discard_sectors, i;

	for (i = 0; i < n; i++) {
		u64 flags = get_le(segs + 16 * i + 12, 4);

		if (flags > 1 || (!wz && flags))
			return VIRTIO_BLK_S_UNSUPP;
	}
	for (i = 0; i < n; i++) {
		u64 sector = get_le(segs + 16 * i, 8);
		u64 count = get_le(segs + 16 * i + 8, 4);

		if (!count || count > max || !model_range(&in->p, sector, count))
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/* The parser's data layout, summed: the bytes and segments it names. */
static void check_layout(const struct input *in,
			 const struct kvio_blk_parse *r,
			 const struct expect *e)
{
	bool write = r->type == VIRTIO_BLK_T_OUT;
	u64 bytes = 0;
	unsigned int i;

	check(r->nr_segs == e->segs);
	check(r->first + r->nr_segs <= r->out + r->in);
	check(write ? r->first + r->nr_segs == r->out :
		      r->first == r->out && r->nr_segs <= r->in);
	check(r->nr_segs > 0);
	check(r->skip < in->len[r->first]);
	for (i = 0; i < r->nr_segs; i++)
		bytes += in->len[r->first + i];
	bytes -= r->skip;
	/* An IN's last segment may end with the status byte. */
	if (!write && r->nr_segs == r->in)
		bytes--;
	check(bytes == r->data_len);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct kvio_blk_parse r = { 0 };
	struct input in;
	struct iovec *iov;
	struct expect e;
	enum kvio_blk_verdict v;
	unsigned int i, n;

	parse_input(&in, data, size);
	n = in.nout + in.nin;
	/* Exactly the iovecs the parser is told, so ASan sees any overrun. */
	iov = malloc(sizeof(*iov) * (n ? n : 1));
	check(iov);
	for (i = 0; i < in.nout; i++) {
		iov[i].iov_base = (void *)(uintptr_t)(RBASE + in.off[i]);
		iov[i].iov_len = in.len[i];
	}
	{
		u64 w = WBASE;

		for (i = in.nout; i < n; i++) {
			iov[i].iov_base = (void *)(uintptr_t)w;
			iov[i].iov_len = in.len[i];
			w += in.len[i];
		}
	}
	r.p = &in.p;
	r.iov = iov;
	r.out = in.nout;
	r.in = in.nin;
	r.splits = in.splits;
	r.little_endian = in.le;
	r.ro = in.ro;
	r.discard = in.discard;
	r.write_zeroes = in.wz;
	r.read = op_read;
	r.priv = &in;

	v = kvio_blk_parse_req(&r);
	model(&in, &e);
	check(in.reads <= in.nout);
	check(v == e.v);
	if (v == KVIO_BLK_BROKEN)
		goto out;
	/* The status byte: the last byte of the last writable iovec. */
	check((u64)(uintptr_t)r.status ==
	      (u64)(uintptr_t)iov[n - 1].iov_base + iov[n - 1].iov_len - 1);
	if (v == KVIO_BLK_ANSWER) {
		check(r.answer == e.answer);
		check(r.used_len == e.used_len);
		goto out;
	}
	check(r.type == e.type);
	check(r.sector == e.sector);
	check(r.used_len == e.used_len);
	switch (r.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		check(r.data_len == e.data_len);
		check_layout(&in, &r, &e);
		break;
	case VIRTIO_BLK_T_GET_ID:
		check(r.id_len == e.id_len);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		struct virtio_blk_discard_write_zeroes *segs;
		u8 *ref;
		bool wz = r.type == VIRTIO_BLK_T_WRITE_ZEROES;
		bool ok;
		int ret;

		check(r.dwz_segs == e.dwz_segs);
		segs = malloc(sizeof(*segs) * r.dwz_segs);
		ref = malloc(16 * r.dwz_segs);
		check(segs && ref);
		ret = kvio_blk_parse_copy(&r, KVIO_BLK_HDR_LEN, segs,
					  sizeof(*segs) * r.dwz_segs);
		ok = model_gather(&in, KVIO_BLK_HDR_LEN, ref,
				  16 * r.dwz_segs);
		check(ok == !ret);
		if (ok) {
			check(!memcmp(segs, ref, 16 * r.dwz_segs));
			check(kvio_blk_dwz_check(&in.p, segs, r.dwz_segs, wz) ==
			      model_dwz(&in, ref, r.dwz_segs, wz));
		}
		free(segs);
		free(ref);
		break;
	}
	default:
		check(r.type == VIRTIO_BLK_T_FLUSH);
	}
out:
	free(iov);
	return 0;
}
