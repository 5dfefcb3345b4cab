/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvio-vmm: what the platform files (main.c, kvm.c, boot.c, serial.c,
 * acpi.c) share and the devices do not need.  vmm.h stays the devices'
 * whole view of the platform.
 */
#ifndef KVIO_VMM_PLATFORM_H
#define KVIO_VMM_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "vmm.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/*
 * Reserved pages below the IOAPIC for what VMX needs in guest-physical
 * space: the real-mode identity page table, then the 3-page TSS.  Reported
 * reserved in e820 with the rest of [VMM_IOAPIC_ADDR, 4 GiB).
 */
#define VMM_IDENTITY_MAP_ADDR	0xfeffc000ULL
#define VMM_TSS_ADDR		0xfeffd000ULL

/*
 * The "BIOS" reset entry point F000:FFF0, the last 16 bytes below 1 MiB:
 * the ACPI tables end before it.  See boot.c.
 */
#define VMM_RESET_STUB_ADDR	0xffff0ULL

/* The i8042 ports, the CMOS/RTC index and data ports. */
#define VMM_PORT_I8042_DATA	0x60
#define VMM_PORT_I8042_CMD	0x64
#define VMM_PORT_CMOS		0x70

/* Sleep control register (ACPI 6.x 4.8.3.7): SLP_TYP, SLP_EN. */
#define VMM_ACPI_SLP_TYP_SHIFT	2
#define VMM_ACPI_SLP_TYP_MASK	0x1c
#define VMM_ACPI_SLP_EN		0x20
#define VMM_ACPI_S5_TYP		5	/* the \_S5 package's SLP_TYPa */
#define VMM_ACPI_RESET_VALUE	0x1

struct vmm_vcpu {
	struct vmm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool started;
};

struct vmm_gsi_msi {
	bool used;			/* allocated */
	bool set;			/* has a message: routed */
	uint64_t addr;
	uint32_t data;
};

struct vmm_platform {
	struct vmm_vcpu vcpu[VMM_MAX_CPUS];
	int vcpu_mmap_size;
	int stopping;			/* atomic: vCPUs leave their loop */

	/* Bus regions by bus, a small list (a few dozen at most). */
	struct vmm_region *regions[2];

	/* MSI routes for GSIs VMM_GSI_MSI_BASE .. VMM_GSI_MAX - 1. */
	struct vmm_gsi_msi msi[VMM_GSI_MAX - VMM_GSI_MSI_BASE];

	bool debug;			/* KVIO_VMM_DEBUG set: notes on stderr */
};

/* kvm.c */
int vmm_kvm_open(struct vmm *vm);
int vmm_kvm_create_vm(struct vmm *vm);
int vmm_vcpus_create(struct vmm *vm);
int vmm_vcpu_setup_boot(struct vmm *vm, uint64_t entry, uint64_t boot_params);
int vmm_vcpus_start(struct vmm *vm);
void vmm_vcpus_stop(struct vmm *vm);
void vmm_vcpus_dump(struct vmm *vm);
void vmm_kvm_close(struct vmm *vm);
bool vmm_ended(struct vmm *vm);
/*
 * Notes on stderr with KVIO_VMM_DEBUG set: vmm_debug() for platform events,
 * vmm_debug_noisy() for what a guest may do at will (unclaimed I/O), a few
 * dozen of those at most.
 */
bool vmm_debug_on(struct vmm *vm, bool noisy);
#define vmm_debug_(vm, noisy, fmt, ...)					\
	do {								\
		if (vmm_debug_on(vm, noisy))				\
			fprintf(stderr, "kvio-vmm: debug: " fmt "\n",	\
				##__VA_ARGS__);				\
	} while (0)
#define vmm_debug(vm, fmt, ...) vmm_debug_(vm, false, fmt, ##__VA_ARGS__)
#define vmm_debug_noisy(vm, fmt, ...) vmm_debug_(vm, true, fmt, ##__VA_ARGS__)

/* boot.c */
struct vmm_boot {
	const char *kernel;
	const char *initrd;		/* NULL: none */
	const char *cmdline;
};

int vmm_boot_load(struct vmm *vm, const struct vmm_boot *boot);

/* serial.c: the 16550, the i8042 stub, the CMOS/RTC */
int vmm_serial_init(struct vmm *vm);
void vmm_serial_exit(struct vmm *vm);
int vmm_legacy_init(struct vmm *vm);

/* acpi.c: the tables, the sleep and reset registers */
int vmm_acpi_init(struct vmm *vm);
/* Writes the tables at VMM_ACPI_ADDR; returns the RSDP's address or 0. */
uint64_t vmm_acpi_build(struct vmm *vm);

#endif /* KVIO_VMM_PLATFORM_H */
