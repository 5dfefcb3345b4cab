// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio-vmm: the virtio-iommu device (--iommu) served by kvio_iommu
 * (/dev/kvio-iommu, Documentation/iommu.rst), with every other device
 * behind it.
 *
 * The VMM serves the config space and hands the two rings to the kernel;
 * the guest's ATTACH, MAP, UNMAP and PROBE requests never come here.  Each
 * disk and NIC is bound to the endpoint ID the VIOT gives it (its BDF on
 * bus 0) before the guest runs, offers VIRTIO_F_ACCESS_PLATFORM and is
 * refused FEATURES_OK without it: a device that used guest-physical
 * addresses would bypass the guest's IOMMU.  With it acked, the kvio device
 * translates every ring and buffer address through its endpoint's domain
 * itself, so the ring addresses go to it as the guest wrote them (IOVAs).
 *
 * The function takes the first free slot, before the other devices, so it
 * is 00:01.0; the VIOT (acpi.c) names it and one PCI range per endpoint.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_iommu.h>

#include <linux/kvio.h>
#include "vhost.h"

#define IOMMU_DEV		"/dev/kvio-iommu"
#define IOMMU_QUEUES		2	/* requests, events */
#define IOMMU_QUEUE_SIZE	256
/* PCI_CLASS_OTHERS, as QEMU's virtio-iommu-pci: there is no IOMMU class. */
#define PCI_CLASS_CODE_OTHER	0xff0000

#define BIT64(n)		(1ULL << (n))

/* What the VMM presents: the config fields it serves. */
#define IOMMU_FEATURES	(BIT64(VIRTIO_IOMMU_F_INPUT_RANGE) |	\
			 BIT64(VIRTIO_IOMMU_F_DOMAIN_RANGE) |	\
			 BIT64(VIRTIO_IOMMU_F_MAP_UNMAP) |	\
			 BIT64(VIRTIO_IOMMU_F_BYPASS_CONFIG) |	\
			 BIT64(VIRTIO_IOMMU_F_PROBE) |		\
			 VHOST_VMM_RING_FEATURES)

static struct iommu_dev {
	bool requested;
	bool created;
	int fd;
	uint64_t backend_features;	/* VHOST_GET_FEATURES */
	struct kvio_iommu_config set;	/* what we SET; bypass as the guest wrote */
	uint8_t bypass_reset;		/* bypass after a device reset */
	struct virtio_iommu_config cfg;	/* the config space */
	uint32_t rings;			/* started rings, bit per ring */
	unsigned int endpoints;
	struct virtio_dev vdev;
} viommu = { .fd = -1 };

void vmm_iommu_enable(void)
{
	viommu.requested = true;
}

int vmm_iommu_devfn(void)
{
	return viommu.created ? viommu.vdev.pci.devfn : -1;
}

static void iommu_config_read(struct virtio_dev *vdev, uint32_t off,
			      uint8_t *data, uint32_t len)
{
	memcpy(data, (uint8_t *)&viommu.cfg + off, len);
}

static int iommu_set_config(void)
{
	if (ioctl(viommu.fd, KVIO_IOMMU_SET_CONFIG, &viommu.set) < 0) {
		vmm_guest_msg("kvio-vmm: %s: KVIO_IOMMU_SET_CONFIG: %s\n",
			      IOMMU_DEV, strerror(errno));
		return -1;
	}
	return 0;
}

static void iommu_config_write(struct virtio_dev *vdev, uint32_t off,
			       const uint8_t *data, uint32_t len)
{
	uint32_t b = offsetof(struct virtio_iommu_config, bypass);

	/* bypass is the only field the driver may write (5.13.4). */
	if (off > b || off + len <= b ||
	    !(vdev->guest_features & BIT64(VIRTIO_IOMMU_F_BYPASS_CONFIG)))
		return;
	/* Values other than 0 and 1 are reserved: read as "bypass". */
	viommu.cfg.bypass = !!data[b - off];
	viommu.set.bypass = viommu.cfg.bypass;
	/* The kernel has it at once: endpoints in no domain follow it. */
	iommu_set_config();
}

