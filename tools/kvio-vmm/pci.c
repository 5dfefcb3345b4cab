// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio-vmm: PCI bus 0.  Configuration mechanism #1 (0xcf8 address, 0xcfc
 * data), a host bridge at 00:00.0, functions with 64-bit memory BARs that
 * are assigned here the way firmware would and that the guest may size and
 * move, and MSI-X whose vectors are KVM irqfds on MSI routes.
 *
 * Everything the guest writes is a value to validate: an offset, a length,
 * a BAR address or an MSI-X entry can never make us touch memory outside
 * the function's own state.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <linux/pci_regs.h>

#include "pci.h"

/* The guest may put a BAR anywhere below this (48-bit physical space). */
#define PCI_BAR_ADDR_LIMIT	0x1000000000000ULL

/* Red Hat, Inc. "QEMU PCIe host bridge": no Linux driver or quirk binds it. */
#define PCI_HOST_VENDOR		0x1b36
#define PCI_HOST_DEVICE		0x0008

static struct {
	pthread_mutex_t lock;		/* addr, slot[] */
	struct vmm *vm;
	uint32_t addr;			/* CONFIG_ADDRESS as written */
	struct pci_dev *slot[PCI_MAX_SLOTS];
	struct pci_dev host;
	struct vmm_region *addr_region, *data_region;
	uint64_t mmio_next;		/* BAR allocator */
} bus = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static uint16_t cfg_get16(const struct pci_dev *pdev, unsigned int off)
{
	return pdev->cfg[off] | pdev->cfg[off + 1] << 8;
}

static uint32_t cfg_get32(const struct pci_dev *pdev, unsigned int off)
{
	return cfg_get16(pdev, off) | (uint32_t)cfg_get16(pdev, off + 2) << 16;
}

static void cfg_set16(struct pci_dev *pdev, unsigned int off, uint16_t v)
{
	pdev->cfg[off] = v;
	pdev->cfg[off + 1] = v >> 8;
}

static void cfg_set32(struct pci_dev *pdev, unsigned int off, uint32_t v)
{
	cfg_set16(pdev, off, v);
	cfg_set16(pdev, off + 2, v >> 16);
}

static void wmask_set(struct pci_dev *pdev, unsigned int off, unsigned int len,
		      uint64_t mask)
{
	unsigned int i;

	for (i = 0; i < len; i++)
		pdev->wmask[off + i] = mask >> (8 * i);
}

static bool ranges_overlap(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
	return a < b + blen && b < a + alen;
}

