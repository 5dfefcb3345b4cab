// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio-vmm: the modern virtio PCI transport (virtio 1.2, 4.1), and the
 * devices' entry points of vmm.h.
 *
 * BAR 0 (64-bit memory, 32 KiB):
 *   0x0000 common configuration	0x3000 notify: 4 bytes per queue
 *   0x1000 ISR status			0x4000 MSI-X table
 *   0x2000 device configuration	0x5000 MSI-X PBA
 *
 * The common configuration is served from an image of the structure built
 * for each access, so an access of any width at any offset reads what the
 * fields hold, and a write stores its bytes into the image and then hands
 * every field it touched to that field's rule.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "virtio-pci.h"

#define VPCI_BAR		0
#define VPCI_BAR_SIZE		0x8000
#define VPCI_COMMON_OFF		0x0000
#define VPCI_COMMON_LEN		(VIRTIO_PCI_COMMON_Q_USEDHI + 4)
#define VPCI_ISR_OFF		0x1000
#define VPCI_ISR_LEN		4
#define VPCI_DEVICE_OFF		0x2000
#define VPCI_NOTIFY_OFF		0x3000
#define VPCI_NOTIFY_MULT	4
#define VPCI_MSIX_TABLE_OFF	0x4000
#define VPCI_MSIX_PBA_OFF	0x5000
#define VPCI_REGION_LEN		0x1000
#define VPCI_MAX_VECTORS	(0x1000 / 16)

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

static int le_get(const uint8_t *p, unsigned int len, uint64_t *v)
{
	unsigned int i;

	*v = 0;
	for (i = 0; i < len; i++)
		*v |= (uint64_t)p[i] << (8 * i);
	return 0;
}

static void le_put(uint8_t *p, unsigned int len, uint64_t v)
{
	unsigned int i;

	for (i = 0; i < len; i++)
		p[i] = v >> (8 * i);
}

int virtio_queue_call_efd(struct virtio_dev *vdev, unsigned int qi)
{
	if (qi >= vdev->nq || vdev->q[qi].vector == VIRTIO_MSI_NO_VECTOR)
		return -1;
	return pci_msix_efd(&vdev->pci, vdev->q[qi].vector);
}

void virtio_config_changed(struct virtio_dev *vdev)
{
	vdev->config_gen++;
	vdev->isr |= VIRTIO_PCI_ISR_CONFIG;
	if (vdev->msix_config != VIRTIO_MSI_NO_VECTOR)
		pci_msix_notify(&vdev->pci, vdev->msix_config);
}

