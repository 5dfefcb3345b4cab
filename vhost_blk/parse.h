/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvio_blk's request parser (virtio 1.2, 5.2.6): every rule a virtio-blk
 * request chain must follow before a byte reaches the backend.
 *
 * kvio_blk_parse_req() takes the iovecs of one chain (the engine's, from
 * kvio_vq_get_desc()) and says what to do with it: break the ring (no status
 * byte), answer at once with a status, or serve it, with everything the
 * serving needs worked out (where the status byte is, which iovecs hold the
 * data, the used length).  It never touches guest memory itself: the header
 * and the DISCARD/WRITE_ZEROES segments are copied through the caller's read
 * op.  The same source runs in kvio_blk (copy_from_user), in the KUnit suite
 * (buffers in kernel memory) and under libFuzzer in userspace (fuzz/, with a
 * small header shim), so all three exercise one implementation.
 *
 * Nothing here sleeps or allocates; the read op may.
 */
#ifndef _KVIO_BLK_PARSE_H
#define _KVIO_BLK_PARSE_H

#include <linux/sizes.h>
#include <linux/types.h>
#include <linux/virtio_blk.h>

struct iovec;

/* Data bytes per request (also keeps every length far from 2 GiB). */
#define KVIO_BLK_MAX_REQ_BYTES	SZ_1G

/* The request header, struct virtio_blk_outhdr. */
#define KVIO_BLK_HDR_LEN	16

/* virtio-blk sectors are 512 bytes whatever the block size. */
#define KVIO_BLK_SECTOR_SHIFT	9

/* The configuration in force (blk->cfg resolved against the backend). */
struct kvio_blk_params {
	u64 capacity;		/* sectors */
	u32 lbs;		/* bytes, power of two >= 512 */
	u32 seg_max;
	u32 size_max;		/* 0: no limit */
	u32 max_discard_sectors;
	u32 max_discard_seg;
	u32 max_wz_sectors;
	u32 max_wz_seg;
	bool ro;
	bool writethrough;	/* VMM's choice; no FLUSH acked also means it */
	u8 serial[VIRTIO_BLK_ID_BYTES];
};

/* What kvio_blk_parse_req() decided. */
enum kvio_blk_verdict {
	KVIO_BLK_BROKEN,	/* no device-writable byte: break the ring */
	KVIO_BLK_ANSWER,	/* answer now with status r->answer */
	KVIO_BLK_SERVE,		/* well formed: serve r->type */
};

struct kvio_blk_parse {
	/* Set by the caller. */
	const struct kvio_blk_params *p;
	/*
	 * The chain: iov[0, out) device-readable, iov[out, out + in)
	 * device-writable, as the engine makes them (none empty, each under
	 * 4 GiB, at most UIO_MAXIOV).
	 */
	const struct iovec *iov;
	unsigned int out, in;
	/*
	 * Iovecs beyond one per descriptor: seg_max bounds the guest's
	 * descriptors, and a buffer crossing a memory region takes two.
	 */
	unsigned int splits;
	bool little_endian;	/* the header's byte order */
	bool ro;		/* OUT, DISCARD, WRITE_ZEROES refused */
	bool discard;		/* VIRTIO_BLK_F_DISCARD acked */
	bool write_zeroes;	/* VIRTIO_BLK_F_WRITE_ZEROES acked */
	/* Copies @len bytes at the user address @src: 0 or -EFAULT. */
	int (*read)(struct kvio_blk_parse *r, void *buf,
		    const void __user *src, size_t len);
	void *priv;		/* for the read op */

	/* Results, all reset by kvio_blk_parse_req(). */
	u64 out_len, in_len;	/* bytes readable, writable */
	u8 __user *status;	/* the last device-writable byte */
	u32 type;		/* from the header, in CPU order */
	u64 sector;
	u8 answer;		/* KVIO_BLK_ANSWER: the status */
	/* The used length of any answer: in_len, at most U32_MAX. */
	u32 used_len;
	/*
	 * KVIO_BLK_SERVE, IN and OUT: the
	 * data is iov[first, first + nr_segs) with @skip bytes (the rest of
	 * the header) left out of the first, data_len bytes in all; for IN
	 * the status byte follows it in the last of them or alone after
	 * them.  GET_ID: @id_len bytes of serial to copy.  DISCARD and
	 * WRITE_ZEROES: @dwz_segs segments after the header.
	 */
	unsigned int first, nr_segs;
	size_t skip;
	u32 data_len;
	u32 id_len;
	unsigned int dwz_segs;
};

enum kvio_blk_verdict kvio_blk_parse_req(struct kvio_blk_parse *r);

/*
 * Copies @len bytes of the chain's device-readable part, from offset @off,
 * through r->read: 0, or -EFAULT if it fails or the part is shorter.
 */
int kvio_blk_parse_copy(struct kvio_blk_parse *r, u64 off, void *buf,
			size_t len);

/*
 * Checks DISCARD (@wz false) or WRITE_ZEROES segments, copied once, all of
 * them before any is acted on: VIRTIO_BLK_S_OK, _UNSUPP or _IOERR.
 */
u8 kvio_blk_dwz_check(const struct kvio_blk_params *p,
		      const struct virtio_blk_discard_write_zeroes *segs,
		      unsigned int nr_segs, bool wz);

/*
 * Is [sector, sector + count) inside the device, in whole logical blocks?
 * Checked in sectors, so nothing is shifted and nothing can wrap.
 */
bool kvio_blk_range_ok(const struct kvio_blk_params *p, u64 sector,
		       u64 count);

#endif /* _KVIO_BLK_PARSE_H */