void pci_dev_init(struct pci_dev *pdev, struct vmm *vm, uint16_t vendor,
		  uint16_t device, uint32_t class, uint8_t revision,
		  uint16_t subsys_vendor, uint16_t subsys_id)
{
	int i;

	memset(pdev, 0, sizeof(*pdev));
	pthread_mutex_init(&pdev->lock, NULL);
	pdev->vm = vm;
	pdev->devfn = -1;
	pdev->msix_bar = -1;
	pdev->cap_free = 0x40;
	for (i = 0; i < PCI_NUM_BARS; i++)
		pdev->bar[i].pdev = pdev;

	cfg_set16(pdev, PCI_VENDOR_ID, vendor);
	cfg_set16(pdev, PCI_DEVICE_ID, device);
	pdev->cfg[PCI_REVISION_ID] = revision;
	pdev->cfg[PCI_CLASS_PROG] = class;
	cfg_set16(pdev, PCI_CLASS_DEVICE, class >> 8);
	pdev->cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	cfg_set16(pdev, PCI_SUBSYSTEM_VENDOR_ID, subsys_vendor);
	cfg_set16(pdev, PCI_SUBSYSTEM_ID, subsys_id);
	/* No INTx: every function here interrupts through MSI-X only. */
	pdev->cfg[PCI_INTERRUPT_PIN] = 0;
	pdev->cfg[PCI_INTERRUPT_LINE] = 0xff;

	wmask_set(pdev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
		  PCI_COMMAND_SERR | PCI_COMMAND_PARITY |
		  PCI_COMMAND_INTX_DISABLE);
	pdev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	pdev->wmask[PCI_LATENCY_TIMER] = 0xff;
	pdev->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

int pci_add_cap(struct pci_dev *pdev, uint8_t id, const void *body, uint8_t len)
{
	unsigned int off = pdev->cap_free;

	if (len < 2 || off + len > PCI_CFG_SIZE)
		return -1;
	memcpy(&pdev->cfg[off], body, len);
	pdev->cfg[off] = id;
	pdev->cfg[off + 1] = 0;
	if (pdev->cap_last)
		pdev->cfg[pdev->cap_last + 1] = off;
	else
		pdev->cfg[PCI_CAPABILITY_LIST] = off;
	cfg_set16(pdev, PCI_STATUS, cfg_get16(pdev, PCI_STATUS) | PCI_STATUS_CAP_LIST);
	pdev->cap_last = off;
	/* Capabilities are dword aligned. */
	pdev->cap_free = (off + len + 3) & ~3u;
	return off;
}

int pci_add_bar64(struct pci_dev *pdev, int bar, uint64_t size, vmm_io_fn fn,
		  void *opaque)
{
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * bar;
	uint64_t addr, mask;

	if (bar < 0 || bar + 1 >= PCI_NUM_BARS || size < 4096 ||
	    (size & (size - 1)) || pdev->bar[bar].size)
		return -1;

	/* Naturally aligned, from the bottom of the window, like firmware. */
	addr = (bus.mmio_next + size - 1) & ~(size - 1);
	if (addr < bus.mmio_next || addr + size - 1 > VMM_PCI_MMIO_END) {
		fprintf(stderr, "kvio-vmm: PCI: no room for a %llu-byte BAR\n",
			(unsigned long long)size);
		return -1;
	}
	bus.mmio_next = addr + size;

	pdev->bar[bar].size = size;
	pdev->bar[bar].fn = fn;
	pdev->bar[bar].opaque = opaque;
	cfg_set32(pdev, off, (uint32_t)addr | PCI_BASE_ADDRESS_SPACE_MEMORY |
		  PCI_BASE_ADDRESS_MEM_TYPE_64);
	cfg_set32(pdev, off + 4, addr >> 32);
	/*
	 * The size-probing protocol falls out of the write mask: all ones
	 * written read back as the size mask, the type bits stay.
	 */
	mask = ~(size - 1);
	wmask_set(pdev, off, 4, mask & ~0xfULL);
	wmask_set(pdev, off + 4, 4, mask >> 32);
	return 0;
}

int pci_add_msix(struct pci_dev *pdev, unsigned int nvec, int bar,
		 uint32_t table_off, uint32_t pba_off)
{
	uint8_t body[12] = { 0 };
	unsigned int i;
	int off;

	if (!nvec || nvec > 2048 || bar < 0 || bar >= PCI_NUM_BARS ||
	    !pdev->bar[bar].size || (table_off & 7) || (pba_off & 7) ||
	    table_off + 16ULL * nvec > pdev->bar[bar].size ||
	    pba_off + 8ULL * ((nvec + 63) / 64) > pdev->bar[bar].size)
		return -1;

	pdev->msix = calloc(nvec, sizeof(*pdev->msix));
	if (!pdev->msix)
		return -1;
	for (i = 0; i < nvec; i++) {
		pdev->msix[i].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;
		pdev->msix[i].gsi = -1;
		pdev->msix[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (pdev->msix[i].efd < 0) {
			perror("kvio-vmm: eventfd");
			while (i--)
				close(pdev->msix[i].efd);
			free(pdev->msix);
			pdev->msix = NULL;
			return -1;
		}
	}
	/* From here on pci_dev_remove() closes them, whatever fails next. */
	pdev->msix_nvec = nvec;

	body[2] = (nvec - 1) & 0xff;
	body[3] = (nvec - 1) >> 8;
	body[4] = table_off | bar;
	body[5] = table_off >> 8;
	body[6] = table_off >> 16;
	body[7] = table_off >> 24;
	body[8] = pba_off | bar;
	body[9] = pba_off >> 8;
	body[10] = pba_off >> 16;
	body[11] = pba_off >> 24;
	off = pci_add_cap(pdev, PCI_CAP_ID_MSIX, body, sizeof(body));
	if (off < 0)
		return -1;
	pdev->wmask[off + PCI_MSIX_FLAGS + 1] =
		(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8;

	pdev->msix_cap = off;
	pdev->msix_bar = bar;
	pdev->msix_table_off = table_off;
	pdev->msix_pba_off = pba_off;
	return 0;
}

/* ------------------------------------------------------------------ MSI-X */

/*
 * Bring vector @v's KVM state in line with its table entry and the
 * capability's enable and function-mask bits: while it can fire, its
 * eventfd is an irqfd on an MSI route holding the entry's message; while
 * masked the irqfd is deassigned, so signals accumulate in the eventfd's
 * count, and KVM injects on reassignment when the count is non-zero.
 */
static void pci_msix_update_vec(struct pci_dev *pdev, unsigned int v)
{
	struct pci_msix_vec *vec = &pdev->msix[v];
	uint16_t ctl = cfg_get16(pdev, pdev->msix_cap + PCI_MSIX_FLAGS);
	bool live = (ctl & PCI_MSIX_FLAGS_ENABLE) &&
		    !(ctl & PCI_MSIX_FLAGS_MASKALL) &&
		    !(vec->ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
	uint64_t addr;

	if (!live) {
		if (vec->irqfd && !vmm_irqfd(pdev->vm, vec->efd, vec->gsi, false))
			vec->irqfd = false;
		return;
	}
	if (vec->gsi < 0) {
		vec->gsi = vmm_msi_gsi_alloc(pdev->vm);
		if (vec->gsi < 0) {
			fprintf(stderr, "kvio-vmm: PCI %02x.%x: no GSI left for MSI-X vector %u\n",
				pdev->devfn >> 3, pdev->devfn & 7, v);
			return;
		}
	}
	addr = (uint64_t)vec->addr_hi << 32 | vec->addr_lo;
	/* Each route change commits KVM's whole table: only real changes. */
	if (!vec->routed || vec->route_addr != addr ||
	    vec->route_data != vec->data) {
		vec->routed = false;
		if (vmm_msi_gsi_set(pdev->vm, vec->gsi, addr, vec->data))
			return;
		vec->routed = true;
		vec->route_addr = addr;
		vec->route_data = vec->data;
	}
	if (!vec->irqfd && !vmm_irqfd(pdev->vm, vec->efd, vec->gsi, true))
		vec->irqfd = true;
}

static void pci_msix_update(struct pci_dev *pdev)
{
	unsigned int v;

	for (v = 0; v < pdev->msix_nvec; v++)
		pci_msix_update_vec(pdev, v);
}

static void pci_msix_table_io(struct pci_dev *pdev, uint64_t off, uint8_t *data,
			      uint32_t len, bool is_write)
{
	unsigned int v = off / PCI_MSIX_ENTRY_SIZE;
	unsigned int word = (off % PCI_MSIX_ENTRY_SIZE) / 4;
	struct pci_msix_vec *vec;
	uint32_t *field[4];
	uint32_t val;
	unsigned int i;

	/* Dword or aligned qword accesses only (PCI 3.0, 6.8.2). */
	if ((len != 4 && len != 8) || (off & (len - 1)) || v >= pdev->msix_nvec) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	vec = &pdev->msix[v];
	field[0] = &vec->addr_lo;
	field[1] = &vec->addr_hi;
	field[2] = &vec->data;
	field[3] = &vec->ctrl;

	for (i = 0; i < len / 4; i++, word++) {
		if (!is_write) {
			val = *field[word];
			memcpy(data + 4 * i, &val, 4);
			continue;
		}
		memcpy(&val, data + 4 * i, 4);
		if (word == 3)
			val &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
		if (word == 0)
			val &= ~3u;	/* dword-aligned message address */
		*field[word] = val;
	}
	if (is_write)
		pci_msix_update_vec(pdev, v);
}

static bool efd_pending(int efd)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void pci_msix_pba_io(struct pci_dev *pdev, uint64_t off, uint8_t *data,
			    uint32_t len, bool is_write)
{
	uint32_t i, bit;
	unsigned int v;

	if (is_write)
		return;
	memset(data, 0, len);
	/* A vector is pending while masked with its eventfd signalled. */
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			v = (off + i) * 8 + bit;
			if (v >= pdev->msix_nvec)
				return;
			if (!pdev->msix[v].irqfd && efd_pending(pdev->msix[v].efd))
				data[i] |= 1 << bit;
		}
	}
}

int pci_msix_efd(struct pci_dev *pdev, unsigned int vec)
{
	if (!pdev->msix || vec >= pdev->msix_nvec)
		return -1;
	return pdev->msix[vec].efd;
}

void pci_msix_notify(struct pci_dev *pdev, unsigned int vec)
{
	uint64_t one = 1;
	int efd = pci_msix_efd(pdev, vec);

	if (efd >= 0 && write(efd, &one, sizeof(one)) != sizeof(one))
		perror("kvio-vmm: MSI-X eventfd write");
}

/* ------------------------------------------------------------------- BARs */

static void pci_bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
		       bool is_write)
{
	struct pci_bar *bar = opaque;
	struct pci_dev *pdev = bar->pdev;
	int idx = bar - pdev->bar;

	pthread_mutex_lock(&pdev->lock);
	if (len == 0 || len > 8 || off >= bar->size || len > bar->size - off) {
		if (!is_write)
			memset(data, 0xff, len > 8 ? 8 : len);
	} else if (idx == pdev->msix_bar &&
		   ranges_overlap(off, len, pdev->msix_table_off,
				  16 * pdev->msix_nvec)) {
		/* One that starts before the table is no table access. */
		if (off < pdev->msix_table_off) {
			if (!is_write)
				memset(data, 0, len);
		} else {
			pci_msix_table_io(pdev, off - pdev->msix_table_off,
					  data, len, is_write);
		}
	} else if (idx == pdev->msix_bar &&
		   ranges_overlap(off, len, pdev->msix_pba_off,
				  8 * ((pdev->msix_nvec + 63) / 64))) {
		if (off < pdev->msix_pba_off) {
			if (!is_write)
				memset(data, 0, len);
		} else {
			pci_msix_pba_io(pdev, off - pdev->msix_pba_off, data,
					len, is_write);
		}
	} else if (bar->fn) {
		bar->fn(bar->opaque, off, data, len, is_write);
	} else if (!is_write) {
		memset(data, 0, len);
	}
	pthread_mutex_unlock(&pdev->lock);
}

static uint64_t pci_bar_addr(const struct pci_dev *pdev, int i)
{
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * i;

	return ((uint64_t)cfg_get32(pdev, off + 4) << 32 |
		cfg_get32(pdev, off)) & PCI_BASE_ADDRESS_MEM_MASK;
}

static void pci_bar_unmap(struct pci_dev *pdev, int i)
{
	struct pci_bar *bar = &pdev->bar[i];

	if (!bar->region)
		return;
	if (pdev->ops && pdev->ops->bar_map)
		pdev->ops->bar_map(pdev, i, bar->mapped, false);
	vmm_bus_unregister(pdev->vm, bar->region);
	bar->region = NULL;
	bar->mapped = 0;
}

/*
 * Make every BAR decode where its registers say, if memory decoding is on:
 * after a command or BAR write.  A BAR mid-probe (all ones), at 0, or on
 * top of another region simply does not decode.
 */
static void pci_update_mappings(struct pci_dev *pdev)
{
	bool mem = cfg_get16(pdev, PCI_COMMAND) & PCI_COMMAND_MEMORY;
	struct pci_bar *bar;
	uint64_t addr;
	int i;

	for (i = 0; i < PCI_NUM_BARS; i++) {
		bar = &pdev->bar[i];
		if (!bar->size)
			continue;
		addr = pci_bar_addr(pdev, i);
		if (!mem || !addr || addr > PCI_BAR_ADDR_LIMIT - bar->size) {
			pci_bar_unmap(pdev, i);
			continue;
		}
		if (bar->region && bar->mapped == addr)
			continue;
		pci_bar_unmap(pdev, i);
		bar->region = vmm_bus_register(pdev->vm, VMM_BUS_MMIO, addr,
					       bar->size, pci_bar_io, bar);
		if (!bar->region) {
			vmm_guest_msg("kvio-vmm: PCI %02x.%x: BAR%d %#llx overlaps, off\n",
				      pdev->devfn >> 3, pdev->devfn & 7, i,
				      (unsigned long long)addr);
			continue;
		}
		bar->mapped = addr;
		if (pdev->ops && pdev->ops->bar_map)
			pdev->ops->bar_map(pdev, i, addr, true);
	}
}

/* --------------------------------------------------------- config space */

static void pci_cfg_read(struct pci_dev *pdev, uint32_t off, uint32_t len,
			 uint8_t *data)
{
	memcpy(data, &pdev->cfg[off], len);
	if (pdev->ops && pdev->ops->cfg_read &&
	    ranges_overlap(off, len, pdev->cfg_hook_start,
			   pdev->cfg_hook_end - pdev->cfg_hook_start))
		pdev->ops->cfg_read(pdev, off, len, data);
}

static void pci_cfg_write(struct pci_dev *pdev, uint32_t off, uint32_t len,
			  const uint8_t *data)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		pdev->cfg[off + i] = (pdev->cfg[off + i] & ~pdev->wmask[off + i]) |
				     (data[i] & pdev->wmask[off + i]);

	if (ranges_overlap(off, len, PCI_COMMAND, 2) ||
	    ranges_overlap(off, len, PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS))
		pci_update_mappings(pdev);
	if (pdev->msix_cap &&
	    ranges_overlap(off, len, pdev->msix_cap + PCI_MSIX_FLAGS, 2))
		pci_msix_update(pdev);
	if (pdev->ops && pdev->ops->cfg_write &&
	    ranges_overlap(off, len, pdev->cfg_hook_start,
			   pdev->cfg_hook_end - pdev->cfg_hook_start))
		pdev->ops->cfg_write(pdev, off, len, data);
}

