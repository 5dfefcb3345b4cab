// SPDX-License-Identifier: GPL-2.0-only
/*
 * The virtio-blk request parser (parse.h).  The rules, as QEMU's virtio-blk
 * checks a chain before a byte reaches the backend, made stricter where QEMU
 * only ignores bytes (Documentation/blk.rst, "Requests"):
 *  - the status byte is the last byte of the device-writable part; a chain
 *    without one cannot be answered and breaks the ring;
 *  - the 16-byte header is copied out of the device-readable part, wherever
 *    the descriptors split it, and read once;
 *  - data goes where its direction says: IN data in writable buffers and
 *    nothing but the header readable, OUT data readable and nothing but the
 *    status writable; a layout that does not match its type is IOERR;
 *  - lengths are non-zero multiples of the logical block size, sectors are
 *    aligned to it, and ranges are checked in sectors before anything is
 *    shifted (sector > capacity || count > capacity - sector);
 *  - an unknown type, or flags unknown to DISCARD/WRITE_ZEROES, is UNSUPP;
 *    every request with a status byte gets exactly one used entry.
 *
 * Every loop is bounded by the number of iovecs or segments, every sum is
 * of at most UIO_MAXIOV lengths under 4 GiB, so nothing here can wrap.
 *
 * This file is also compiled in userspace by fuzz/ (with fuzz/shim/), so it
 * includes nothing beyond the headers the shim provides.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/uio.h>
#include <linux/virtio_byteorder.h>
#include <asm/byteorder.h>

#include "parse.h"

static u64 kvio_blk_iov_bytes(const struct iovec *iov, unsigned int n)
{
	u64 len = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

int kvio_blk_parse_copy(struct kvio_blk_parse *r, u64 off, void *buf,
			size_t len)
{
	u8 *dst = buf;
	unsigned int i;

	for (i = 0; i < r->out && len; i++) {
		size_t seg = r->iov[i].iov_len;
		size_t n;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		n = seg - off;
		if (n > len)
			n = len;
		if (r->read(r, dst,
			    (const u8 __user *)r->iov[i].iov_base + off, n))
			return -EFAULT;
		dst += n;
		len -= n;
		off = 0;
	}
	return len ? -EFAULT : 0;
}

bool kvio_blk_range_ok(const struct kvio_blk_params *p, u64 sector,
		       u64 count)
{
	u64 lbs_sectors = p->lbs >> KVIO_BLK_SECTOR_SHIFT;

	if ((sector | count) & (lbs_sectors - 1))
		return false;
	return sector <= p->capacity && count <= p->capacity - sector;
}

static enum kvio_blk_verdict kvio_blk_answer(struct kvio_blk_parse *r,
					     u8 status)
{
	r->answer = status;
	return KVIO_BLK_ANSWER;
}

/* IN and OUT. */
static enum kvio_blk_verdict kvio_blk_parse_rw(struct kvio_blk_parse *r,
					       bool write)
{
	const struct kvio_blk_params *p = r->p;
	const struct iovec *iov = r->iov;
	unsigned int first, nr_segs, i;
	u64 data_len, len;
	size_t skip;

	if (write) {
		/* Header then data, readable; only the status writable. */
		if (r->in_len != 1)
			return kvio_blk_answer(r, VIRTIO_BLK_S_IOERR);
		data_len = r->out_len - KVIO_BLK_HDR_LEN;
		skip = KVIO_BLK_HDR_LEN;
		for (first = 0; first < r->out && skip >= iov[first].iov_len;
		     first++)
			skip -= iov[first].iov_len;
		nr_segs = r->out - first;
	} else {
		/* Nothing readable but the header: data and status writable. */
		if (r->out_len != KVIO_BLK_HDR_LEN)
			return kvio_blk_answer(r, VIRTIO_BLK_S_IOERR);
		data_len = r->in_len - 1;
		skip = 0;
		first = r->out;
		nr_segs = r->in;
		/* The status byte alone in the last iovec is no segment. */
		if (iov[r->out + r->in - 1].iov_len == 1)
			nr_segs--;
	}

	/* seg_max <= 1022, splits < UIO_MAXIOV: no overflow. */
	if (!data_len || data_len > KVIO_BLK_MAX_REQ_BYTES ||
	    data_len & (p->lbs - 1) || nr_segs > p->seg_max + r->splits)
		return kvio_blk_answer(r, VIRTIO_BLK_S_IOERR);
	if (p->size_max) {
		for (i = 0; i < nr_segs; i++) {
			len = iov[first + i].iov_len - (i ? 0 : skip);
			if (!write && i == r->in - 1)
				len--;	/* the status byte */
			if (len > p->size_max)
				return kvio_blk_answer(r, VIRTIO_BLK_S_IOERR);
		}
	}
	if (write && r->ro)
		return kvio_blk_answer(r, VIRTIO_BLK_S_IOERR);
	if (!kvio_blk_range_ok(p, r->sector,
			       data_len >> KVIO_BLK_SECTOR_SHIFT))
		return kvio_blk_answer(r, VIRTIO_BLK_S_IOERR);

	r->first = first;
	r->nr_segs = nr_segs;
	r->skip = skip;
	r->data_len = data_len;
	return KVIO_BLK_SERVE;
}

