// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio-vmm: ACPI (6.x).  The platform is hardware-reduced: no PM1 blocks,
 * no SCI, no FACS, no 8259 (Linux then uses none of them); poweroff is the
 * sleep control register, reset the FADT reset register, both ports that
 * this file also serves.  The tables, from VMM_ACPI_ADDR on:
 *
 *   RSDP (revision 2) -> XSDT -> FADT -> DSDT
 *                             -> MADT
 *                             -> VIOT (only with a virtio-iommu)
 *
 * The DSDT is AML built by the small encoder below: \_S5, the PCI host
 * bridge \_SB.PCI0 with its windows, and COM1 (Linux maps the ISA IRQ of
 * a hardware-reduced machine only for a device that ACPI describes).
 * Another table is one more builder called from vmm_acpi_build().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

#define ACPI_OEM_ID		"KVIO  "
#define ACPI_OEM_TABLE_ID	"KVIOVMM "
#define ACPI_CREATOR_ID		"KVIO"
#define ACPI_HDR_SIZE		36

/* FADT (ACPI 6.x 5.2.9): byte offsets, flags. */
#define FADT_SIZE		276
#define FADT_DSDT		40
#define FADT_IAPC_BOOT_ARCH	109
#define FADT_FLAGS		112
#define FADT_RESET_REG		116
#define FADT_RESET_VALUE	128
#define FADT_MINOR_REVISION	131
#define FADT_X_DSDT		140
#define FADT_SLEEP_CONTROL	244
#define FADT_SLEEP_STATUS	256
#define FADT_HYPERVISOR_ID	268

#define FADT_F_WBINVD		(1U << 0)
#define FADT_F_PWR_BUTTON	(1U << 4)	/* no fixed power button */
#define FADT_F_SLP_BUTTON	(1U << 5)	/* no fixed sleep button */
#define FADT_F_RESET_REG_SUP	(1U << 10)
#define FADT_F_HW_REDUCED_ACPI	(1U << 20)

#define IAPC_NO_VGA		(1U << 2)
#define IAPC_NO_ASPM		(1U << 4)
#define IAPC_NO_CMOS_RTC	(1U << 5)

#define GAS_SYSTEM_IO		1
#define GAS_ACCESS_BYTE		1

/* MADT (5.2.12) */
#define MADT_LOCAL_APIC		0
#define MADT_IO_APIC		1
#define MADT_INT_OVERRIDE	2
#define MADT_LOCAL_APIC_NMI	4
#define MADT_LAPIC_ENABLED	1

/* VIOT (virtio-iommu spec / ACPI VIOT) */
#define VIOT_NODE_PCI_RANGE	1
#define VIOT_NODE_VIRTIO_IOMMU_PCI 3
#define VIOT_HDR_SIZE		48

/* A growable byte string: a table or a piece of AML. */
struct bytes {
	uint8_t *b;
	size_t len, cap;
	bool err;
};

static void put(struct bytes *s, const void *p, size_t n)
{
	size_t cap;
	uint8_t *nb;

	if (s->err)
		return;
	if (s->len + n > s->cap) {
		cap = s->cap ? s->cap * 2 : 256;
		while (cap < s->len + n)
			cap *= 2;
		nb = realloc(s->b, cap);
		if (!nb) {
			s->err = true;
			return;
		}
		s->b = nb;
		s->cap = cap;
	}
	memcpy(s->b + s->len, p, n);
	s->len += n;
}

static void put8(struct bytes *s, uint8_t v)
{
	put(s, &v, 1);
}

static void put16(struct bytes *s, uint16_t v)
{
	uint8_t b[2] = { v, v >> 8 };

	put(s, b, 2);
}

static void put32(struct bytes *s, uint32_t v)
{
	put16(s, v);
	put16(s, v >> 16);
}

static void put64(struct bytes *s, uint64_t v)
{
	put32(s, v);
	put32(s, v >> 32);
}