static void pci_addr_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
			bool is_write)
{
	uint32_t i;

	(void)opaque;
	pthread_mutex_lock(&bus.lock);
	if (is_write) {
		/*
		 * Only a dword at 0xcf8 is the address register; Linux's
		 * type-1 probe also writes a byte to 0xcfb, which goes
		 * nowhere, as on a PIIX.
		 */
		if (off == 0 && len == 4)
			memcpy(&bus.addr, data, 4);
	} else {
		for (i = 0; i < len; i++)
			data[i] = off + i < 4 ? bus.addr >> (8 * (off + i)) : 0xff;
	}
	pthread_mutex_unlock(&bus.lock);
}

static void pci_data_io(void *opaque, uint64_t port_off, uint8_t *data,
			uint32_t len, bool is_write)
{
	struct pci_dev *pdev = NULL;
	uint32_t addr, reg;

	(void)opaque;
	pthread_mutex_lock(&bus.lock);
	addr = bus.addr;
	/* Enabled, bus 0, function 0 of a populated slot. */
	if ((addr & 0x80000000u) && !((addr >> 16) & 0xff) &&
	    !((addr >> 8) & 7))
		pdev = bus.slot[(addr >> 11) & 0x1f];
	pthread_mutex_unlock(&bus.lock);

	reg = (addr & 0xfc) + port_off;
	if (!pdev || port_off >= 4 || len > 4 || port_off + len > 4) {
		if (!is_write)
			memset(data, 0xff, len > 4 ? 4 : len);
		return;
	}
	pthread_mutex_lock(&pdev->lock);
	if (is_write)
		pci_cfg_write(pdev, reg, len, data);
	else
		pci_cfg_read(pdev, reg, len, data);
	pthread_mutex_unlock(&pdev->lock);
}

