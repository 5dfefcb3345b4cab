// SPDX-License-Identifier: GPL-2.0-only
/*
 * kt_iommu: the guest side of /dev/kvio-iommu's request queue (kt_iommu.h).
 */
#include <sys/types.h>
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <linux/virtio_config.h>

#include "kt_iommu.h"

#define KT_IOMMU_SLOT		128	/* request, then the tail */
#define KT_IOMMU_TAIL_OFF	96
#define F(bit) (1ULL << (bit))

int kt_iommu_open(struct kt_iommu *io, unsigned int num)
{
	return kt_iommu_open_gpa(io, num, KT_GPA_BASE);
}

int kt_iommu_open_gpa(struct kt_iommu *io, unsigned int num, uint64_t gpa)
{
	int r;

	memset(io, 0, sizeof(*io));
	r = kt_dev_open(&io->d, KT_IOMMU_DEV);
	if (r)
		return r;
	/* Before the memory table goes to the device (kt_dev_setup()). */
	io->d.mem.gpa = gpa;
	r = kt_dev_setup(&io->d, F(VIRTIO_F_VERSION_1) |
			 F(VIRTIO_IOMMU_F_INPUT_RANGE) |
			 F(VIRTIO_IOMMU_F_DOMAIN_RANGE) |
			 F(VIRTIO_IOMMU_F_MAP_UNMAP));
	if (r)
		return r;
	r = kt_vq_setup(&io->d, 0, num, 0);
	if (r)
		return r;
	io->slot = kt_mem_alloc(&io->d.mem, KT_IOMMU_SLOT, 64);
	return io->slot ? 0 : -ENOMEM;
}

void kt_iommu_close(struct kt_iommu *io)
{
	kt_dev_close(&io->d);
}

int kt_iommu_bind(struct kt_iommu *io, uint32_t endpoint, int fd)
{
	struct kvio_iommu_endpoint b = { .endpoint = endpoint, .fd = fd };

	return ioctl(io->d.fd, KVIO_IOMMU_BIND, &b) ? -errno : 0;
}

int kt_iommu_do(struct kt_iommu *io, const void *req, size_t len)
{
	struct kt_buf out = { io->slot, len };
	struct kt_buf in = { io->slot + KT_IOMMU_TAIL_OFF,
			     sizeof(struct virtio_iommu_req_tail) };
	uint8_t *p = kt_gpa(&io->d.mem, io->slot);
	uint32_t id, used;
	uint64_t tok;

	if (len > KT_IOMMU_TAIL_OFF)
		return -EINVAL;
	memcpy(p, req, len);
	p[KT_IOMMU_TAIL_OFF] = 0xff;
	if (kt_vq_add(&io->d.vq[0], &out, 1, &in, 1, false, 0) < 0)
		return -ENOSPC;
	kt_vq_kick(&io->d.vq[0]);
	if (kt_vq_wait_used(&io->d.vq[0], &id, &used, &tok,
			    5000 * kt_timeout_scale()) != 1)
		return -ETIMEDOUT;
	if (used != sizeof(struct virtio_iommu_req_tail))
		return -EPROTO;
	return p[KT_IOMMU_TAIL_OFF];
}

int kt_iommu_attach(struct kt_iommu *io, uint32_t domain, uint32_t endpoint)
{
	struct virtio_iommu_req_attach a = kt_iommu_attach_req(domain,
							       endpoint, 0);

	return kt_iommu_do(io, &a, offsetof(typeof(a), tail));
}

int kt_iommu_map(struct kt_iommu *io, uint32_t domain, uint64_t start,
		 uint64_t end, uint64_t phys, uint32_t flags)
{
	struct virtio_iommu_req_map m = kt_iommu_map_req(domain, start, end,
							 phys, flags);

	return kt_iommu_do(io, &m, offsetof(typeof(m), tail));
}

int kt_iommu_unmap(struct kt_iommu *io, uint32_t domain, uint64_t start,
		   uint64_t end)
{
	struct virtio_iommu_req_unmap u = kt_iommu_unmap_req(domain, start,
							     end);

	return kt_iommu_do(io, &u, offsetof(typeof(u), tail));
}
