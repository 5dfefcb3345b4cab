/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host IOMMU shadows: kvio_iommu endpoints that are not kvio devices.
 *
 * A kvio device attached to a vIOMMU domain translates through the domain's
 * address space itself, on every access.  A device assigned to the guest
 * (VFIO) does its DMA through the host IOMMU, so the domain's mappings must
 * be written there: a shadow does that.  A module that owns host IOMMU
 * domains (kvio_vfio) registers a provider; KVIO_IOMMU_BIND with a file the
 * provider recognises gives the endpoint a shadow, and from then on the
 * vIOMMU tells the shadow which space the endpoint translates through (its
 * domain, the identity space in bypass, nothing) and when a batch of
 * requests ends.  Maps and unmaps of that space reach the shadow through a
 * kvio_as_notifier it registers.
 *
 * Locking: the vIOMMU calls every op with its iommu->lock held; a shadow's
 * notifier runs under the space's as->lock as well.  A shadow therefore
 * never calls back into kvio_iommu, and its own locks nest inside these.
 */
#ifndef _KVIO_SHADOW_H
#define _KVIO_SHADOW_H

#include <linux/list.h>

struct file;
struct module;
struct kvio_as;
struct kvio_iommu_resv;
struct kvio_shadow;

/**
 * struct kvio_shadow_ops - what the vIOMMU asks of a shadow
 * @set_space: from now on the endpoint translates through @space (IOVA ->
 *	GPA), finished through the memory table @mem; NULL for both: through
 *	nothing.  The shadow drops what it mirrored of the old space (and
 *	waits for the host IOTLB) and mirrors every map of the new one.
 *	Returns 0, or an errno with nothing mirrored (-ENOMEM over the
 *	owner's RLIMIT_MEMLOCK, -EINVAL for a space without a memory table)
 * @flush: a batch of requests ended; unmaps heard since the last flush must
 *	be out of the host IOTLB when it returns (the requests complete next)
 * @put: the vIOMMU lets go of the shadow (after set_space(NULL, NULL))
 * @resv: the host's reserved regions of the device (MSI doorbells, RMRRs),
 *	at most @max into @out; their number.  MAP refuses them (-EPERM) and
 *	the vIOMMU reports them through PROBE.
 */
struct kvio_shadow_ops {
	int (*set_space)(struct kvio_shadow *sh, struct kvio_as *space,
			 struct kvio_as *mem);
	void (*flush)(struct kvio_shadow *sh);
	void (*put)(struct kvio_shadow *sh);
	unsigned int (*resv)(struct kvio_shadow *sh,
			     struct kvio_iommu_resv *out, unsigned int max);
};

/**
 * struct kvio_shadow - a host IOMMU shadow, embedded in its provider's object
 * @ops: its operations
 */
struct kvio_shadow {
	const struct kvio_shadow_ops *ops;
};

/**
 * struct kvio_shadow_provider - a kind of file KVIO_IOMMU_BIND accepts
 * @get: the shadow for @file, referenced (ops->put() gives it back);
 *	ERR_PTR(-ENOTTY) if @file is not the provider's, another ERR_PTR()
 *	if it is but cannot be bound.  Called in the binding VMM's context.
 * @owner: the provider's module, pinned while its shadows are bound
 * @link: private
 */
struct kvio_shadow_provider {
	struct kvio_shadow *(*get)(struct file *file);
	struct module *owner;
	struct list_head link;
};

void kvio_shadow_provider_register(struct kvio_shadow_provider *p);
void kvio_shadow_provider_unregister(struct kvio_shadow_provider *p);

#endif /* _KVIO_SHADOW_H */