static enum kvio_blk_verdict kvio_blk_parse_flush(struct kvio_blk_parse *r)
{
	if (r->out_len != KVIO_BLK_HDR_LEN || r->in_len != 1)
		return kvio_blk_answer(r, VIRTIO_BLK_S_IOERR);
	return KVIO_BLK_SERVE;
}

static enum kvio_blk_verdict kvio_blk_parse_get_id(struct kvio_blk_parse *r)
{
	if (r->out_len != KVIO_BLK_HDR_LEN)
		return kvio_blk_answer(r, VIRTIO_BLK_S_IOERR);
	/* As QEMU: as much of the 20 bytes as the buffer holds. */
	r->id_len = r->in_len - 1 < VIRTIO_BLK_ID_BYTES ? r->in_len - 1 :
							  VIRTIO_BLK_ID_BYTES;
	return KVIO_BLK_SERVE;
}

/* DISCARD and WRITE_ZEROES: the segments' count, not yet their content. */
static enum kvio_blk_verdict kvio_blk_parse_dwz(struct kvio_blk_parse *r,
						bool wz)
{
	const struct kvio_blk_params *p = r->p;
	u64 len = r->out_len - KVIO_BLK_HDR_LEN;
	u64 seg = sizeof(struct virtio_blk_discard_write_zeroes);
	unsigned int max_segs;

	if (!(wz ? r->write_zeroes : r->discard))
		return kvio_blk_answer(r, VIRTIO_BLK_S_UNSUPP);
	max_segs = wz ? p->max_wz_seg : p->max_discard_seg;
	if (r->in_len != 1 || !len || len % seg || len / seg > max_segs ||
	    r->ro)
		return kvio_blk_answer(r, VIRTIO_BLK_S_IOERR);
	r->dwz_segs = len / seg;
	return KVIO_BLK_SERVE;
}

u8 kvio_blk_dwz_check(const struct kvio_blk_params *p,
		      const struct virtio_blk_discard_write_zeroes *segs,
		      unsigned int nr_segs, bool wz)
{
	u32 max = wz ? p->max_wz_sectors : p->max_discard_sectors;
	unsigned int i;
	u32 flags;

	/* 5.2.6.2: unknown flags, or unmap on a discard, are UNSUPP. */
	for (i = 0; i < nr_segs; i++) {
		flags = le32_to_cpu(segs[i].flags);
		if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
			return VIRTIO_BLK_S_UNSUPP;
		if (!wz && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
			return VIRTIO_BLK_S_UNSUPP;
	}
	for (i = 0; i < nr_segs; i++) {
		u32 count = le32_to_cpu(segs[i].num_sectors);

		/* The count is bounded before anything is shifted. */
		if (!count || count > max ||
		    !kvio_blk_range_ok(p, le64_to_cpu(segs[i].sector), count))
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

enum kvio_blk_verdict kvio_blk_parse_req(struct kvio_blk_parse *r)
{
	struct virtio_blk_outhdr hdr;
	unsigned int last;

	r->out_len = 0;
	r->status = NULL;
	r->type = 0;
	r->sector = 0;
	r->answer = 0;
	r->used_len = 0;
	r->first = 0;
	r->nr_segs = 0;
	r->skip = 0;
	r->data_len = 0;
	r->id_len = 0;
	r->dwz_segs = 0;

	r->in_len = kvio_blk_iov_bytes(r->iov + r->out, r->in);
	if (!r->in_len)
		return KVIO_BLK_BROKEN;
	/*
	 * Whatever the answer, the used length is the whole writable part,
	 * as QEMU reports it: the status byte is its last byte, and a used
	 * length that stops short of it would say the status is not there.
	 */
	r->used_len = r->in_len < U32_MAX ? r->in_len : U32_MAX;
	/* The engine makes no empty iovecs; be safe anyway. */
	last = r->out + r->in - 1;
	while (!r->iov[last].iov_len)
		last--;
	r->status = (u8 __user *)r->iov[last].iov_base +
		    r->iov[last].iov_len - 1;

	r->out_len = kvio_blk_iov_bytes(r->iov, r->out);
	if (r->out_len < sizeof(hdr) ||
	    kvio_blk_parse_copy(r, 0, &hdr, sizeof(hdr)))
		return kvio_blk_answer(r, VIRTIO_BLK_S_IOERR);
	r->type = __virtio32_to_cpu(r->little_endian, hdr.type);
	r->sector = __virtio64_to_cpu(r->little_endian, hdr.sector);

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		return kvio_blk_parse_rw(r, false);
	case VIRTIO_BLK_T_OUT:
		return kvio_blk_parse_rw(r, true);
	case VIRTIO_BLK_T_FLUSH:
		return kvio_blk_parse_flush(r);
	case VIRTIO_BLK_T_GET_ID:
		return kvio_blk_parse_get_id(r);
	case VIRTIO_BLK_T_DISCARD:
		return kvio_blk_parse_dwz(r, false);
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return kvio_blk_parse_dwz(r, true);
	default:
		/* Answered all the same: a request never answered is a hang. */
		return kvio_blk_answer(r, VIRTIO_BLK_S_UNSUPP);
	}
}