static void efd_drain(int efd)
{
	uint64_t n;

	/* Non-blocking: EAGAIN when there was nothing. */
	if (efd >= 0 && read(efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		perror("kvio-vmm: eventfd read");
}

/* Stop the backend; every register back to its reset value. */
static void virtio_reset(struct virtio_dev *vdev)
{
	struct virtio_queue *q;
	unsigned int i;

	if (vdev->started) {
		vdev->ops->reset(vdev);
		vdev->started = false;
	}
	vdev->guest_features = 0;
	vdev->dfsel = 0;
	vdev->gfsel = 0;
	vdev->msix_config = VIRTIO_MSI_NO_VECTOR;
	vdev->status = 0;
	vdev->isr = 0;
	vdev->queue_sel = 0;
	for (i = 0; i < vdev->nq; i++) {
		q = &vdev->q[i];
		q->size = q->max_size;
		q->vector = VIRTIO_MSI_NO_VECTOR;
		q->enabled = false;
		q->desc = 0;
		q->avail = 0;
		q->used = 0;
		/* A kick of the old rings must not reach the next ones. */
		efd_drain(q->kick_efd);
		/* Nor an error of theirs; the next one is said again. */
		efd_drain(q->err_efd);
		q->err_reported = false;
	}
	for (i = 0; i < vdev->nvec; i++)
		efd_drain(pci_msix_efd(&vdev->pci, i));
}

static bool virtio_features_ok(struct virtio_dev *vdev)
{
	uint64_t g = vdev->guest_features;

	return !(g & ~vdev->host_features) &&
	       (g & (1ULL << VIRTIO_F_VERSION_1)) &&
	       (!vdev->platform_required ||
		(g & (1ULL << VIRTIO_F_ACCESS_PLATFORM)));
}

static void virtio_set_status(struct virtio_dev *vdev, uint8_t v)
{
	uint8_t old = vdev->status;

	if (v == 0) {
		virtio_reset(vdev);
		return;
	}
	/* Refused: the bit reads back clear (virtio 1.2, 3.1.1 step 6). */
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(old & VIRTIO_CONFIG_S_FEATURES_OK) && !virtio_features_ok(vdev))
		v &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	/*
	 * Only a reset clears a bit (the driver must not, 3.1.1): keeping
	 * them set keeps the features the backend runs with from changing
	 * under it.
	 */
	vdev->status = v | old;

	if (!(v & VIRTIO_CONFIG_S_DRIVER_OK) || vdev->started ||
	    (vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET))
		return;
	if (v & VIRTIO_CONFIG_S_FEATURES_OK) {
		vdev->started = true;
		if (!vdev->ops->activate(vdev))
			return;
		vdev->ops->reset(vdev);
		vdev->started = false;
	}
	/* The guest keeps running; it sees the device needs a reset. */
	vmm_guest_msg("kvio-vmm: PCI %02x.%x: virtio device %u failed to start, needs reset\n",
		      vdev->pci.devfn >> 3, vdev->pci.devfn & 7, vdev->type);
	vdev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	virtio_config_changed(vdev);
}

/* ---------------------------------------------------- common config */

static void common_image(struct virtio_dev *vdev, uint8_t *img)
{
	struct virtio_queue *q = NULL;

	memset(img, 0, VPCI_COMMON_LEN);
	le_put(img + VIRTIO_PCI_COMMON_DFSELECT, 4, vdev->dfsel);
	if (vdev->dfsel < 2)
		le_put(img + VIRTIO_PCI_COMMON_DF, 4,
		       vdev->host_features >> (32 * vdev->dfsel));
	le_put(img + VIRTIO_PCI_COMMON_GFSELECT, 4, vdev->gfsel);
	if (vdev->gfsel < 2)
		le_put(img + VIRTIO_PCI_COMMON_GF, 4,
		       vdev->guest_features >> (32 * vdev->gfsel));
	le_put(img + VIRTIO_PCI_COMMON_MSIX, 2, vdev->msix_config);
	le_put(img + VIRTIO_PCI_COMMON_NUMQ, 2, vdev->nq);
	img[VIRTIO_PCI_COMMON_STATUS] = vdev->status;
	img[VIRTIO_PCI_COMMON_CFGGENERATION] = vdev->config_gen;
	le_put(img + VIRTIO_PCI_COMMON_Q_SELECT, 2, vdev->queue_sel);
	if (vdev->queue_sel < vdev->nq)
		q = &vdev->q[vdev->queue_sel];
	if (!q)
		return;		/* no such queue: size 0, the rest 0 */
	le_put(img + VIRTIO_PCI_COMMON_Q_SIZE, 2, q->size);
	le_put(img + VIRTIO_PCI_COMMON_Q_MSIX, 2, q->vector);
	le_put(img + VIRTIO_PCI_COMMON_Q_ENABLE, 2, q->enabled);
	le_put(img + VIRTIO_PCI_COMMON_Q_NOFF, 2, vdev->queue_sel);
	le_put(img + VIRTIO_PCI_COMMON_Q_DESCLO, 8, q->desc);
	le_put(img + VIRTIO_PCI_COMMON_Q_AVAILLO, 8, q->avail);
	le_put(img + VIRTIO_PCI_COMMON_Q_USEDLO, 8, q->used);
}

static const struct {
	uint8_t off, len;
} common_fields[] = {
	{ VIRTIO_PCI_COMMON_DFSELECT, 4 }, { VIRTIO_PCI_COMMON_DF, 4 },
	{ VIRTIO_PCI_COMMON_GFSELECT, 4 }, { VIRTIO_PCI_COMMON_GF, 4 },
	{ VIRTIO_PCI_COMMON_MSIX, 2 }, { VIRTIO_PCI_COMMON_NUMQ, 2 },
	{ VIRTIO_PCI_COMMON_STATUS, 1 }, { VIRTIO_PCI_COMMON_CFGGENERATION, 1 },
	{ VIRTIO_PCI_COMMON_Q_SELECT, 2 }, { VIRTIO_PCI_COMMON_Q_SIZE, 2 },
	{ VIRTIO_PCI_COMMON_Q_MSIX, 2 }, { VIRTIO_PCI_COMMON_Q_ENABLE, 2 },
	{ VIRTIO_PCI_COMMON_Q_NOFF, 2 },
	{ VIRTIO_PCI_COMMON_Q_DESCLO, 8 }, { VIRTIO_PCI_COMMON_Q_AVAILLO, 8 },
	{ VIRTIO_PCI_COMMON_Q_USEDLO, 8 },
};

static void common_set(struct virtio_dev *vdev, unsigned int field, uint64_t v)
{
	struct virtio_queue *q = NULL;
	/* Queue set-up is frozen once the queue or the device is live. */
	bool frozen;

	if (vdev->queue_sel < vdev->nq)
		q = &vdev->q[vdev->queue_sel];
	frozen = !q || q->enabled || (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK);

	switch (field) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		vdev->dfsel = v;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		vdev->gfsel = v;
		break;
	case VIRTIO_PCI_COMMON_GF:
		if (vdev->gfsel < 2 && !vdev->started &&
		    !(vdev->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
			vdev->guest_features &= ~(0xffffffffULL << (32 * vdev->gfsel));
			vdev->guest_features |= (v & 0xffffffffULL) << (32 * vdev->gfsel);
		}
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		vdev->msix_config = v < vdev->nvec ? v : VIRTIO_MSI_NO_VECTOR;
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		virtio_set_status(vdev, v);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		vdev->queue_sel = v;
		break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		if (!frozen && v && !(v & (v - 1)) && v <= q->max_size)
			q->size = v;
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		/* An impossible vector reads back as NO_VECTOR (4.1.4.3.2). */
		if (!frozen)
			q->vector = v < vdev->nvec ? v : VIRTIO_MSI_NO_VECTOR;
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (!frozen && v == 1)
			q->enabled = true;
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		if (!frozen)
			q->desc = v;
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		if (!frozen)
			q->avail = v;
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		if (!frozen)
			q->used = v;
		break;
	default:
		break;		/* read-only */
	}
}

static void common_io(struct virtio_dev *vdev, uint32_t off, uint8_t *data,
		      uint32_t len, bool is_write)
{
	uint8_t img[VPCI_COMMON_LEN];
	uint64_t v;
	unsigned int i, n;

	common_image(vdev, img);
	n = off < VPCI_COMMON_LEN ? VPCI_COMMON_LEN - off : 0;
	if (n > len)
		n = len;
	if (!is_write) {
		memset(data, 0, len);
		if (n)
			memcpy(data, img + off, n);
		return;
	}
	if (!n)
		return;
	memcpy(img + off, data, n);
	for (i = 0; i < ARRAY_SIZE(common_fields); i++) {
		if (common_fields[i].off + common_fields[i].len <= off ||
		    common_fields[i].off >= off + n)
			continue;
		le_get(img + common_fields[i].off, common_fields[i].len, &v);
		common_set(vdev, common_fields[i].off, v);
	}
}

/* ------------------------------------------------------------- BAR 0 */

static void virtio_bar_io(void *opaque, uint64_t off, uint8_t *data,
			  uint32_t len, bool is_write)
{
	struct virtio_dev *vdev = opaque;
	uint32_t region = off / VPCI_REGION_LEN * VPCI_REGION_LEN;
	uint32_t roff = off - region;
	uint64_t one = 1;
	uint32_t n, qi;

	/* pci.c checked off + len against the BAR, len <= 8. */
	if (roff + len > VPCI_REGION_LEN) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	switch (region) {
	case VPCI_COMMON_OFF:
		common_io(vdev, roff, data, len, is_write);
		return;
	case VPCI_ISR_OFF:
		if (is_write)
			return;
		memset(data, 0, len);
		/* Reading the ISR acknowledges it (4.1.4.5). */
		if (roff == 0) {
			data[0] = vdev->isr;
			vdev->isr = 0;
		}
		return;
	case VPCI_DEVICE_OFF:
		if (!is_write)
			memset(data, 0, len);
		if (roff >= vdev->config_size)
			return;
		n = vdev->config_size - roff;
		if (n > len)
			n = len;
		if (is_write)
			vdev->ops->config_write(vdev, roff, data, n);
		else
			vdev->ops->config_read(vdev, roff, data, n);
		return;
	case VPCI_NOTIFY_OFF:
		/*
		 * The ioeventfd takes 2-byte writes in the kernel; anything
		 * else that lands here is still a kick of that queue.
		 */
		if (!is_write) {
			memset(data, 0, len);
			return;
		}
		qi = roff / VPCI_NOTIFY_MULT;
		if (qi < vdev->nq &&
		    write(vdev->q[qi].kick_efd, &one, sizeof(one)) != sizeof(one))
			perror("kvio-vmm: kick eventfd write");
		return;
	default:
		if (!is_write)
			memset(data, 0, len);
		return;
	}
}

static void virtio_ioeventfds(struct virtio_dev *vdev, uint64_t bar_addr,
			      bool on)
{
	uint64_t base = bar_addr + VPCI_NOTIFY_OFF, addr;
	unsigned int i;

	if (on == vdev->ioeventfds)
		return;
	for (i = 0; i < vdev->nq; i++) {
		addr = base + VPCI_NOTIFY_MULT * i;
		if (vmm_ioeventfd(vdev->vm, addr, 2, vdev->q[i].kick_efd,
				  false, on) && on)
			vmm_guest_msg("kvio-vmm: %02x.%x queue %u: no ioeventfd at %#llx\n",
				      vdev->pci.devfn >> 3, vdev->pci.devfn & 7,
				      i, (unsigned long long)addr);
	}
	vdev->ioeventfds = on;
	vdev->notify_addr = on ? base : 0;
}

static void virtio_bar_map(struct pci_dev *pdev, int bar, uint64_t addr,
			   bool on)
{
	if (bar == VPCI_BAR)
		virtio_ioeventfds((struct virtio_dev *)pdev, addr, on);
}

/*
 * VIRTIO_PCI_CAP_PCI_CFG (4.1.4.9): a window on BAR 0 through config space.
 * Linux does not use it; the spec requires it, so it is served, checked:
 * BAR 0, a length of 1, 2 or 4, aligned, inside the BAR.
 */
static bool pcicfg_target(struct virtio_dev *vdev, uint32_t *off, uint32_t *len)
{
	const uint8_t *c = &vdev->pci.cfg[vdev->pcicfg_cap];
	uint64_t v;

	if (c[offsetof(struct virtio_pci_cap, bar)] != VPCI_BAR)
		return false;
	le_get(c + offsetof(struct virtio_pci_cap, offset), 4, &v);
	*off = v;
	le_get(c + offsetof(struct virtio_pci_cap, length), 4, &v);
	*len = v;
	return (*len == 1 || *len == 2 || *len == 4) && !(*off & (*len - 1)) &&
	       *off < VPCI_BAR_SIZE && *off + *len <= VPCI_BAR_SIZE &&
	       (*off < VPCI_MSIX_TABLE_OFF || *off >= VPCI_MSIX_PBA_OFF + VPCI_REGION_LEN);
}

static void virtio_cfg_read(struct pci_dev *pdev, uint32_t off, uint32_t len,
			    uint8_t *data)
{
	struct virtio_dev *vdev = (struct virtio_dev *)pdev;
	uint32_t doff = vdev->pcicfg_cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
	uint8_t buf[4] = { 0 };
	uint32_t boff, blen, i;

	if (!pcicfg_target(vdev, &boff, &blen))
		return;
	virtio_bar_io(vdev, boff, buf, blen, false);
	for (i = 0; i < len; i++)
		if (off + i >= doff && off + i < doff + 4)
			data[i] = buf[off + i - doff];
}

static void virtio_cfg_write(struct pci_dev *pdev, uint32_t off, uint32_t len,
			     const uint8_t *data)
{
	struct virtio_dev *vdev = (struct virtio_dev *)pdev;
	uint32_t doff = vdev->pcicfg_cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
	uint32_t boff, blen;

	(void)data;
	(void)len;
	/* The access starts at pci_cfg_data; its bytes are in the cap now. */
	if (off != doff || !pcicfg_target(vdev, &boff, &blen))
		return;
	virtio_bar_io(vdev, boff, &pdev->cfg[doff], blen, true);
}

static const struct pci_dev_ops virtio_pci_ops = {
	.bar_map = virtio_bar_map,
	.cfg_read = virtio_cfg_read,
	.cfg_write = virtio_cfg_write,
};

static int virtio_add_cap(struct virtio_dev *vdev, uint8_t type, uint32_t off,
			  uint32_t len, uint32_t extra_len, uint32_t extra)
{
	uint8_t buf[sizeof(struct virtio_pci_cfg_cap)] = { 0 };
	struct virtio_pci_cap *cap = (struct virtio_pci_cap *)buf;
	uint8_t caplen = sizeof(*cap) + extra_len;

	cap->cap_len = caplen;
	cap->cfg_type = type;
	cap->bar = VPCI_BAR;
	cap->offset = off;
	cap->length = len;
	le_put(buf + sizeof(*cap), extra_len, extra);
	return pci_add_cap(&vdev->pci, PCI_CAP_ID_VNDR, buf, caplen);
}

/* Every virtio function on the bus, for vmm_devices_dump(). */
static struct virtio_dev *virtio_list[VMM_MAX_VIRTIO];
static pthread_mutex_t virtio_list_lock = PTHREAD_MUTEX_INITIALIZER;

static void virtio_list_add(struct virtio_dev *vdev)
{
	unsigned int i;

	pthread_mutex_lock(&virtio_list_lock);
	for (i = 0; i < VMM_MAX_VIRTIO; i++) {
		if (!virtio_list[i]) {
			virtio_list[i] = vdev;
			break;
		}
	}
	pthread_mutex_unlock(&virtio_list_lock);
}

static void virtio_list_del(struct virtio_dev *vdev)
{
	unsigned int i;

	pthread_mutex_lock(&virtio_list_lock);
	for (i = 0; i < VMM_MAX_VIRTIO; i++)
		if (virtio_list[i] == vdev)
			virtio_list[i] = NULL;
	pthread_mutex_unlock(&virtio_list_lock);
}

static void virtio_queues_close(struct virtio_dev *vdev)
{
	unsigned int i;

	for (i = 0; i < vdev->nq; i++) {
		if (vdev->q[i].kick_efd >= 0)
			close(vdev->q[i].kick_efd);
		if (vdev->q[i].err_efd >= 0)
			close(vdev->q[i].err_efd);
		vdev->q[i].kick_efd = -1;
		vdev->q[i].err_efd = -1;
	}
}

int virtio_pci_init(struct virtio_dev *vdev, struct vmm *vm, uint16_t type,
		    uint32_t class, unsigned int nq, uint16_t qsize,
		    unsigned int nvec, uint64_t features, uint32_t config_size,
		    const struct virtio_dev_ops *ops, void *priv)
{
	struct pci_dev *pdev = &vdev->pci;
	unsigned int i;
	int off;

	if (!nq || nq > VIRTIO_PCI_MAX_QUEUES || nvec > VPCI_MAX_VECTORS ||
	    config_size > VPCI_REGION_LEN || !qsize || (qsize & (qsize - 1)))
		return -1;

	memset(vdev, 0, sizeof(*vdev));
	/* Non-transitional: ID 0x1040 + type, revision 1 (4.1.2.1). */
	pci_dev_init(pdev, vm, 0x1af4, 0x1040 + type, class, 1, 0x1af4, type);
	pdev->ops = &virtio_pci_ops;
	vdev->vm = vm;
	vdev->ops = ops;
	vdev->priv = priv;
	vdev->type = type;
	vdev->config_size = config_size;
	vdev->host_features = features | (1ULL << VIRTIO_F_VERSION_1);
	vdev->nq = nq;
	vdev->nvec = nvec;
	for (i = 0; i < nq; i++) {
		vdev->q[i].max_size = qsize;
		vdev->q[i].kick_efd = -1;
		vdev->q[i].err_efd = -1;
	}
	for (i = 0; i < nq; i++) {
		vdev->q[i].kick_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vdev->q[i].err_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vdev->q[i].kick_efd < 0 || vdev->q[i].err_efd < 0) {
			perror("kvio-vmm: eventfd");
			goto err;
		}
	}
	virtio_reset(vdev);

	if (pci_add_bar64(pdev, VPCI_BAR, VPCI_BAR_SIZE, virtio_bar_io, vdev) ||
	    (nvec && pci_add_msix(pdev, nvec, VPCI_BAR, VPCI_MSIX_TABLE_OFF,
				  VPCI_MSIX_PBA_OFF)) ||
	    virtio_add_cap(vdev, VIRTIO_PCI_CAP_COMMON_CFG, VPCI_COMMON_OFF,
			   VPCI_COMMON_LEN, 0, 0) < 0 ||
	    virtio_add_cap(vdev, VIRTIO_PCI_CAP_NOTIFY_CFG, VPCI_NOTIFY_OFF,
			   VPCI_NOTIFY_MULT * nq, 4, VPCI_NOTIFY_MULT) < 0 ||
	    virtio_add_cap(vdev, VIRTIO_PCI_CAP_ISR_CFG, VPCI_ISR_OFF,
			   VPCI_ISR_LEN, 0, 0) < 0 ||
	    (config_size &&
	     virtio_add_cap(vdev, VIRTIO_PCI_CAP_DEVICE_CFG, VPCI_DEVICE_OFF,
			    config_size, 0, 0) < 0))
		goto err;
	off = virtio_add_cap(vdev, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 4, 0);
	if (off < 0)
		goto err;
	vdev->pcicfg_cap = off;
	pdev->wmask[off + offsetof(struct virtio_pci_cap, bar)] = 0xff;
	for (i = 0; i < 4; i++) {
		pdev->wmask[off + offsetof(struct virtio_pci_cap, offset) + i] = 0xff;
		pdev->wmask[off + offsetof(struct virtio_pci_cap, length) + i] = 0xff;
		pdev->wmask[off + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data) + i] = 0xff;
	}
	pdev->cfg_hook_start = off + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
	pdev->cfg_hook_end = pdev->cfg_hook_start + 4;

	if (pci_dev_add(pdev))
		goto err;
	virtio_list_add(vdev);
	return 0;