/* -------------------------------------------------------------- the bus */

int pci_dev_add(struct pci_dev *pdev)
{
	int slot;

	pthread_mutex_lock(&bus.lock);
	for (slot = 0; slot < PCI_MAX_SLOTS && bus.slot[slot]; slot++)
		;
	if (slot == PCI_MAX_SLOTS) {
		pthread_mutex_unlock(&bus.lock);
		fprintf(stderr, "kvio-vmm: PCI: no free slot on bus 0\n");
		return -1;
	}
	pdev->devfn = slot << 3;
	bus.slot[slot] = pdev;
	pthread_mutex_unlock(&bus.lock);

	/* Firmware leaves assigned BARs decoding; the guest may still move them. */
	pthread_mutex_lock(&pdev->lock);
	if (pdev->bar[0].size || pdev->bar[2].size || pdev->bar[4].size)
		cfg_set16(pdev, PCI_COMMAND,
			  cfg_get16(pdev, PCI_COMMAND) | PCI_COMMAND_MEMORY);
	pci_update_mappings(pdev);
	pthread_mutex_unlock(&pdev->lock);
	return 0;
}

void pci_dev_remove(struct pci_dev *pdev)
{
	unsigned int v;
	int i;

	if (pdev->devfn >= 0) {
		pthread_mutex_lock(&bus.lock);
		bus.slot[pdev->devfn >> 3] = NULL;
		pthread_mutex_unlock(&bus.lock);
	}

	pthread_mutex_lock(&pdev->lock);
	for (i = 0; i < PCI_NUM_BARS; i++)
		pci_bar_unmap(pdev, i);
	for (v = 0; v < pdev->msix_nvec; v++) {
		if (pdev->msix[v].irqfd)
			vmm_irqfd(pdev->vm, pdev->msix[v].efd,
				  pdev->msix[v].gsi, false);
		close(pdev->msix[v].efd);
	}
	free(pdev->msix);
	pdev->msix = NULL;
	pdev->msix_nvec = 0;
	pdev->devfn = -1;
	pthread_mutex_unlock(&pdev->lock);
}

