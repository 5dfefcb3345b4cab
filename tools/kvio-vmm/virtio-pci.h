/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvio-vmm: the modern (virtio 1.x) PCI transport.  One 64-bit memory BAR
 * holds the common, ISR, device and notify structures and the MSI-X table
 * and PBA.  Each queue's notify address is a KVM ioeventfd on the queue's
 * own eventfd, which is what the kvio device polls; each MSI-X vector's
 * eventfd (pci.c) is what the kvio device signals.  The transport itself
 * only serves feature negotiation, config space and queue set-up.
 *
 * The device callbacks run with the function's lock held (pci.h).
 */
#ifndef KVIO_VMM_VIRTIO_PCI_H
#define KVIO_VMM_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_config.h>

#include "pci.h"

#define VIRTIO_PCI_MAX_QUEUES	64

struct virtio_queue {
	uint16_t max_size;
	uint16_t size;			/* a power of 2, <= max_size */
	uint16_t vector;		/* MSI-X vector or VIRTIO_MSI_NO_VECTOR */
	bool enabled;
	uint64_t desc, avail, used;	/* guest-physical */
	int kick_efd;			/* the ioeventfd's eventfd */
	int err_efd;			/* the device stopped the ring */
	bool err_reported;		/* said on stderr since the last reset */
};

struct virtio_dev;

struct virtio_dev_ops {
	/* Device config space: [off, off + len) lies within config_size. */
	void (*config_read)(struct virtio_dev *vdev, uint32_t off,
			    uint8_t *data, uint32_t len);
	void (*config_write)(struct virtio_dev *vdev, uint32_t off,
			     const uint8_t *data, uint32_t len);
	/* DRIVER_OK: start the backend on the enabled queues; 0 or -1. */
	int (*activate)(struct virtio_dev *vdev);
	/*
	 * Stop the backend: after activate() (failed or not), on a device
	 * reset and at destruction.  The queues still hold what the guest set.
	 */
	void (*reset)(struct virtio_dev *vdev);
};

struct virtio_dev {
	struct pci_dev pci;		/* first: container_of by cast */
	struct vmm *vm;
	const struct virtio_dev_ops *ops;
	void *priv;
	uint16_t type;			/* VIRTIO_ID_* */
	uint32_t config_size;

	uint64_t host_features;		/* offered */
	uint64_t guest_features;	/* acked (valid with FEATURES_OK) */
	uint32_t dfsel, gfsel;
	uint16_t msix_config;
	uint8_t status;
	uint8_t config_gen;
	uint8_t isr;
	uint16_t queue_sel;
	bool started;			/* activate() was called, reset() not yet */
	/*
	 * Behind the vIOMMU: FEATURES_OK needs VIRTIO_F_ACCESS_PLATFORM, as
	 * the device would bypass the guest's translations without it.
	 */
	bool platform_required;

	unsigned int nq;
	struct virtio_queue q[VIRTIO_PCI_MAX_QUEUES];
	unsigned int nvec;

	uint64_t notify_addr;		/* guest-physical, while ioeventfds are set */
	bool ioeventfds;
	uint8_t pcicfg_cap;		/* VIRTIO_PCI_CAP_PCI_CFG's offset */
};

/*
 * Create the PCI function of a virtio device of @type with @nq queues of at
 * most @qsize entries and @nvec MSI-X vectors, offering @features
 * (VIRTIO_F_VERSION_1 is added), and put it on the bus.  0 or -1.
 */
int virtio_pci_init(struct virtio_dev *vdev, struct vmm *vm, uint16_t type,
		    uint32_t class, unsigned int nq, uint16_t qsize,
		    unsigned int nvec, uint64_t features, uint32_t config_size,
		    const struct virtio_dev_ops *ops, void *priv);
/* Stop the backend (reset()) and take the function off the bus. */
void virtio_pci_exit(struct virtio_dev *vdev);

/* The eventfd of queue @qi's MSI-X vector, -1 when it has none. */
int virtio_queue_call_efd(struct virtio_dev *vdev, unsigned int qi);
/* The config space changed: bump the generation, interrupt the driver. */
void virtio_config_changed(struct virtio_dev *vdev);

/* Ring addresses are IOVAs of the device's endpoint (4.1.4 / 6.1). */
static inline bool virtio_uses_iova(const struct virtio_dev *vdev)
{
	return vdev->guest_features & (1ULL << VIRTIO_F_ACCESS_PLATFORM);
}

/* The devices (blk.c, net.c): create every parsed one, destroy them. */
int blk_devices_create(struct vmm *vm);
void blk_devices_destroy(struct vmm *vm);
int net_devices_create(struct vmm *vm);
void net_devices_destroy(struct vmm *vm);

/*
 * The vIOMMU (iommu.c), created before the other devices when --iommu was
 * given.  vmm_iommu_bind(): put @vdev, whose DMA the kvio device @fd does,
 * behind it (endpoint ID = its BDF) and offer ACCESS_PLATFORM; @what names
 * the device in messages; called once per kvio device of a function served
 * by several (a NIC's queue pairs).  0 without --iommu, 0 or -1 with a
 * message.
 */
int iommu_device_create(struct vmm *vm);
void iommu_device_destroy(struct vmm *vm);
int vmm_iommu_bind(struct virtio_dev *vdev, int fd, uint64_t backend_features,
		   const char *what);
/*
 * DMA of a queue the VMM serves itself (virtio-net's control queue): the
 * guest's addresses are guest-physical, or with ACCESS_PLATFORM acked
 * IOVAs of the device's endpoint, which the vIOMMU translates
 * (KVIO_IOMMU_TRANSLATE) as they are now.  vmm_dma(): where @len bytes at
 * @addr are, or NULL unless one mapping holds them all and allows the
 * access (@write); for the ring's fields, none of which crosses a page.
 * vmm_dma_read(): copy @len bytes, across mappings; 0 or -1.
 */
void *vmm_dma(struct virtio_dev *vdev, uint64_t addr, uint64_t len, bool write);
int vmm_dma_read(struct virtio_dev *vdev, uint64_t addr, void *buf,
		 uint64_t len);

#endif /* KVIO_VMM_VIRTIO_PCI_H */