static void iommu_reset(struct virtio_dev *vdev)
{
	/* Every domain and its mappings go; the endpoints stay bound. */
	if (ioctl(viommu.fd, KVIO_IOMMU_RESET) < 0)
		fprintf(stderr, "kvio-vmm: %s: KVIO_IOMMU_RESET: %s\n",
			IOMMU_DEV, strerror(errno));
	vhost_queues_stop(viommu.fd, &viommu.rings);
	viommu.cfg.bypass = viommu.bypass_reset;
	viommu.set.bypass = viommu.bypass_reset;
	iommu_set_config();
}

static int iommu_activate(struct virtio_dev *vdev)
{
	/* Its own rings are guest-physical: it is offered no ACCESS_PLATFORM. */
	if (vhost_start(viommu.fd, vdev->vm,
			vdev->guest_features & viommu.backend_features) ||
	    vhost_queues_start(viommu.fd, vdev, 0, IOMMU_QUEUES, 0, &viommu.rings))
		return -1;
	return 0;
}

static const struct virtio_dev_ops iommu_ops = {
	.config_read = iommu_config_read,
	.config_write = iommu_config_write,
	.activate = iommu_activate,
	.reset = iommu_reset,
};

int iommu_device_create(struct vmm *vm)
{
	struct virtio_iommu_config *c = &viommu.cfg;
	struct kvio_iommu_config cur;
	uint64_t offer;

	if (!viommu.requested)
		return 0;
	viommu.fd = vhost_open(IOMMU_DEV, "kvio_iommu", &viommu.backend_features);
	if (viommu.fd < 0)
		return -1;

	/*
	 * Defaults (4 KiB pages, all of IOVA space and of domain IDs), and
	 * no bypass: until the guest attaches an endpoint, its DMA faults
	 * rather than reaching guest memory unchecked.
	 */
	memset(&viommu.set, 0, sizeof(viommu.set));
	viommu.set.version = KVIO_IOMMU_CONFIG_VERSION;
	viommu.bypass_reset = 0;
	if (iommu_set_config())
		return -1;
	memset(&cur, 0, sizeof(cur));
	if (ioctl(viommu.fd, KVIO_IOMMU_GET_CONFIG, &cur) < 0) {
		fprintf(stderr, "kvio-vmm: %s: KVIO_IOMMU_GET_CONFIG: %s\n",
			IOMMU_DEV, strerror(errno));
		return -1;
	}
	offer = IOMMU_FEATURES & viommu.backend_features;
	/* Linux's driver needs MAP_UNMAP; without it there is nothing to do. */
	if (!(offer & BIT64(VIRTIO_F_VERSION_1)) ||
	    !(offer & BIT64(VIRTIO_IOMMU_F_MAP_UNMAP))) {
		fprintf(stderr, "kvio-vmm: %s lacks VERSION_1 or MAP_UNMAP\n",
			IOMMU_DEV);
		return -1;
	}

	memset(c, 0, sizeof(*c));
	c->page_size_mask = cur.page_size_mask;
	c->input_range.start = cur.input_start;
	c->input_range.end = cur.input_end;
	c->domain_range.start = cur.domain_start;
	c->domain_range.end = cur.domain_end;
	c->probe_size = cur.probe_size;
	c->bypass = cur.bypass;

	/* A vector per queue and one for the config. */
	if (virtio_pci_init(&viommu.vdev, vm, VIRTIO_ID_IOMMU, PCI_CLASS_CODE_OTHER,
			    IOMMU_QUEUES, IOMMU_QUEUE_SIZE, IOMMU_QUEUES + 1,
			    offer, sizeof(*c), &iommu_ops, &viommu))
		return -1;
	viommu.created = true;
	fprintf(stderr, "kvio-vmm: iommu %s at 00:%02x.0, page sizes %#llx, %u-byte probe\n",
		IOMMU_DEV, viommu.vdev.pci.devfn >> 3,
		(unsigned long long)cur.page_size_mask, cur.probe_size);
	return 0;
}

