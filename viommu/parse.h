/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvio_iommu's request parser (virtio 1.2, 5.13.6): every rule of a
 * virtio-iommu request that needs no state (no domain, no endpoint), so the
 * code that changes domains only sees well-formed requests.
 *
 * kvio_iommu_parse_req() takes the sizes of a chain's two parts and a read
 * op for the readable one, and says what to do: return the chain with
 * nothing written (used length 0), answer at once with a status at a given
 * offset of the writable part, or serve a decoded request.  It never
 * touches guest memory itself: the head and body are copied once through
 * the read op.  The same source runs in kvio_iommu, in the KUnit suite and
 * under libFuzzer in userspace (fuzz/), as vhost_blk/parse.c does.
 *
 * Nothing here sleeps or allocates; the read op may.
 */
#ifndef _KVIO_IOMMU_PARSE_H
#define _KVIO_IOMMU_PARSE_H

#include <linux/types.h>
#include <linux/virtio_iommu.h>

#include <uapi/linux/kvio.h>

/* The configuration in force and what the driver negotiated. */
struct kvio_iommu_params {
	u64 granule;			/* smallest page size, a power of two */
	u64 input_start, input_end;
	u32 domain_start, domain_end;
	u32 probe_size;			/* bytes of PROBE properties */
	bool map_unmap;			/* VIRTIO_IOMMU_F_MAP_UNMAP */
	bool probe;			/* VIRTIO_IOMMU_F_PROBE */
	bool bypass_config;		/* VIRTIO_IOMMU_F_BYPASS_CONFIG */
	/* Reserved regions: no MAP may touch them. */
	const struct kvio_iommu_resv *resv;
	unsigned int nresv;
};

/* What kvio_iommu_parse_req() decided. */
enum kvio_iommu_verdict {
	KVIO_IOMMU_DROP,	/* nothing written, used length 0 */
	KVIO_IOMMU_ANSWER,	/* status r->status at r->tail_off now */
	KVIO_IOMMU_SERVE,	/* well formed: act on r->type */
};

struct kvio_iommu_parse {
	/* Set by the caller. */
	const struct kvio_iommu_params *p;
	size_t out_len, in_len;		/* bytes of each part */
	/* Copies the first @len bytes of the readable part: 0 or -EFAULT. */
	int (*read)(struct kvio_iommu_parse *r, void *buf, size_t len);
	void *priv;			/* for the read op */

	/* Results, all reset by kvio_iommu_parse_req(). */
	u8 type;
	u8 status;			/* ANSWER */
	/* Where the tail goes (ANSWER and SERVE): after PROBE's properties. */
	size_t tail_off;
	/* SERVE: the request's fields in CPU order, checked. */
	u32 domain;			/* ATTACH, DETACH, MAP, UNMAP */
	u32 endpoint;			/* ATTACH, DETACH, PROBE */
	bool bypass;			/* ATTACH with ATTACH_F_BYPASS */
	u64 start, end;			/* MAP, UNMAP: inclusive */
	u64 phys;			/* MAP */
	bool read_ok, write_ok;		/* MAP: the permissions asked for */
	int err;			/* the read op's error, if it failed */
};

/*
 * Decides what to do with one request.  A read op failure ends with
 * KVIO_IOMMU_DROP and r->err set (the caller breaks the ring).
 */
enum kvio_iommu_verdict kvio_iommu_parse_req(struct kvio_iommu_parse *r);

#endif /* _KVIO_IOMMU_PARSE_H */