static void set16(struct bytes *s, size_t off, uint16_t v)
{
	if (!s->err && off + 2 <= s->len) {
		s->b[off] = v;
		s->b[off + 1] = v >> 8;
	}
}

static void set32(struct bytes *s, size_t off, uint32_t v)
{
	set16(s, off, v);
	set16(s, off + 2, v >> 16);
}

static void set64(struct bytes *s, size_t off, uint64_t v)
{
	set32(s, off, v);
	set32(s, off + 4, v >> 32);
}

static void zeros(struct bytes *s, size_t n)
{
	while (n--)
		put8(s, 0);
}

static void bytes_free(struct bytes *s)
{
	free(s->b);
	memset(s, 0, sizeof(*s));
}

/* AML (ACPI 6.x chapter 20) */

#define AML_ZERO		0x00
#define AML_ONE			0x01
#define AML_NAME		0x08
#define AML_BYTE_PREFIX		0x0a
#define AML_WORD_PREFIX		0x0b
#define AML_DWORD_PREFIX	0x0c
#define AML_QWORD_PREFIX	0x0e
#define AML_SCOPE		0x10
#define AML_BUFFER		0x11
#define AML_PACKAGE		0x12
#define AML_EXT_PREFIX		0x5b
#define AML_DEVICE		0x82	/* after AML_EXT_PREFIX */
#define AML_ROOT_CHAR		'\\'

static void aml_int(struct bytes *s, uint64_t v)
{
	if (v == 0) {
		put8(s, AML_ZERO);
	} else if (v == 1) {
		put8(s, AML_ONE);
	} else if (v <= 0xff) {
		put8(s, AML_BYTE_PREFIX);
		put8(s, v);
	} else if (v <= 0xffff) {
		put8(s, AML_WORD_PREFIX);
		put16(s, v);
	} else if (v <= 0xffffffff) {
		put8(s, AML_DWORD_PREFIX);
		put32(s, v);
	} else {
		put8(s, AML_QWORD_PREFIX);
		put64(s, v);
	}
}

/* A NameString: "\\NAME" or "NAME", segments of four, '_' padded. */
static void aml_namestring(struct bytes *s, const char *name)
{
	char seg[4];
	size_t i;

	if (*name == AML_ROOT_CHAR)
		put8(s, *name++);
	for (i = 0; i < 4; i++)
		seg[i] = *name ? *name++ : '_';
	put(s, seg, 4);
}

/* PkgLength (20.2.4): counts itself, not the opcode before it. */
static void aml_pkglength(struct bytes *s, size_t body)
{
	size_t n;

	if (body + 1 <= 0x3f) {
		put8(s, body + 1);
		return;
	}
	for (n = 2; n < 4; n++) {
		if (body + n < 1UL << (4 + 8 * (n - 1)))
			break;
	}
	body += n;
	put8(s, (n - 1) << 6 | (body & 0xf));
	body >>= 4;
	while (--n) {
		put8(s, body & 0xff);
		body >>= 8;
	}
}

/* @op (one byte, or AML_EXT_PREFIX << 8 | op) PkgLength @body. */
static void aml_pkg(struct bytes *s, uint16_t op, struct bytes *body)
{
	if (body->err)
		s->err = true;
	if (op >> 8)
		put8(s, op >> 8);
	put8(s, op);
	aml_pkglength(s, body->len);
	put(s, body->b, body->len);
	bytes_free(body);
}

/* Name(@name, @value): the value already encoded in @value. */
static void aml_name(struct bytes *s, const char *name, struct bytes *value)
{
	put8(s, AML_NAME);
	aml_namestring(s, name);
	if (value->err)
		s->err = true;
	put(s, value->b, value->len);
	bytes_free(value);
}

static void aml_name_int(struct bytes *s, const char *name, uint64_t v)
{
	struct bytes val = { 0 };

	aml_int(&val, v);
	aml_name(s, name, &val);
}