int pci_init(struct vmm *vm)
{
	bus.vm = vm;
	bus.addr = 0;
	bus.mmio_next = VMM_PCI_MMIO_BASE;

	bus.addr_region = vmm_bus_register(vm, VMM_BUS_PIO,
					   VMM_PORT_PCI_CONFIG_ADDR, 4,
					   pci_addr_io, NULL);
	bus.data_region = vmm_bus_register(vm, VMM_BUS_PIO,
					   VMM_PORT_PCI_CONFIG_DATA, 4,
					   pci_data_io, NULL);
	if (!bus.addr_region || !bus.data_region) {
		fprintf(stderr, "kvio-vmm: PCI: cannot register ports 0xcf8-0xcff\n");
		pci_exit(vm);
		return -1;
	}

	/* Linux's pci_sanity_check() wants a host bridge on bus 0. */
	pci_dev_init(&bus.host, vm, PCI_HOST_VENDOR, PCI_HOST_DEVICE,
		     PCI_CLASS_CODE_HOST_BRIDGE, 0, PCI_HOST_VENDOR, 0x1100);
	return pci_dev_add(&bus.host);
}

void pci_exit(struct vmm *vm)
{
	if (bus.host.devfn >= 0 && bus.host.vm)
		pci_dev_remove(&bus.host);
	if (bus.addr_region)
		vmm_bus_unregister(vm, bus.addr_region);
	if (bus.data_region)
		vmm_bus_unregister(vm, bus.data_region);
	bus.addr_region = NULL;
	bus.data_region = NULL;
}

void vmm_pci_info(struct vmm_pci_info *info)
{
	int slot;

	memset(info, 0, sizeof(*info));
	info->iommu_devfn = vmm_iommu_devfn();
	pthread_mutex_lock(&bus.lock);
	/* The host bridge is the ACPI root itself, not a device below it. */
	for (slot = 1; slot < PCI_MAX_SLOTS; slot++)
		if (bus.slot[slot])
			info->devfn[info->ndevs++] = slot << 3;
	pthread_mutex_unlock(&bus.lock);
}