err:
	fprintf(stderr, "kvio-vmm: cannot create the PCI function of virtio device %u\n",
		type);
	pci_dev_remove(pdev);
	virtio_queues_close(vdev);
	return -1;
}

void virtio_pci_exit(struct virtio_dev *vdev)
{
	virtio_list_del(vdev);
	pthread_mutex_lock(&vdev->pci.lock);
	if (vdev->started) {
		vdev->ops->reset(vdev);
		vdev->started = false;
	}
	pthread_mutex_unlock(&vdev->pci.lock);
	/* Unmapping BAR 0 deassigns the ioeventfds before they close. */
	pci_dev_remove(&vdev->pci);
	virtio_queues_close(vdev);
}

/* ------------------------------------------------------ vmm.h entries */

int vmm_devices_create(struct vmm *vm)
{
	/* The vIOMMU first: the others bind to it as they are created. */
	if (pci_init(vm) || iommu_device_create(vm) ||
	    blk_devices_create(vm) || net_devices_create(vm)) {
		vmm_devices_destroy(vm);
		return -1;
	}
	return 0;
}

/*
 * A u16 of a queue's ring at @addr (guest-physical, or an IOVA the vIOMMU
 * translates as the guest's mappings are now), or -1 when it is not RAM.
 */
static int virtio_peek16(struct virtio_dev *vdev, uint64_t addr)
{
	uint16_t *p = vmm_dma(vdev, addr, 2, false);

	/* The guest writes it meanwhile: one load. */
	return p ? __atomic_load_n(p, __ATOMIC_RELAXED) : -1;
}

