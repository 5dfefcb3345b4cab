/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvio-vmm: PCI bus 0 behind configuration mechanism #1, conventional
 * (256-byte) configuration spaces, 64-bit memory BARs and MSI-X.
 *
 * Locking: each function has its own lock, taken by every handler that
 * touches it (config space, its BARs); the BAR handlers a device supplies
 * and the bar_map hook run with it held.  The bus lock (pci.c) only guards
 * the configuration address register and the slot table; it is taken before
 * a function's lock, never after.
 */
#ifndef KVIO_VMM_PCI_H
#define KVIO_VMM_PCI_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include "vmm.h"

#define PCI_CFG_SIZE		256
#define PCI_NUM_BARS		6
#define PCI_MAX_SLOTS		32

/* Class codes (base, sub, prog-if): pci_ids.h is not uapi. */
#define PCI_CLASS_CODE_HOST_BRIDGE	0x060000
#define PCI_CLASS_CODE_STORAGE_SCSI	0x010000
#define PCI_CLASS_CODE_ETHERNET		0x020000

struct pci_dev;

struct pci_dev_ops {
	/*
	 * Memory decoding of @bar started at @addr (@on) or stopped there.
	 * The device moves what it registered in KVM at fixed offsets of the
	 * BAR (ioeventfds).
	 */
	void (*bar_map)(struct pci_dev *pdev, int bar, uint64_t addr, bool on);
	/*
	 * Config-space hooks for the device's own capabilities, called for
	 * accesses inside [cfg_hook_start, cfg_hook_end): read fills *val
	 * (already holding the stored bytes), write sees the bytes after they
	 * were stored.
	 */
	void (*cfg_read)(struct pci_dev *pdev, uint32_t off, uint32_t len,
			 uint8_t *data);
	void (*cfg_write)(struct pci_dev *pdev, uint32_t off, uint32_t len,
			  const uint8_t *data);
};

struct pci_bar {
	struct pci_dev *pdev;
	uint64_t size;			/* 0: no BAR here (or the upper half) */
	uint64_t mapped;		/* where it decodes now; valid if region */
	struct vmm_region *region;
	vmm_io_fn fn;			/* the device's handler, lock held */
	void *opaque;
};

struct pci_msix_vec {
	uint32_t addr_lo, addr_hi, data, ctrl;	/* the table entry */
	int efd;			/* what the device signals */
	int gsi;			/* KVM MSI route, -1 before the first use */
	bool routed;			/* gsi holds route_addr/data */
	uint64_t route_addr;
	uint32_t route_data;
	bool irqfd;			/* efd assigned to gsi */
};

struct pci_dev {
	struct vmm *vm;
	pthread_mutex_t lock;
	int devfn;			/* -1 until pci_dev_add() */
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];	/* bits the guest may write */
	uint8_t cap_last;		/* offset of the last capability, 0: none */
	uint8_t cap_free;		/* first free byte for a capability */
	struct pci_bar bar[PCI_NUM_BARS];
	const struct pci_dev_ops *ops;
	void *priv;
	uint32_t cfg_hook_start, cfg_hook_end;

	/* MSI-X: table and PBA in one BAR. */
	uint8_t msix_cap;		/* 0: none */
	int msix_bar;
	uint32_t msix_table_off, msix_pba_off;
	unsigned int msix_nvec;
	struct pci_msix_vec *msix;
};

/* The bus: ports 0xcf8-0xcff and the host bridge at 00:00.0. */
int pci_init(struct vmm *vm);
void pci_exit(struct vmm *vm);

/* A function, before pci_dev_add(): identity, capabilities, BARs, MSI-X. */
void pci_dev_init(struct pci_dev *pdev, struct vmm *vm, uint16_t vendor,
		  uint16_t device, uint32_t class, uint8_t revision,
		  uint16_t subsys_vendor, uint16_t subsys_id);
/*
 * Append a capability of @len bytes (the two header bytes included:
 * @body's first two bytes are overwritten with the ID and the link).
 * Returns its offset or -1 when the space is full.
 */
int pci_add_cap(struct pci_dev *pdev, uint8_t id, const void *body,
		uint8_t len);
/* A 64-bit memory BAR (@bar and @bar + 1) of @size bytes (a power of 2). */
int pci_add_bar64(struct pci_dev *pdev, int bar, uint64_t size, vmm_io_fn fn,
		  void *opaque);
/* @nvec vectors, table at @table_off and PBA at @pba_off of @bar. */
int pci_add_msix(struct pci_dev *pdev, unsigned int nvec, int bar,
		 uint32_t table_off, uint32_t pba_off);
/* Put the function on the bus (next free slot), BARs assigned and mapped. */
int pci_dev_add(struct pci_dev *pdev);
/* Take it off: BARs unmapped, irqfds deassigned, eventfds closed. */
void pci_dev_remove(struct pci_dev *pdev);

/* The eventfd of MSI-X vector @vec, -1 if there is none. */
int pci_msix_efd(struct pci_dev *pdev, unsigned int vec);
/* Signal vector @vec (delivered now, or when unmasked). */
void pci_msix_notify(struct pci_dev *pdev, unsigned int vec);

#endif /* KVIO_VMM_PCI_H */
