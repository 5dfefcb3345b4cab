/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The VFIO IOMMU backend interface, as the kernel's drivers/vfio/vfio.h
 * declares it.  That header is private to drivers/vfio and no linux-headers
 * package ships it, yet vfio_register_iommu_driver() is exported (GPL) for
 * backends built as modules (vfio_iommu_type1 registers that way), so a
 * backend outside the tree declares the interface itself.
 *
 * The layout below is 6.1's (Debian 12), checked against the BTF of
 * Debian's 6.1 and 6.12 vfio.ko: a release after 6.1 dropped @notify, the
 * last member, and nothing else differs up to 6.12.  Keeping @notify
 * (always NULL here) is right for both: 6.1 reads it and skips it when
 * NULL, later kernels never read past group_iommu_domain.
 */
#ifndef _KVIO_VFIO_BACKEND_H
#define _KVIO_VFIO_BACKEND_H

#include <linux/types.h>

struct iommu_domain;
struct iommu_group;
struct module;
struct page;
struct vfio_device;

/* drivers/vfio/vfio.h: the kind of group a backend is asked to attach. */
enum vfio_group_type {
	VFIO_IOMMU,		/* a physical device behind a real IOMMU */
	VFIO_EMULATED_IOMMU,	/* mdev: DMA through pin_pages() */
	VFIO_NO_IOMMU,
};

enum vfio_iommu_notify_type {
	VFIO_IOMMU_CONTAINER_CLOSE = 0,
};

struct vfio_iommu_driver_ops {
	char		*name;
	struct module	*owner;
	void		*(*open)(unsigned long arg);
	void		(*release)(void *iommu_data);
	long		(*ioctl)(void *iommu_data, unsigned int cmd,
				 unsigned long arg);
	int		(*attach_group)(void *iommu_data,
					struct iommu_group *group,
					enum vfio_group_type type);
	void		(*detach_group)(void *iommu_data,
					struct iommu_group *group);
	int		(*pin_pages)(void *iommu_data,
				     struct iommu_group *group,
				     dma_addr_t user_iova, int npage, int prot,
				     struct page **pages);
	void		(*unpin_pages)(void *iommu_data, dma_addr_t user_iova,
				       int npage);
	void		(*register_device)(void *iommu_data,
					   struct vfio_device *vdev);
	void		(*unregister_device)(void *iommu_data,
					     struct vfio_device *vdev);
	int		(*dma_rw)(void *iommu_data, dma_addr_t user_iova,
				  void *data, size_t count, bool write);
	struct iommu_domain *(*group_iommu_domain)(void *iommu_data,
						   struct iommu_group *group);
	void		(*notify)(void *iommu_data,
				  enum vfio_iommu_notify_type event);
};

int vfio_register_iommu_driver(const struct vfio_iommu_driver_ops *ops);
void vfio_unregister_iommu_driver(const struct vfio_iommu_driver_ops *ops);

#endif /* _KVIO_VFIO_BACKEND_H */
