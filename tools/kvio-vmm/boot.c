// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio-vmm: loading a bzImage by the Linux x86 64-bit boot protocol
 * (Documentation/x86/boot.rst): the protected-mode kernel at
 * VMM_KERNEL_ADDR, the zero page with the setup header, the e820 map,
 * command line and initrd, identity-mapped page tables and a GDT, and
 * vCPU 0 in long mode at the 64-bit entry point.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <asm/bootparam.h>

#include "platform.h"

#define SETUP_HDR_OFF		0x1f1
#define SETUP_HDR_MAGIC		0x53726448	/* "HdrS" */
#define SETUP_BOOT_FLAG		0xaa55
#define BOOT_PROTO_MIN		0x020c		/* 2.12: xloadflags */
#define BOOT_PROTO_RSDP		0x020e		/* 2.14: acpi_rsdp_addr */
#define KERNEL_FILE_MAX		(256ULL << 20)

#define E820_RAM		1
#define E820_RESERVED		2

/* Page tables: PML4, one PDPT, four PDs of 2 MiB pages = 4 GiB. */
#define PDPT_ADDR		(VMM_PML4_ADDR + 0x1000)
#define PD_ADDR			(VMM_PML4_ADDR + 0x2000)
#define PD_COUNT		4
#define PTE_P			0x1ULL
#define PTE_RW			0x2ULL
#define PTE_PS			0x80ULL

#define PAGE_SIZE		0x1000ULL

static int read_all(int fd, void *buf, uint64_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = read(fd, p, len > (1 << 30) ? (1 << 30) : len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

/* Opens a regular file and gives its size; a message on failure. */
static int open_file(const char *what, const char *path, uint64_t *size)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "kvio-vmm: %s %s: %s\n", what, path,
			strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "kvio-vmm: %s %s: not a regular file\n", what,
			path);
		close(fd);
		return -1;
	}
	*size = st.st_size;
	return fd;
}

static void e820_add(struct boot_params *bp, uint64_t addr, uint64_t size,
		     uint32_t type)
{
	struct boot_e820_entry *e;

	if (!size || bp->e820_entries >= E820_MAX_ENTRIES_ZEROPAGE)
		return;
	e = &bp->e820_table[bp->e820_entries++];
	e->addr = addr;
	e->size = size;
	e->type = type;
}

static void setup_e820(struct vmm *vm, struct boot_params *bp)
{
	/*
	 * Low RAM up to the EBDA: the SMP trampoline must be allocated below
	 * 1 MiB.  0x9fc00-1 MiB holds the ACPI tables (0xe0000-0xfffff).
	 */
	e820_add(bp, 0, VMM_LOW_RAM_END, E820_RAM);
	e820_add(bp, VMM_LOW_RAM_END, VMM_ACPI_END - VMM_LOW_RAM_END,
		 E820_RESERVED);
	e820_add(bp, VMM_ACPI_END, vm->low_size - VMM_ACPI_END, E820_RAM);
	/* IOAPIC, LAPIC, the VMX identity map and TSS pages: up to 4 GiB. */
	e820_add(bp, VMM_IOAPIC_ADDR, VMM_HIGH_RAM_BASE - VMM_IOAPIC_ADDR,
		 E820_RESERVED);
	if (vm->ram_size > vm->low_size)
		e820_add(bp, VMM_HIGH_RAM_BASE, vm->ram_size - vm->low_size,
			 E820_RAM);
}

static void setup_paging(struct vmm *vm)
{
	uint64_t *pml4 = vmm_gpa(vm, VMM_PML4_ADDR, PAGE_SIZE);
	uint64_t *pdpt = vmm_gpa(vm, PDPT_ADDR, PAGE_SIZE);
	uint64_t *pd = vmm_gpa(vm, PD_ADDR, PD_COUNT * PAGE_SIZE);
	uint64_t i;

	memset(pml4, 0, PAGE_SIZE);
	memset(pdpt, 0, PAGE_SIZE);
	pml4[0] = PDPT_ADDR | PTE_P | PTE_RW;
	for (i = 0; i < PD_COUNT; i++)
		pdpt[i] = (PD_ADDR + i * PAGE_SIZE) | PTE_P | PTE_RW;
	for (i = 0; i < PD_COUNT * 512; i++)
		pd[i] = i << 21 | PTE_P | PTE_RW | PTE_PS;
}

