/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvio-vmm: a thin KVM VMM whose virtio devices are served by kvio's kernel
 * backends.  This header is the boundary between the platform (KVM, guest
 * memory, boot, serial, ACPI: kvm.c, boot.c, serial.c, acpi.c, main.c) and
 * the devices (PCI, virtio-pci, the kvio-backed devices: pci.c,
 * virtio-pci.c, vhost.c, blk.c, net.c).
 *
 * Threads: one per vCPU, plus the main thread, which waits for the end of
 * the guest (poweroff, reset, a signal) and tears down.  Exits (PIO, MMIO)
 * are dispatched on the vCPU thread that took them; every device handler
 * runs under the device's own lock.  Nothing of the data path runs here:
 * queue kicks are KVM ioeventfds read by the kvio device, interrupts KVM
 * irqfds it writes.
 */
#ifndef KVIO_VMM_H
#define KVIO_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <pthread.h>

/* Guest physical layout (x86-64). */
#define VMM_GDT_ADDR		0x500ULL
#define VMM_BOOT_PARAMS_ADDR	0x7000ULL	/* the zero page */
#define VMM_PML4_ADDR		0x9000ULL	/* boot page tables, 0x9000-0xefff */
#define VMM_CMDLINE_ADDR	0x20000ULL
#define VMM_CMDLINE_MAX		4096
#define VMM_LOW_RAM_END		0x9fc00ULL	/* RAM below the EBDA */
#define VMM_ACPI_ADDR		0xe0000ULL	/* RSDP and tables, to 0xfffff */
#define VMM_ACPI_END		0x100000ULL
#define VMM_KERNEL_ADDR		0x1000000ULL	/* 16 MiB: bzImage's protected-mode part */
#define VMM_MEM32_END		0xc0000000ULL	/* RAM below 4 GiB ends here at most */
#define VMM_PCI_MMIO_BASE	0xc0000000ULL	/* 32-bit BAR window */
#define VMM_PCI_MMIO_END	0xfebfffffULL	/* inclusive */
#define VMM_IOAPIC_ADDR		0xfec00000ULL
#define VMM_LAPIC_ADDR		0xfee00000ULL
#define VMM_HIGH_RAM_BASE	0x100000000ULL	/* RAM beyond VMM_MEM32_END goes here */
#define VMM_RAM_ALIGN		(2ULL << 20)	/* a huge page's */

/* Legacy ports. */
#define VMM_PORT_PCI_CONFIG_ADDR 0xcf8
#define VMM_PORT_PCI_CONFIG_DATA 0xcfc
#define VMM_PORT_COM1		0x3f8
#define VMM_IRQ_COM1		4
#define VMM_PORT_ACPI_SLEEP_CTL	0x600	/* hardware-reduced ACPI sleep control */
#define VMM_PORT_ACPI_SLEEP_STS	0x601
#define VMM_PORT_ACPI_RESET	0x602	/* FADT reset register, value 0x1 */

/* GSIs below this are the irqchip's pins; MSI routes are allocated above. */
#define VMM_GSI_MSI_BASE	24
#define VMM_GSI_MAX		1024

#define VMM_MAX_CPUS		64
#define VMM_MAX_VIRTIO		32	/* virtio functions (disks, NICs, vIOMMU) */

/* How the guest ended; main() exits with this status. */
enum vmm_exit {
	VMM_EXIT_RUNNING = -1,
	VMM_EXIT_POWEROFF = 0,	/* ACPI S5 */
	VMM_EXIT_ERROR = 1,	/* bad argument, set-up failure, KVM error */
	VMM_EXIT_RESET = 2,	/* reboot, triple fault: a panic with panic=-1 */
	VMM_EXIT_PANIC = 3,	/* KVM_SYSTEM_EVENT_CRASH */
	/* 128 + N: the VMM got signal N (SIGINT, SIGTERM, SIGHUP). */
};

enum vmm_bus { VMM_BUS_PIO, VMM_BUS_MMIO };

/*
 * An I/O handler.  @offset is relative to the region's base; @data holds
 * @len bytes (1, 2, 4 or 8), little endian, to write or to fill.
 */
typedef void (*vmm_io_fn)(void *opaque, uint64_t offset, uint8_t *data,
			  uint32_t len, bool is_write);

struct vmm_region;
struct vmm_platform;

