/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kt_iommu: a guest's virtio-iommu driver in its simplest form, on top of
 * kt.h, for programs that need a vIOMMU in front of another device (the
 * benchmarks): /dev/kvio-iommu with its request ring, endpoint binding,
 * and one request at a time, waited for.
 */
#ifndef KT_IOMMU_H
#define KT_IOMMU_H

#include <endian.h>
#include <linux/virtio_iommu.h>
#include "kt.h"

#define KT_IOMMU_DEV	"/dev/kvio-iommu"

struct kt_iommu {
	struct kt_dev d;
	uint64_t slot;		/* guest bytes for one request and its tail */
};

/* Requests as a guest driver lays them out (little-endian fields). */
static inline struct virtio_iommu_req_attach
kt_iommu_attach_req(uint32_t domain, uint32_t endpoint, uint32_t flags)
{
	struct virtio_iommu_req_attach r = {
		.head.type = VIRTIO_IOMMU_T_ATTACH,
		.domain = htole32(domain),
		.endpoint = htole32(endpoint),
		.flags = htole32(flags),
	};
	return r;
}

static inline struct virtio_iommu_req_detach
kt_iommu_detach_req(uint32_t domain, uint32_t endpoint)
{
	struct virtio_iommu_req_detach r = {
		.head.type = VIRTIO_IOMMU_T_DETACH,
		.domain = htole32(domain),
		.endpoint = htole32(endpoint),
	};
	return r;
}

/* [start, end] -> phys, flags VIRTIO_IOMMU_MAP_F_*. */
static inline struct virtio_iommu_req_map
kt_iommu_map_req(uint32_t domain, uint64_t start, uint64_t end, uint64_t phys,
		 uint32_t flags)
{
	struct virtio_iommu_req_map r = {
		.head.type = VIRTIO_IOMMU_T_MAP,
		.domain = htole32(domain),
		.virt_start = htole64(start),
		.virt_end = htole64(end),
		.phys_start = htole64(phys),
		.flags = htole32(flags),
	};
	return r;
}

static inline struct virtio_iommu_req_unmap
kt_iommu_unmap_req(uint32_t domain, uint64_t start, uint64_t end)
{
	struct virtio_iommu_req_unmap r = {
		.head.type = VIRTIO_IOMMU_T_UNMAP,
		.domain = htole32(domain),
		.virt_start = htole64(start),
		.virt_end = htole64(end),
	};
	return r;
}

/*
 * Opens /dev/kvio-iommu with VERSION_1, INPUT_RANGE, DOMAIN_RANGE,
 * MAP_UNMAP and a request ring of num entries: 0 or -errno (with a
 * diagnostic).
 */
int kt_iommu_open(struct kt_iommu *io, unsigned int num);
/* The same with guest memory at @gpa instead of KT_GPA_BASE. */
int kt_iommu_open_gpa(struct kt_iommu *io, unsigned int num, uint64_t gpa);
void kt_iommu_close(struct kt_iommu *io);
/* KVIO_IOMMU_BIND: 0 or -errno. */
int kt_iommu_bind(struct kt_iommu *io, uint32_t endpoint, int fd);
/*
 * One request (len readable bytes, then a 4-byte tail), kicked and waited
 * for: its status (0..255), or -errno.
 */
int kt_iommu_do(struct kt_iommu *io, const void *req, size_t len);
/* One request of each kind, waited for: its status, or -errno. */
int kt_iommu_attach(struct kt_iommu *io, uint32_t domain, uint32_t endpoint);
int kt_iommu_map(struct kt_iommu *io, uint32_t domain, uint64_t start,
		 uint64_t end, uint64_t phys, uint32_t flags);
int kt_iommu_unmap(struct kt_iommu *io, uint32_t domain, uint64_t start,
		   uint64_t end);

#endif /* KT_IOMMU_H */