/*
 * Linux reboots a hardware-reduced ACPI machine through EFI and, without
 * EFI, through the BIOS: it drops to real mode and jumps to F000:FFF0
 * (native_machine_emergency_restart(): BOOT_EFI then BOOT_BIOS; the ACPI
 * reset register and the i8042 come first only with reboot=acpi or
 * reboot=kbd).
 * There is no firmware here, so the entry point pulses the i8042's reset
 * line, which ends the guest with VMM_EXIT_RESET.
 */
static void setup_reset_stub(struct vmm *vm)
{
	static const uint8_t stub[] = {
		0xb0, 0xfe,		/* mov $0xfe, %al */
		0xe6, 0x64,		/* 1: out %al, $0x64 */
		0xf4,			/* hlt */
		0xeb, 0xfb,		/* jmp 1b */
	};

	memcpy(vmm_gpa(vm, VMM_RESET_STUB_ADDR, sizeof(stub)), stub,
	       sizeof(stub));
}

static void setup_gdt(struct vmm *vm)
{
	uint64_t *gdt = vmm_gpa(vm, VMM_GDT_ADDR, 4 * 8);

	gdt[0] = 0;
	gdt[1] = 0;
	gdt[2] = 0x00af9b000000ffffULL;	/* __BOOT_CS: 64-bit code, flat */
	gdt[3] = 0x00cf93000000ffffULL;	/* __BOOT_DS: data, 4 GiB flat */
}

/* Checks the setup header; fills *load with where the kernel goes. */
static int check_header(struct vmm *vm, const struct setup_header *h,
			uint64_t file_size, uint64_t *load)
{
	uint64_t setup_size, align, need;

	if (h->boot_flag != SETUP_BOOT_FLAG || h->header != SETUP_HDR_MAGIC) {
		fprintf(stderr, "kvio-vmm: --kernel: not a bzImage (no HdrS setup header)\n");
		return -1;
	}
	if (h->version < BOOT_PROTO_MIN) {
		fprintf(stderr, "kvio-vmm: --kernel: boot protocol %u.%02u, want 2.12 or later\n",
			h->version >> 8, h->version & 0xff);
		return -1;
	}
	if (!(h->xloadflags & XLF_KERNEL_64) || !(h->loadflags & LOADED_HIGH)) {
		fprintf(stderr, "kvio-vmm: --kernel: no 64-bit entry point\n");
		return -1;
	}
	setup_size = ((uint64_t)(h->setup_sects ? h->setup_sects : 4) + 1) * 512;
	if (setup_size >= file_size) {
		fprintf(stderr, "kvio-vmm: --kernel: truncated bzImage\n");
		return -1;
	}
	if (h->relocatable_kernel) {
		align = h->kernel_alignment;
		if (!align || (align & (align - 1)))
			align = 2 << 20;
		*load = (VMM_KERNEL_ADDR + align - 1) & ~(align - 1);
	} else {
		*load = h->pref_address;
	}
	need = file_size - setup_size;
	if (need < h->init_size)
		need = h->init_size;
	if (*load < VMM_ACPI_END || *load > vm->low_size ||
	    need > vm->low_size - *load) {
		fprintf(stderr, "kvio-vmm: --kernel: needs %llu MiB at %#llx: --mem too small\n",
			(unsigned long long)(need >> 20),
			(unsigned long long)*load);
		return -1;
	}
	return 0;
}

static int load_initrd(struct vmm *vm, const char *path,
		       struct boot_params *bp, uint64_t kernel_end)
{
	uint64_t size, top, addr;
	void *dst;
	int fd, err;