struct vmm {
	int kvm_fd;
	int vm_fd;
	int ncpus;
	uint64_t ram_size;		/* total guest RAM, bytes */
	uint8_t *ram;			/* anonymous, VMM_RAM_ALIGN aligned */
	/*
	 * The guest-physical ranges of RAM and where they are in ram[]:
	 * [0, low_size) and, if ram_size > VMM_MEM32_END,
	 * [VMM_HIGH_RAM_BASE, VMM_HIGH_RAM_BASE + ram_size - low_size).
	 */
	uint64_t low_size;

	pthread_mutex_t lock;		/* the bus, the GSI table, exit_status */
	int exit_status;		/* enum vmm_exit or 128 + signal */
	int exit_fd;			/* eventfd: written once the guest ended */

	struct vmm_platform *plat;	/* the platform's own state */
};

/* Guest memory. */
void *vmm_gpa(struct vmm *vm, uint64_t gpa, uint64_t len);	/* NULL if not all RAM */

/*
 * The I/O buses (regions may not overlap; re-register to move one).
 * register returns NULL if [base, base + len) overlaps a region or wraps.
 * A handler may register, unregister (even its own region) and set up
 * ioeventfds: no bus lock is held while it runs.  So a call that started
 * before unregister may still be running, or about to run, on another vCPU
 * when unregister returns: @opaque must stay valid until
 * vmm_devices_destroy(), which runs after every vCPU stopped.
 */
struct vmm_region *vmm_bus_register(struct vmm *vm, enum vmm_bus bus,
				    uint64_t base, uint64_t len,
				    vmm_io_fn fn, void *opaque);
void vmm_bus_unregister(struct vmm *vm, struct vmm_region *r);

/* Interrupts. */
void vmm_irq_line(struct vmm *vm, int irq, int level);	/* irqchip pin */
int vmm_msi_gsi_alloc(struct vmm *vm);			/* -1: none left */
/* Point @gsi at an MSI message; commits KVM's routing table. */
int vmm_msi_gsi_set(struct vmm *vm, int gsi, uint64_t addr, uint32_t data);
int vmm_irqfd(struct vmm *vm, int efd, int gsi, bool assign);
/* KVM ioeventfd on an MMIO (@pio false) or port address, no datamatch. */
int vmm_ioeventfd(struct vmm *vm, uint64_t addr, uint32_t len, int efd,
		  bool pio, bool assign);

/*
 * A message on stderr that a guest can cause at will (a bad ring address, a
 * device that failed to start, a BAR moved onto another): the first
 * VMM_GUEST_MSG_MAX are printed, then one line saying the rest are not, so
 * a guest cannot fill the log.
 */
#define VMM_GUEST_MSG_MAX	64
void vmm_guest_msg(const char *fmt, ...);

/* End the guest: the first caller's status wins; wakes the main thread. */
void vmm_request_exit(struct vmm *vm, int status);

/*
 * The devices' side.  The platform calls these; they are defined in
 * pci.c / virtio-pci.c / blk.c / net.c.
 */
struct vmm_dev_opts;

/*
 * Parse "--disk SPEC" / "--net SPEC" / "--iommu"; 0 or -1 with a message
 * on stderr ("kvio-vmm: --disk ...: why"). Called before the VM exists.
 */
int vmm_disk_parse(const char *spec);
int vmm_net_parse(const char *spec);
void vmm_iommu_enable(void);
/* The virtio-iommu's devfn on bus 0, -1 when there is none. */
int vmm_iommu_devfn(void);

/* Create every parsed device on the VM (PCI functions on bus 0). */
int vmm_devices_create(struct vmm *vm);
/* Release every fd, eventfd, kvio attachment; called once, after the vCPUs stopped. */
void vmm_devices_destroy(struct vmm *vm);
/*
 * On stderr, every virtio function's status and each enabled queue's ring
 * indices and event fields as the guest's memory holds them now (SIGUSR2:
 * for a guest that stopped answering).
 */
void vmm_devices_dump(struct vmm *vm);
/*
 * The eventfd a kvio device signals when it stops a ring the guest
 * malformed (VHOST_SET_VRING_ERR), one per queue of every function: up to
 * @max of them into @pfd (POLLIN); how many.  vmm_ring_errors_report()
 * reads those that fired and names each queue on stderr.
 */
unsigned int vmm_ring_error_fds(struct pollfd *pfd, unsigned int max);
void vmm_ring_errors_report(void);

/* What ACPI describes: the PCI functions, by devfn, and the vIOMMU. */
struct vmm_pci_info {
	int ndevs;
	uint8_t devfn[32];
	int iommu_devfn;	/* the virtio-iommu's devfn, -1 without --iommu */
};

void vmm_pci_info(struct vmm_pci_info *info);

#endif /* KVIO_VMM_H */