/* EISAID("PNP0A03"): three letters in 5 bits each, then four hex digits. */
static uint32_t eisaid(const char *id)
{
	uint16_t mfg = (id[0] & 0x1f) << 10 | (id[1] & 0x1f) << 5 |
		       (id[2] & 0x1f);
	uint16_t prod = (uint16_t)strtoul(id + 3, NULL, 16);

	/* Stored big-endian, read as a little-endian DWORD. */
	return (mfg >> 8) | (mfg & 0xff) << 8 | (prod >> 8) << 16 |
	       (uint32_t)(prod & 0xff) << 24;
}

/* Name(@name, ResourceTemplate() { @res }): a Buffer with an end tag. */
static void aml_name_crs(struct bytes *s, const char *name, struct bytes *res)
{
	struct bytes buf = { 0 }, val = { 0 };

	put8(res, 0x79);		/* End Tag, checksum 0: "ignore" */
	put8(res, 0);
	aml_int(&buf, res->len);
	if (res->err)
		buf.err = true;
	put(&buf, res->b, res->len);
	bytes_free(res);
	aml_pkg(&val, AML_BUFFER, &buf);
	aml_name(s, name, &val);
}

/* Resource descriptors (6.4) */

#define RES_TYPE_MEM		0
#define RES_TYPE_IO		1
#define RES_TYPE_BUS		2
#define RES_MIN_MAX_FIXED	0x0c	/* _MIF, _MAF; producer, positive */

static void res_word(struct bytes *s, uint8_t type, uint8_t type_flags,
		     uint16_t min, uint16_t max)
{
	put8(s, 0x88);			/* Word Address Space Descriptor */
	put16(s, 13);
	put8(s, type);
	put8(s, RES_MIN_MAX_FIXED);
	put8(s, type_flags);
	put16(s, 0);			/* granularity */
	put16(s, min);
	put16(s, max);
	put16(s, 0);			/* translation */
	put16(s, max - min + 1);
}

static void res_dword_mem(struct bytes *s, uint32_t min, uint32_t max)
{
	put8(s, 0x87);			/* DWord Address Space Descriptor */
	put16(s, 23);
	put8(s, RES_TYPE_MEM);
	put8(s, RES_MIN_MAX_FIXED);
	put8(s, 0x01);			/* read/write, non-cacheable */
	put32(s, 0);
	put32(s, min);
	put32(s, max);
	put32(s, 0);
	put32(s, max - min + 1);
}

static void res_io(struct bytes *s, uint16_t base, uint8_t len)
{
	put8(s, 0x47);			/* I/O Port Descriptor */
	put8(s, 0x01);			/* 16-bit decode */
	put16(s, base);
	put16(s, base);
	put8(s, 0);			/* alignment */
	put8(s, len);
}

/* IRQ(Level, ActiveHigh, Exclusive): the 16550 model holds its line. */
static void res_irq_level(struct bytes *s, unsigned int irq)
{
	put8(s, 0x23);			/* IRQ Descriptor with flags */
	put16(s, 1U << irq);
	put8(s, 0x00);			/* level, active high, exclusive */
}

/* Tables */

static void table_begin(struct bytes *t, const char *sig, uint8_t rev)
{
	put(t, sig, 4);
	put32(t, 0);			/* length, at the end */
	put8(t, rev);
	put8(t, 0);			/* checksum, at the end */
	put(t, ACPI_OEM_ID, 6);
	put(t, ACPI_OEM_TABLE_ID, 8);
	put32(t, 1);			/* OEM revision */
	put(t, ACPI_CREATOR_ID, 4);
	put32(t, 1);			/* creator revision */
}

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	while (n--)
		sum += *p++;
	return -sum;
}

/* Where the tables go in guest memory. */
struct acpi_area {
	struct vmm *vm;
	uint64_t next;			/* guest-physical */
};