/* @fn on every virtio function on the bus, each with its lock held. */
static void virtio_for_each(void (*fn)(struct virtio_dev *vdev))
{
	struct virtio_dev *vdev;
	unsigned int i;

	pthread_mutex_lock(&virtio_list_lock);
	for (i = 0; i < VMM_MAX_VIRTIO; i++) {
		vdev = virtio_list[i];
		if (!vdev)
			continue;
		pthread_mutex_lock(&vdev->pci.lock);
		fn(vdev);
		pthread_mutex_unlock(&vdev->pci.lock);
	}
	pthread_mutex_unlock(&virtio_list_lock);
}

static void virtio_dump(struct virtio_dev *vdev)
{
	bool event_idx = vdev->guest_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	struct virtio_queue q;
	unsigned int qi;

	fprintf(stderr, "kvio-vmm: 00:%02x.0 virtio %u: status %#x, features %#llx\n",
		vdev->pci.devfn >> 3, vdev->type, vdev->status,
		(unsigned long long)vdev->guest_features);
	for (qi = 0; qi < vdev->nq; qi++) {
		q = vdev->q[qi];
		if (!q.enabled)
			continue;
		/* The event fields follow the rings (2.7.10, 2.7.8). */
		fprintf(stderr, "kvio-vmm:   queue %u: size %u%s,", qi,
			q.size, virtio_uses_iova(vdev) ? " (IOVAs)" : "");
		fprintf(stderr, " desc %#llx avail %#llx used %#llx,",
			(unsigned long long)q.desc, (unsigned long long)q.avail,
			(unsigned long long)q.used);
		fprintf(stderr, " avail idx %d flags %d used_event %d;",
			virtio_peek16(vdev, q.avail + 2),
			virtio_peek16(vdev, q.avail),
			event_idx ? virtio_peek16(vdev, q.avail + 4 + 2ULL * q.size) : -1);
		fprintf(stderr, " used idx %d flags %d avail_event %d\n",
			virtio_peek16(vdev, q.used + 2), virtio_peek16(vdev, q.used),
			event_idx ? virtio_peek16(vdev, q.used + 4 + 8ULL * q.size) : -1);
	}
}

