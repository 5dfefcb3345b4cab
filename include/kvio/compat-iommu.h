/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The compat layer's part for host IOMMU domains and page pinning
 * (kvio_vfio), apart from compat.h so the other modules do not pull in
 * linux/iommu.h.  Each shim names the release where the API changed.
 */
#ifndef _KVIO_COMPAT_IOMMU_H
#define _KVIO_COMPAT_IOMMU_H

#include <linux/iommu.h>
#include <linux/irqdomain.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>

#include <kvio/compat.h>

/*
 * 6.3 ("iommu: Add a gfp parameter to iommu_map()", iommu_map_sg() too):
 * the allocation flags of the page tables; before, always GFP_KERNEL.
 */
static inline ssize_t kvio_iommu_map_sg(struct iommu_domain *domain,
					unsigned long iova,
					struct scatterlist *sg,
					unsigned int nents, int prot)
{
#if KERNEL_VERSION(6, 3, 0) <= LINUX_VERSION_CODE
	return iommu_map_sg(domain, iova, sg, nents, prot, GFP_KERNEL_ACCOUNT);
#else
	return iommu_map_sg(domain, iova, sg, nents, prot);
#endif
}

/*
 * 6.11 ("iommu: Add iommu_paging_domain_alloc() interface"): a paging
 * domain for a device, an ERR_PTR() on failure; iommu_domain_alloc(bus)
 * (NULL on failure) is deprecated from then and gone in 6.13.
 */
static inline struct iommu_domain *kvio_iommu_domain_alloc(struct device *dev)
{
#if KERNEL_VERSION(6, 11, 0) <= LINUX_VERSION_CODE
	return iommu_paging_domain_alloc(dev);
#else
	struct iommu_domain *domain = iommu_domain_alloc(dev->bus);

	return domain ?: ERR_PTR(-ENODEV);
#endif
}

/*
 * Whether a device of @group can forge MSI writes that reach other
 * interrupts: an assigned device is only safe with interrupt remapping (or
 * an MSI controller that isolates).  6.3 ("iommu: Add
 * iommu_group_has_isolated_msi()") asks the group; before, the IRQ domains
 * and each device's IOMMU_CAP_INTR_REMAP.
 */
#if KERNEL_VERSION(6, 3, 0) <= LINUX_VERSION_CODE
static inline bool kvio_iommu_group_msi_isolated(struct iommu_group *group)
{
	return iommu_group_has_isolated_msi(group);
}
#else
static inline int kvio_iommu_dev_intr_remap(struct device *dev, void *data)
{
	return device_iommu_capable(dev, IOMMU_CAP_INTR_REMAP) ? 0 : -EPERM;
}

static inline bool kvio_iommu_group_msi_isolated(struct iommu_group *group)
{
	return irq_domain_check_msi_remap() ||
	       !iommu_group_for_each_dev(group, NULL,
					 kvio_iommu_dev_intr_remap);
}
#endif

/*
 * 6.5 ("mm/gup: remove vmas parameter from pin_user_pages_remote()"): no
 * vmas argument any more.
 */
static inline long kvio_pin_user_pages_remote(struct mm_struct *mm,
					      unsigned long start,
					      unsigned long nr_pages,
					      unsigned int gup_flags,
					      struct page **pages)
{
#if KERNEL_VERSION(6, 5, 0) <= LINUX_VERSION_CODE
	return pin_user_pages_remote(mm, start, nr_pages, gup_flags, pages,
				     NULL);
#else
	return pin_user_pages_remote(mm, start, nr_pages, gup_flags, pages,
				     NULL, NULL);
#endif
}

#endif /* _KVIO_COMPAT_IOMMU_H */