/* Copies @t (length and checksum filled in) to the area: its address. */
static uint64_t table_install(struct acpi_area *a, struct bytes *t)
{
	uint64_t addr = (a->next + 15) & ~15ULL;
	uint8_t *dst;

	if (t->err || t->len > VMM_RESET_STUB_ADDR ||
	    addr > VMM_RESET_STUB_ADDR - t->len) {
		fprintf(stderr, "kvio-vmm: ACPI tables do not fit in %#llx-%#llx\n",
			VMM_ACPI_ADDR, VMM_RESET_STUB_ADDR - 1);
		bytes_free(t);
		return 0;
	}
	set32(t, 4, t->len);
	t->b[9] = checksum(t->b, t->len);
	dst = vmm_gpa(a->vm, addr, t->len);
	memcpy(dst, t->b, t->len);
	a->next = addr + t->len;
	bytes_free(t);
	return addr;
}

static void gas_io8(struct bytes *t, size_t off, uint16_t port)
{
	t->b[off] = GAS_SYSTEM_IO;
	t->b[off + 1] = 8;		/* bit width */
	t->b[off + 2] = 0;		/* bit offset */
	t->b[off + 3] = GAS_ACCESS_BYTE;
	set64(t, off + 4, port);
}

static uint64_t build_dsdt(struct acpi_area *a)
{
	struct bytes t = { 0 }, sb = { 0 }, dev = { 0 }, res = { 0 };
	struct bytes pkg = { 0 }, val = { 0 };

	table_begin(&t, "DSDT", 2);	/* 2: 64-bit integers */

	/* \_S5: SLP_TYPa, SLP_TYPb, reserved, reserved. */
	put8(&pkg, 4);
	aml_int(&pkg, VMM_ACPI_S5_TYP);
	aml_int(&pkg, 0);
	aml_int(&pkg, 0);
	aml_int(&pkg, 0);
	aml_pkg(&val, AML_PACKAGE, &pkg);
	aml_name(&t, "_S5_", &val);

	aml_namestring(&dev, "PCI0");
	aml_name_int(&dev, "_HID", eisaid("PNP0A08"));
	aml_name_int(&dev, "_CID", eisaid("PNP0A03"));
	aml_name_int(&dev, "_SEG", 0);
	aml_name_int(&dev, "_BBN", 0);
	aml_name_int(&dev, "_UID", 0);
	res_word(&res, RES_TYPE_BUS, 0, 0x00, 0xff);
	/* I/O: all but the configuration mechanism's 0xcf8-0xcff. */
	res_word(&res, RES_TYPE_IO, 0x03, 0x0000, 0x0cf7);
	res_word(&res, RES_TYPE_IO, 0x03, 0x0d00, 0xffff);
	res_dword_mem(&res, VMM_PCI_MMIO_BASE, VMM_PCI_MMIO_END);
	aml_name_crs(&dev, "_CRS", &res);
	aml_pkg(&sb, AML_EXT_PREFIX << 8 | AML_DEVICE, &dev);

	aml_namestring(&dev, "COM1");
	aml_name_int(&dev, "_HID", eisaid("PNP0501"));
	aml_name_int(&dev, "_UID", 1);
	res_io(&res, VMM_PORT_COM1, 8);
	res_irq_level(&res, VMM_IRQ_COM1);
	aml_name_crs(&dev, "_CRS", &res);
	aml_pkg(&sb, AML_EXT_PREFIX << 8 | AML_DEVICE, &dev);

	/* Scope(\_SB) { the devices }: the name goes first in the body. */
	aml_namestring(&dev, "\\_SB_");
	put(&dev, sb.b, sb.len);
	if (sb.err)
		dev.err = true;
	bytes_free(&sb);
	aml_pkg(&t, AML_SCOPE, &dev);
	return table_install(a, &t);
}