void vmm_devices_dump(struct vmm *vm)
{
	/* Where guest RAM is in our address space (/proc/PID/mem). */
	fprintf(stderr, "kvio-vmm: guest RAM: gpa 0x0-0x%llx at %p\n",
		(unsigned long long)vm->low_size - 1, (void *)vm->ram);
	if (vm->ram_size > vm->low_size)
		fprintf(stderr, "kvio-vmm: guest RAM: gpa 0x%llx-0x%llx at %p\n",
			VMM_HIGH_RAM_BASE, VMM_HIGH_RAM_BASE + vm->ram_size -
			vm->low_size - 1, (void *)(vm->ram + vm->low_size));
	virtio_for_each(virtio_dump);
}

unsigned int vmm_ring_error_fds(struct pollfd *pfd, unsigned int max)
{
	struct virtio_dev *vdev;
	unsigned int i, qi, n = 0;

	pthread_mutex_lock(&virtio_list_lock);
	for (i = 0; i < VMM_MAX_VIRTIO; i++) {
		vdev = virtio_list[i];
		for (qi = 0; vdev && qi < vdev->nq && n < max; qi++) {
			pfd[n].fd = vdev->q[qi].err_efd;
			pfd[n].events = POLLIN;
			pfd[n++].revents = 0;
		}
	}
	pthread_mutex_unlock(&virtio_list_lock);
	return n;
}

/*
 * Once per queue until the device is reset: upstream's vhost signals every
 * error and does not stop the ring, so one bad chain would say it for
 * every frame.
 */
static void virtio_ring_errors(struct virtio_dev *vdev)
{
	struct virtio_queue *q;
	unsigned int qi;
	uint64_t v;

	for (qi = 0; qi < vdev->nq; qi++) {
		q = &vdev->q[qi];
		if (read(q->err_efd, &v, sizeof(v)) != sizeof(v) ||
		    q->err_reported)
			continue;
		q->err_reported = true;
		vmm_guest_msg("kvio-vmm: 00:%02x.0 virtio %u: queue %u: ring error: %s\n",
			      vdev->pci.devfn >> 3, vdev->type, qi,
			      "the guest malformed it or it is out of reach (kvio stops it until a device reset)");
	}
}

void vmm_ring_errors_report(void)
{
	virtio_for_each(virtio_ring_errors);
}

void vmm_devices_destroy(struct vmm *vm)
{
	net_devices_destroy(vm);
	blk_devices_destroy(vm);
	iommu_device_destroy(vm);
	pci_exit(vm);
}
