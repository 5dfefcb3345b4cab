/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvio_iommu: the virtio-iommu device (virtio 1.2 5.13) served in the
 * kernel.  Ring 0 is the request queue, ring 1 the event queue; the VMM
 * serves the config space and feature negotiation and tells the device what
 * it holds (KVIO_IOMMU_SET_CONFIG).  Domains are kvio address spaces
 * (include/kvio/as.h) mapping IOVA -> GPA, so the devices attached to them
 * translate through them lock-free.
 *
 * Lock order: dev->mutex -> vq->mutex -> iommu->lock -> as->lock, and
 * iommu->lock -> an endpoint device's dev->mutex -> its vq->mutex ->
 * iommu->fault_lock.  The request handler runs in the worker with the
 * request ring's mutex held and takes iommu->lock for each request; ioctls
 * take dev->mutex, then iommu->lock.  An endpoint device never takes a
 * lock of the vIOMMU but fault_lock (its faults), so pointing it at another
 * domain (kvio_dev_set_viommu(), under iommu->lock) cannot deadlock.  A
 * host IOMMU shadow's ops run under iommu->lock (its notifier under the
 * domain's as->lock too) and never call back; kvio_shadow_lock, the
 * providers' list, is taken alone.
 */
#ifndef _KVIO_IOMMU_H
#define _KVIO_IOMMU_H

#include <linux/bits.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/virtio_iommu.h>
#include <linux/xarray.h>

#include <kvio/shadow.h>
#include <kvio/vhost.h>

#define KVIO_IOMMU_VQ_REQ	0
#define KVIO_IOMMU_VQ_EVENT	1
#define KVIO_IOMMU_NVQS		2

/* Chains are a request head, its body and a tail: a few iovecs. */
#define KVIO_IOMMU_IOV_LIMIT	64
/* Requests per handler run; the batch shares one used-ring update. */
#define KVIO_IOMMU_WEIGHT	256

/* Defaults of struct kvio_iommu_config's 0 fields. */
#define KVIO_IOMMU_PROBE_SIZE		512
#define KVIO_IOMMU_PROBE_SIZE_MAX	4096
#define KVIO_IOMMU_MAPPINGS		65536
#define KVIO_IOMMU_MAPPINGS_MAX		1048576U	/* 2^20 */

/* The x86 MSI doorbell window, always a reserved region. */
#define KVIO_IOMMU_MSI_START	0xfee00000ULL
#define KVIO_IOMMU_MSI_END	0xfeefffffULL

/* Bytes of one RESV_MEM property, its header included. */
#define KVIO_IOMMU_RESV_PROP	sizeof(struct virtio_iommu_probe_resv_mem)

/*
 * No VIRTIO_F_ACCESS_PLATFORM: the vIOMMU's own rings are guest-physical
 * (no VMM puts a virtio-iommu behind another IOMMU); a device IOTLB miss
 * on them would leave requests the guest spins for unanswered.
 */
#define KVIO_IOMMU_FEATURES					\
	((KVIO_FEATURES & ~BIT_ULL(VIRTIO_F_ACCESS_PLATFORM)) |	\
	 BIT_ULL(VIRTIO_IOMMU_F_INPUT_RANGE) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_DOMAIN_RANGE) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_MAP_UNMAP) |			\
	 BIT_ULL(VIRTIO_IOMMU_F_BYPASS_CONFIG) |		\
	 BIT_ULL(VIRTIO_IOMMU_F_PROBE))

/* Fault events waiting for an event buffer; more are counted and dropped. */
#define KVIO_IOMMU_FAULTS_MAX	64

struct kvio_iommu;

/* A domain: the guest's ID, its mappings, how many endpoints use it. */
struct kvio_iommu_domain {
	u32 id;
	bool bypass;			/* created by ATTACH_F_BYPASS */
	bool unmapped;			/* lost mappings in this batch */
	unsigned int endpoints;
	struct kvio_as *as;		/* IOVA -> GPA; NULL when bypass */
};

/* One kvio device of an endpoint, its file held. */
struct kvio_iommu_ep_dev {
	struct list_head node;
	struct file *file;
};

/*
 * An endpoint the VMM bound (KVIO_IOMMU_BIND): one or more kvio devices
 * (@devs: a PCI function a VMM serves with several, as a multiqueue NIC
 * with a device per queue pair), a host IOMMU shadow (@shadow,
 * include/kvio/shadow.h), or neither.
 */
struct kvio_iommu_ep {
	u32 id;
	struct kvio_iommu *iommu;
	struct kvio_iommu_domain *domain;	/* NULL: not attached */
	struct list_head devs;			/* kvio_iommu_ep_dev; or empty */
	struct kvio_shadow *shadow;		/* or NULL */
	struct module *shadow_owner;		/* its provider's module */
	/* What the device translates through now (kvio_iommu_ep_sync()). */
	bool synced;
	struct kvio_as *synced_as;
};

struct kvio_iommu {
	struct kvio_dev dev;
	struct kvio_vq vqs[KVIO_IOMMU_NVQS];
	struct kvio_vq *vq_ptrs[KVIO_IOMMU_NVQS];

	struct mutex lock;		/* everything below */
	struct xarray domains;		/* id -> struct kvio_iommu_domain */
	struct xarray endpoints;	/* id -> struct kvio_iommu_ep */
	struct kvio_iommu_config cfg;	/* defaults resolved */
	struct kvio_iommu_resv *resv;	/* the MSI window first */
	unsigned int nresv;
	u64 granule;			/* smallest page size */
	bool unmapped;			/* a domain lost mappings this batch */
	/*
	 * What an endpoint neither attached nor in bypass sees (nothing),
	 * and what one in bypass sees (IOVA = GPA).
	 */
	struct kvio_as *blocked;
	struct kvio_as *identity;

	/*
	 * Faults the endpoints' workers report, for the event queue.  A
	 * spinlock, innermost: it is taken under the endpoints' ring mutexes.
	 */
	spinlock_t fault_lock;
	struct virtio_iommu_fault faults[KVIO_IOMMU_FAULTS_MAX];
	unsigned int fault_head, nfaults;
	struct kvio_iommu_stats stats;
};

static inline struct kvio_iommu *to_iommu(struct kvio_dev *dev)
{
	return container_of(dev, struct kvio_iommu, dev);
}

/* req.c */
extern const struct kvio_as_ops kvio_iommu_domain_ops;
void kvio_iommu_handle_req(struct kvio_work *work);
void kvio_iommu_handle_event(struct kvio_work *work);
struct kvio_as *kvio_iommu_ep_space(struct kvio_iommu *iommu,
				    struct kvio_iommu_ep *ep);
int kvio_iommu_ep_sync(struct kvio_iommu *iommu, struct kvio_iommu_ep *ep);
void kvio_iommu_ep_detach(struct kvio_iommu *iommu, struct kvio_iommu_ep *ep);
void kvio_iommu_domain_put(struct kvio_iommu *iommu,
			   struct kvio_iommu_domain *domain);

#endif /* _KVIO_IOMMU_H */
