// SPDX-License-Identifier: GPL-2.0-only
/*
 * The virtio-iommu request parser (parse.h): the spec's device rules that
 * need no state (virtio 1.2, 5.13.6), checked before any domain changes.
 *  - A request with no readable head or no room for a tail, of an unknown
 *    type, or a PROBE without F_PROBE is returned with nothing written
 *    (5.13.6.1): DROP.
 *  - MAP and UNMAP without F_MAP_UNMAP: UNSUPP.
 *  - A body shorter than its type's: INVAL, in the tail where the writable
 *    part has room for it (after PROBE's properties, else at its end).
 *  - ATTACH: reserved bytes or unknown flags INVAL, BYPASS without
 *    F_BYPASS_CONFIG INVAL, a domain outside the domain range RANGE.
 *    DETACH: reserved bytes INVAL.
 *  - MAP: unknown flags (no F_MMIO is offered) or no permission INVAL;
 *    end below start, an address, physical address or end + 1 not aligned
 *    to the smallest page, or outside the input range RANGE; a reserved
 *    region touched INVAL.  UNMAP: reserved bytes INVAL, end below start
 *    RANGE.
 * The head and body are read once, in one call of r->read, into a local
 * copy; every field is taken from that copy in CPU order.
 *
 * This file is also compiled in userspace by fuzz/ (with fuzz/shim/), so it
 * includes nothing beyond the headers the shim provides.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <asm/byteorder.h>

#include "parse.h"

union kvio_iommu_req {
	struct virtio_iommu_req_head head;
	struct virtio_iommu_req_attach attach;
	struct virtio_iommu_req_detach detach;
	struct virtio_iommu_req_map map;
	struct virtio_iommu_req_unmap unmap;
	struct virtio_iommu_req_probe probe;
};

/* Bytes of the device-readable part of @type: all before the tail. */
static size_t kvio_iommu_req_size(u8 type)
{
	switch (type) {
	case VIRTIO_IOMMU_T_ATTACH:
		return offsetof(struct virtio_iommu_req_attach, tail);
	case VIRTIO_IOMMU_T_DETACH:
		return offsetof(struct virtio_iommu_req_detach, tail);
	case VIRTIO_IOMMU_T_MAP:
		return offsetof(struct virtio_iommu_req_map, tail);
	case VIRTIO_IOMMU_T_UNMAP:
		return offsetof(struct virtio_iommu_req_unmap, tail);
	case VIRTIO_IOMMU_T_PROBE:
		return offsetof(struct virtio_iommu_req_probe, properties);
	default:
		return 0;
	}
}

static bool kvio_iommu_zero(const u8 *bytes, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (bytes[i])
			return false;
	return true;
}

static enum kvio_iommu_verdict kvio_iommu_answer(struct kvio_iommu_parse *r,
						 u8 status)
{
	r->status = status;
	return KVIO_IOMMU_ANSWER;
}

static bool kvio_iommu_aligned(const struct kvio_iommu_params *p, u64 addr)
{
	return !(addr & (p->granule - 1));
}

static bool kvio_iommu_hits_resv(const struct kvio_iommu_params *p, u64 start,
				 u64 end)
{
	unsigned int i;

	for (i = 0; i < p->nresv; i++)
		if (start <= p->resv[i].end && p->resv[i].start <= end)
			return true;
	return false;
}

static enum kvio_iommu_verdict
kvio_iommu_parse_attach(struct kvio_iommu_parse *r,
			const struct virtio_iommu_req_attach *req)
{
	u32 flags = le32_to_cpu(req->flags);

	r->domain = le32_to_cpu(req->domain);
	r->endpoint = le32_to_cpu(req->endpoint);
	if (!kvio_iommu_zero(req->reserved, sizeof(req->reserved)) ||
	    flags & ~VIRTIO_IOMMU_ATTACH_F_BYPASS)
		return kvio_iommu_answer(r, VIRTIO_IOMMU_S_INVAL);
	r->bypass = flags & VIRTIO_IOMMU_ATTACH_F_BYPASS;
	if (r->bypass && !r->p->bypass_config)
		return kvio_iommu_answer(r, VIRTIO_IOMMU_S_INVAL);
	if (r->domain < r->p->domain_start || r->domain > r->p->domain_end)
		return kvio_iommu_answer(r, VIRTIO_IOMMU_S_RANGE);
	return KVIO_IOMMU_SERVE;
}