static uint64_t build_fadt(struct acpi_area *a, uint64_t dsdt)
{
	struct bytes t = { 0 };

	table_begin(&t, "FACP", 6);
	zeros(&t, FADT_SIZE - ACPI_HDR_SIZE);
	if (t.err)
		return table_install(a, &t);
	set32(&t, FADT_DSDT, dsdt);
	set64(&t, FADT_X_DSDT, dsdt);
	set16(&t, FADT_IAPC_BOOT_ARCH,
	      IAPC_NO_VGA | IAPC_NO_ASPM | IAPC_NO_CMOS_RTC);
	set32(&t, FADT_FLAGS, FADT_F_WBINVD | FADT_F_PWR_BUTTON |
	      FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP |
	      FADT_F_HW_REDUCED_ACPI);
	gas_io8(&t, FADT_RESET_REG, VMM_PORT_ACPI_RESET);
	t.b[FADT_RESET_VALUE] = VMM_ACPI_RESET_VALUE;
	t.b[FADT_MINOR_REVISION] = 0;
	gas_io8(&t, FADT_SLEEP_CONTROL, VMM_PORT_ACPI_SLEEP_CTL);
	gas_io8(&t, FADT_SLEEP_STATUS, VMM_PORT_ACPI_SLEEP_STS);
	memcpy(t.b + FADT_HYPERVISOR_ID, "KVIOVMM ", 8);
	return table_install(a, &t);
}

static uint64_t build_madt(struct acpi_area *a)
{
	struct bytes t = { 0 };
	int i;

	table_begin(&t, "APIC", 5);
	put32(&t, VMM_LAPIC_ADDR);
	put32(&t, 0);			/* no PCAT_COMPAT: no 8259 in use */
	for (i = 0; i < a->vm->ncpus; i++) {
		put8(&t, MADT_LOCAL_APIC);
		put8(&t, 8);
		put8(&t, i);		/* ACPI processor UID */
		put8(&t, i);		/* APIC ID, as in CPUID */
		put32(&t, MADT_LAPIC_ENABLED);
	}
	/* KVM's IOAPIC: ID 0, 24 pins, GSIs 0-23. */
	put8(&t, MADT_IO_APIC);
	put8(&t, 12);
	put8(&t, 0);
	put8(&t, 0);
	put32(&t, VMM_IOAPIC_ADDR);
	put32(&t, 0);
	/* ISA IRQ 0 (the PIT) -> GSI 2, as kvm.c routes it; conforming. */
	put8(&t, MADT_INT_OVERRIDE);
	put8(&t, 10);
	put8(&t, 0);			/* ISA */
	put8(&t, 0);
	put32(&t, 2);
	put16(&t, 0);
	/* LINT1 of every processor is NMI. */
	put8(&t, MADT_LOCAL_APIC_NMI);
	put8(&t, 6);
	put8(&t, 0xff);
	put16(&t, 0);
	put8(&t, 1);
	return table_install(a, &t);
}

/*
 * VIOT: the virtio-iommu (a PCI function) and, behind it, every other
 * function on bus 0, one PCI range node each, endpoint ID = BDF.
 */
static uint64_t build_viot(struct acpi_area *a,
			   const struct vmm_pci_info *info)
{
	struct bytes t = { 0 };
	uint16_t nodes = 1;
	int i;

	table_begin(&t, "VIOT", 0);
	put16(&t, 0);			/* node count, below */
	put16(&t, VIOT_HDR_SIZE);	/* node offset */
	zeros(&t, 8);

	put8(&t, VIOT_NODE_VIRTIO_IOMMU_PCI);
	put8(&t, 0);
	put16(&t, 16);
	put16(&t, 0);			/* segment */
	put16(&t, info->iommu_devfn);	/* bus 0 */
	zeros(&t, 8);

	for (i = 0; i < info->ndevs && i < (int)sizeof(info->devfn); i++) {
		if (info->devfn[i] == info->iommu_devfn)
			continue;
		put8(&t, VIOT_NODE_PCI_RANGE);
		put8(&t, 0);
		put16(&t, 24);
		put32(&t, info->devfn[i]);	/* endpoint ID */
		put16(&t, 0);			/* segments 0-0 */
		put16(&t, 0);
		put16(&t, info->devfn[i]);	/* BDFs, bus 0 */
		put16(&t, info->devfn[i]);
		put16(&t, VIOT_HDR_SIZE);	/* the virtio-iommu node */
		zeros(&t, 6);
		nodes++;
	}
	set16(&t, ACPI_HDR_SIZE, nodes);
	return table_install(a, &t);
}

