/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kt_iommu: a guest's virtio-iommu driver in its simplest form, on top of
 * kt.h, for programs that need a vIOMMU in front of another device (the
 * benchmarks): /dev/kvio-iommu with its request ring, endpoint binding,
 * and one request at a time, waited for.
 */
#ifndef KT_IOMMU_H
#define KT_IOMMU_H

#include <linux/virtio_iommu.h>
#include "kt.h"

#define KT_IOMMU_DEV	"/dev/kvio-iommu"

struct kt_iommu {
	struct kt_dev d;
	uint64_t slot;		/* guest bytes for one request and its tail */
};

/*
 * Opens /dev/kvio-iommu with VERSION_1, INPUT_RANGE, DOMAIN_RANGE,
 * MAP_UNMAP and a request ring of num entries: 0 or -errno (with a
 * diagnostic).
 */
int kt_iommu_open(struct kt_iommu *io, unsigned int num);
void kt_iommu_close(struct kt_iommu *io);
/* KVIO_IOMMU_BIND: 0 or -errno. */
int kt_iommu_bind(struct kt_iommu *io, uint32_t endpoint, int fd);
/*
 * One request (len readable bytes, then a 4-byte tail), kicked and waited
 * for: its status (0..255), or -errno.
 */
int kt_iommu_do(struct kt_iommu *io, const void *req, size_t len);
int kt_iommu_attach(struct kt_iommu *io, uint32_t domain, uint32_t endpoint);
/* [start, end] -> phys, flags VIRTIO_IOMMU_MAP_F_*. */
int kt_iommu_map(struct kt_iommu *io, uint32_t domain, uint64_t start,
		 uint64_t end, uint64_t phys, uint32_t flags);
int kt_iommu_unmap(struct kt_iommu *io, uint32_t domain, uint64_t start,
		   uint64_t end);

#endif /* KT_IOMMU_H */