static enum kvio_iommu_verdict
kvio_iommu_parse_map(struct kvio_iommu_parse *r,
		     const struct virtio_iommu_req_map *req)
{
	const struct kvio_iommu_params *p = r->p;
	u32 flags = le32_to_cpu(req->flags);

	r->domain = le32_to_cpu(req->domain);
	r->start = le64_to_cpu(req->virt_start);
	r->end = le64_to_cpu(req->virt_end);
	r->phys = le64_to_cpu(req->phys_start);
	if (flags & ~(VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE))
		return kvio_iommu_answer(r, VIRTIO_IOMMU_S_INVAL);
	r->read_ok = flags & VIRTIO_IOMMU_MAP_F_READ;
	r->write_ok = flags & VIRTIO_IOMMU_MAP_F_WRITE;
	if (!r->read_ok && !r->write_ok)
		return kvio_iommu_answer(r, VIRTIO_IOMMU_S_INVAL);
	/* end + 1 wraps to 0 for a mapping to the top: aligned. */
	if (r->end < r->start || !kvio_iommu_aligned(p, r->start) ||
	    !kvio_iommu_aligned(p, r->phys) ||
	    !kvio_iommu_aligned(p, r->end + 1) ||
	    r->start < p->input_start || r->end > p->input_end)
		return kvio_iommu_answer(r, VIRTIO_IOMMU_S_RANGE);
	if (kvio_iommu_hits_resv(p, r->start, r->end))
		return kvio_iommu_answer(r, VIRTIO_IOMMU_S_INVAL);
	return KVIO_IOMMU_SERVE;
}

static enum kvio_iommu_verdict
kvio_iommu_parse_unmap(struct kvio_iommu_parse *r,
		       const struct virtio_iommu_req_unmap *req)
{
	r->domain = le32_to_cpu(req->domain);
	r->start = le64_to_cpu(req->virt_start);
	r->end = le64_to_cpu(req->virt_end);
	if (!kvio_iommu_zero(req->reserved, sizeof(req->reserved)))
		return kvio_iommu_answer(r, VIRTIO_IOMMU_S_INVAL);
	if (r->end < r->start)
		return kvio_iommu_answer(r, VIRTIO_IOMMU_S_RANGE);
	return KVIO_IOMMU_SERVE;
}

enum kvio_iommu_verdict kvio_iommu_parse_req(struct kvio_iommu_parse *r)
{
	const size_t tail = sizeof(struct virtio_iommu_req_tail);
	union kvio_iommu_req req;
	size_t size;

	r->type = 0;
	r->status = VIRTIO_IOMMU_S_OK;
	r->tail_off = 0;
	r->domain = 0;
	r->endpoint = 0;
	r->bypass = false;
	r->start = 0;
	r->end = 0;
	r->phys = 0;
	r->read_ok = false;
	r->write_ok = false;
	r->err = 0;

	if (r->out_len < sizeof(req.head) || r->in_len < tail)
		return KVIO_IOMMU_DROP;	/* no tail to answer in */
	/* One copy: head and whatever body there is, checked below. */
	r->err = r->read(r, &req, min(r->out_len, sizeof(req)));
	if (r->err)
		return KVIO_IOMMU_DROP;
	r->type = req.head.type;
	size = kvio_iommu_req_size(r->type);
	if (!size)
		return KVIO_IOMMU_DROP;	/* unknown type */
	if (r->type == VIRTIO_IOMMU_T_PROBE) {
		if (!r->p->probe)
			return KVIO_IOMMU_DROP;
		r->tail_off = r->p->probe_size;
	} else if (!r->p->map_unmap && (r->type == VIRTIO_IOMMU_T_MAP ||
					r->type == VIRTIO_IOMMU_T_UNMAP)) {
		return kvio_iommu_answer(r, VIRTIO_IOMMU_S_UNSUPP);
	}
	/* The tail goes where there is room for it (PROBE: at the end). */
	if (r->in_len < r->tail_off + tail)
		r->tail_off = r->in_len - tail;
	if (r->out_len < size)
		return kvio_iommu_answer(r, VIRTIO_IOMMU_S_INVAL);

	switch (r->type) {
	case VIRTIO_IOMMU_T_ATTACH:
		return kvio_iommu_parse_attach(r, &req.attach);
	case VIRTIO_IOMMU_T_DETACH:
		r->domain = le32_to_cpu(req.detach.domain);
		r->endpoint = le32_to_cpu(req.detach.endpoint);
		if (!kvio_iommu_zero(req.detach.reserved,
				     sizeof(req.detach.reserved)))
			return kvio_iommu_answer(r, VIRTIO_IOMMU_S_INVAL);
		return KVIO_IOMMU_SERVE;
	case VIRTIO_IOMMU_T_MAP:
		return kvio_iommu_parse_map(r, &req.map);
	case VIRTIO_IOMMU_T_UNMAP:
		return kvio_iommu_parse_unmap(r, &req.unmap);
	default:
		r->endpoint = le32_to_cpu(req.probe.endpoint);
		/* A PROBE without room for its properties (5.13.6.8). */
		if (r->tail_off < r->p->probe_size)
			return kvio_iommu_answer(r, VIRTIO_IOMMU_S_INVAL);
		return KVIO_IOMMU_SERVE;
	}
}