uint64_t vmm_acpi_build(struct vmm *vm)
{
	struct acpi_area a = { .vm = vm, .next = VMM_ACPI_ADDR + 64 };
	uint64_t tables[8], dsdt, xsdt, rsdp = VMM_ACPI_ADDR;
	struct vmm_pci_info info;
	struct bytes t = { 0 };
	unsigned int n = 0, i;
	uint8_t *p;

	memset(vmm_gpa(vm, VMM_ACPI_ADDR, VMM_ACPI_END - VMM_ACPI_ADDR), 0,
	       VMM_ACPI_END - VMM_ACPI_ADDR);
	vmm_pci_info(&info);
	if (info.ndevs < 0 || info.ndevs > (int)sizeof(info.devfn))
		info.ndevs = 0;

	dsdt = build_dsdt(&a);
	if (!dsdt)
		return 0;
	tables[n++] = build_fadt(&a, dsdt);
	tables[n++] = build_madt(&a);
	if (info.iommu_devfn >= 0 && info.iommu_devfn < 256)
		tables[n++] = build_viot(&a, &info);

	table_begin(&t, "XSDT", 1);
	for (i = 0; i < n; i++) {
		if (!tables[i])
			return 0;
		put64(&t, tables[i]);
	}
	xsdt = table_install(&a, &t);
	if (!xsdt)
		return 0;

	/* RSDP (5.2.5.3), 16-byte aligned for a scan of 0xe0000-0xfffff. */
	p = vmm_gpa(vm, rsdp, 36);
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, ACPI_OEM_ID, 6);
	p[15] = 2;			/* revision: ACPI 2.0+, XSDT */
	/* RsdtAddress 0: there is only the XSDT. */
	p[20] = 36;			/* length */
	memcpy(p + 24, &xsdt, 8);	/* x86 is little endian */
	p[8] = checksum(p, 20);
	p[32] = checksum(p, 36);
	return rsdp;
}

/*
 * The sleep control, sleep status and reset registers (one byte each).
 * Poweroff is SLP_EN with the SLP_TYP of \_S5; any other sleep state is
 * not supported and ignored.  WAK_STS never sets: nothing wakes us.
 */
static void acpi_io(void *opaque, uint64_t offset, uint8_t *data,
		    uint32_t len, bool is_write)
{
	struct vmm *vm = opaque;
	uint8_t v = data[0];

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	switch (VMM_PORT_ACPI_SLEEP_CTL + offset) {
	case VMM_PORT_ACPI_SLEEP_CTL:
		if ((v & VMM_ACPI_SLP_EN) &&
		    ((v & VMM_ACPI_SLP_TYP_MASK) >> VMM_ACPI_SLP_TYP_SHIFT) ==
		    VMM_ACPI_S5_TYP)
			vmm_request_exit(vm, VMM_EXIT_POWEROFF);
		else
			vmm_debug_noisy(vm, "sleep control %#x ignored", v);
		break;
	case VMM_PORT_ACPI_RESET:
		if (v == VMM_ACPI_RESET_VALUE)
			vmm_request_exit(vm, VMM_EXIT_RESET);
		break;
	}
}

int vmm_acpi_init(struct vmm *vm)
{
	if (!vmm_bus_register(vm, VMM_BUS_PIO, VMM_PORT_ACPI_SLEEP_CTL, 3,
			      acpi_io, vm)) {
		fprintf(stderr, "kvio-vmm: ACPI ports taken\n");
		return -1;
	}
	return 0;
}