	fd = open_file("--initrd", path, &size);
	if (fd < 0)
		return -1;
	/* initrd_addr_max is the last byte the initrd may use. */
	top = (uint64_t)bp->hdr.initrd_addr_max + 1;
	if (top > vm->low_size)
		top = vm->low_size;
	addr = size <= top ? (top - size) & ~(PAGE_SIZE - 1) : 0;
	if (!size || size > top || addr < kernel_end) {
		fprintf(stderr, "kvio-vmm: --initrd %s: %llu bytes do not fit below %#llx\n",
			path, (unsigned long long)size,
			(unsigned long long)top);
		close(fd);
		return -1;
	}
	dst = vmm_gpa(vm, addr, size);
	err = dst ? read_all(fd, dst, size) : -EFAULT;
	close(fd);
	if (err) {
		fprintf(stderr, "kvio-vmm: --initrd %s: %s\n", path,
			strerror(-err));
		return -1;
	}
	bp->hdr.ramdisk_image = addr;
	bp->hdr.ramdisk_size = size;
	return 0;
}

int vmm_boot_load(struct vmm *vm, const struct vmm_boot *boot)
{
	uint64_t size, setup_size, load, kernel_end, rsdp, hdr_end;
	struct boot_params *bp;
	struct setup_header h;
	size_t cmdlen;
	uint8_t *img;
	int fd, err;

	fd = open_file("--kernel", boot->kernel, &size);
	if (fd < 0)
		return -1;
	if (size < 0x1000 || size > KERNEL_FILE_MAX) {
		fprintf(stderr, "kvio-vmm: --kernel %s: not a bzImage (size %llu)\n",
			boot->kernel, (unsigned long long)size);
		close(fd);
		return -1;
	}
	img = malloc(size);
	err = img ? read_all(fd, img, size) : -ENOMEM;
	close(fd);
	if (err) {
		fprintf(stderr, "kvio-vmm: --kernel %s: %s\n", boot->kernel,
			strerror(-err));
		free(img);
		return -1;
	}
	memcpy(&h, img + SETUP_HDR_OFF, sizeof(h));
	if (check_header(vm, &h, size, &load))
		goto err;
	setup_size = ((uint64_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512;
	memcpy(vmm_gpa(vm, load, size - setup_size), img + setup_size,
	       size - setup_size);
	kernel_end = load + (size - setup_size > h.init_size ?
			     size - setup_size : h.init_size);

	/*
	 * The zero page: all zero but the setup header, copied as far as
	 * the kernel says it goes (0x202 + the byte at 0x201).
	 */
	bp = vmm_gpa(vm, VMM_BOOT_PARAMS_ADDR, sizeof(*bp));
	memset(bp, 0, sizeof(*bp));
	hdr_end = 0x202 + img[0x201];
	if (hdr_end > SETUP_HDR_OFF + sizeof(bp->hdr))
		hdr_end = SETUP_HDR_OFF + sizeof(bp->hdr);
	memcpy(&bp->hdr, img + SETUP_HDR_OFF, hdr_end - SETUP_HDR_OFF);
	free(img);
	img = NULL;

	bp->hdr.type_of_loader = 0xff;		/* undefined loader */
	bp->hdr.code32_start = load;

	cmdlen = strlen(boot->cmdline);
	if (cmdlen >= VMM_CMDLINE_MAX ||
	    (bp->hdr.cmdline_size && cmdlen > bp->hdr.cmdline_size)) {
		fprintf(stderr, "kvio-vmm: --cmdline: %zu bytes, the kernel takes %u\n",
			cmdlen, bp->hdr.cmdline_size);
		return -1;
	}
	memcpy(vmm_gpa(vm, VMM_CMDLINE_ADDR, cmdlen + 1), boot->cmdline,
	       cmdlen + 1);
	bp->hdr.cmd_line_ptr = VMM_CMDLINE_ADDR;

	if (boot->initrd && load_initrd(vm, boot->initrd, bp, kernel_end))
		return -1;

	setup_e820(vm, bp);
	rsdp = vmm_acpi_build(vm);
	if (!rsdp)
		return -1;
	/* Older kernels find the RSDP by scanning 0xe0000-0xfffff. */
	if (bp->hdr.version >= BOOT_PROTO_RSDP)
		bp->acpi_rsdp_addr = rsdp;

	setup_paging(vm);
	setup_gdt(vm);
	setup_reset_stub(vm);
	return vmm_vcpu_setup_boot(vm, load + 0x200, VMM_BOOT_PARAMS_ADDR);
err:
	free(img);
	return -1;
}