int vmm_iommu_bind(struct virtio_dev *vdev, int fd, uint64_t backend_features,
		   const char *what)
{
	struct kvio_iommu_endpoint ep = { .endpoint = vdev->pci.devfn, .fd = fd };

	if (!viommu.created)
		return 0;
	if (!(backend_features & BIT64(VIRTIO_F_ACCESS_PLATFORM))) {
		fprintf(stderr, "kvio-vmm: --iommu: %s does not offer VIRTIO_F_ACCESS_PLATFORM\n",
			what);
		return -1;
	}
	/* A function's second kvio device joins the endpoint of its first. */
	if (ioctl(viommu.fd, KVIO_IOMMU_BIND, &ep) < 0) {
		fprintf(stderr, "kvio-vmm: --iommu: %s: KVIO_IOMMU_BIND endpoint %#x: %s%s\n",
			what, ep.endpoint, strerror(errno),
			errno == EINVAL ? " (only a kvio device can be behind kvio-iommu)" :
			errno == EEXIST ? " (kvio_iommu too old for several devices per endpoint)" :
			"");
		return -1;
	}
	if (!vdev->platform_required)
		viommu.endpoints++;
	vdev->host_features |= BIT64(VIRTIO_F_ACCESS_PLATFORM);
	vdev->platform_required = true;
	return 0;
}

/*
 * Where the piece of @vdev's DMA at @addr starts: at most @len bytes, *@n
 * of them in one run of guest RAM (all @len for guest-physical addresses,
 * what one mapping holds for an IOVA).  NULL if nothing is there, or the
 * mapping lacks the access.
 */
static void *dma_piece(struct virtio_dev *vdev, uint64_t addr, uint64_t len,
		       bool write, uint64_t *n)
{
	struct kvio_iommu_translate tr = {
		.endpoint = vdev->pci.devfn,
		.flags = write ? KVIO_IOMMU_TRANSLATE_WRITE : 0,
		.iova = addr,
		.size = len,
	};

	if (!virtio_uses_iova(vdev)) {
		*n = len;
		return vmm_gpa(vdev->vm, addr, len);
	}
	if (!viommu.created || ioctl(viommu.fd, KVIO_IOMMU_TRANSLATE, &tr) < 0)
		return NULL;
	*n = tr.size;
	return vmm_gpa(vdev->vm, tr.gpa, tr.size);
}

void *vmm_dma(struct virtio_dev *vdev, uint64_t addr, uint64_t len, bool write)
{
	uint64_t n;
	void *p = len ? dma_piece(vdev, addr, len, write, &n) : NULL;

	return p && n == len ? p : NULL;
}

int vmm_dma_read(struct virtio_dev *vdev, uint64_t addr, void *buf,
		 uint64_t len)
{
	uint8_t *dst = buf;
	uint64_t n;
	void *src;

	/* Piece by piece: the pages of an IOVA range need not be adjacent. */
	while (len) {
		src = dma_piece(vdev, addr, len, false, &n);
		if (!src)
			return -1;
		memcpy(dst, src, n);
		dst += n;
		addr += n;
		len -= n;
	}
	return 0;
}

/* What the guest's mappings refused, for whoever reads stderr. */
static void iommu_report(void)
{
	struct kvio_iommu_stats st;

	if (ioctl(viommu.fd, KVIO_IOMMU_GET_STATS, &st) < 0)
		return;
	fprintf(stderr, "kvio-vmm: iommu: %u endpoints, %llu faults (%llu dropped)\n",
		viommu.endpoints, (unsigned long long)st.faults,
		(unsigned long long)st.faults_dropped);
}

void iommu_device_destroy(struct vmm *vm)
{
	if (viommu.created) {
		virtio_pci_exit(&viommu.vdev);
		iommu_report();
	}
	viommu.created = false;
	/* Closing it unbinds every endpoint and releases their files. */
	if (viommu.fd >= 0)
		close(viommu.fd);
	viommu.fd = -1;
	viommu.endpoints = 0;
}
