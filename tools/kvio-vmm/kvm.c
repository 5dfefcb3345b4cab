// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio-vmm: the KVM side.  The VM with the in-kernel irqchip (PIC, IOAPIC,
 * LAPICs) and PIT, guest RAM, GSI routing, irqfds and ioeventfds, the PIO
 * and MMIO buses, and the vCPU threads with their exit dispatch.
 *
 * Bus locking: vm->lock guards the region lists, but it is never held while
 * a handler runs, because handlers move regions (a BAR write in config
 * space) under their device's lock while another vCPU may be blocked on that
 * same device lock inside a handler of the region being moved.  Waiting for
 * that call to drain would deadlock, so a region is reference counted
 * instead: the list holds one reference, each call in flight another, and
 * the last one frees it.  vmm.h states what this means for @opaque.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/kvm.h>

#include "platform.h"

#define KVM_PATH		"/dev/kvm"
#define VMM_KICK_SIGNAL		SIGUSR1

/* Notes on unhandled accesses: enough to debug, not enough to flood. */
#define VMM_DEBUG_NOTES_MAX	32

struct vmm_region {
	struct vmm_region *next;
	enum vmm_bus bus;
	uint64_t base;
	uint64_t len;
	vmm_io_fn fn;
	void *opaque;
	unsigned int refs;		/* vm->lock */
};

static int debug_notes;

bool vmm_debug_on(struct vmm *vm, bool noisy)
{
	if (!vm->plat->debug)
		return false;
	return !noisy || __atomic_fetch_add(&debug_notes, 1, __ATOMIC_RELAXED) <
			 VMM_DEBUG_NOTES_MAX;
}

/* Guest memory */

void *vmm_gpa(struct vmm *vm, uint64_t gpa, uint64_t len)
{
	uint64_t high_size = vm->ram_size - vm->low_size;
	uint64_t off;

	if (len <= vm->low_size && gpa <= vm->low_size - len)
		return vm->ram + gpa;
	if (gpa < VMM_HIGH_RAM_BASE)
		return NULL;
	off = gpa - VMM_HIGH_RAM_BASE;
	if (len <= high_size && off <= high_size - len)
		return vm->ram + vm->low_size + off;
	return NULL;
}

static int set_memory(struct vmm *vm, uint32_t slot, uint64_t gpa,
		      uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		fprintf(stderr, "kvio-vmm: KVM_SET_USER_MEMORY_REGION %#llx+%#llx: %s\n",
			(unsigned long long)gpa, (unsigned long long)size,
			strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Guest RAM: anonymous memory of this process, 2 MiB aligned, with
 * transparent huge pages asked for (as QEMU asks for its guest RAM).  The
 * kvio backends reach it through the vhost memory table (our user
 * addresses, in our mm), so it needs no file.  Huge pages matter to a
 * guest: each 4-KiB page is a nested page fault (an exit) the first time
 * the guest touches it, and a 4-KiB nested mapping makes every guest TLB
 * miss walk one level more.  A memfd would give 4-KiB shmem pages unless
 * the host turned shmem THP on (Debian: never).  MADV_DONTFORK: a fork
 * would not copy guest RAM.
 */
static int ram_create(struct vmm *vm)
{
	const size_t align = VMM_RAM_ALIGN;
	size_t len = vm->ram_size + align, head;
	uint8_t *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "kvio-vmm: guest RAM of %llu bytes: %s\n",
			(unsigned long long)vm->ram_size, strerror(errno));
		return -1;
	}
	/* Keep the aligned part only. */
	head = (align - (uintptr_t)p % align) % align;
	if (head)
		munmap(p, head);
	munmap(p + head + vm->ram_size, align - head);
	vm->ram = p + head;
	/* Advice only: without THP the guest runs on 4-KiB pages. */
	madvise(vm->ram, vm->ram_size, MADV_HUGEPAGE);
	madvise(vm->ram, vm->ram_size, MADV_DONTFORK);
	vm->low_size = vm->ram_size < VMM_MEM32_END ? vm->ram_size :
		       VMM_MEM32_END;
	if (set_memory(vm, 0, 0, vm->low_size, vm->ram))
		return -1;
	if (vm->ram_size > vm->low_size &&
	    set_memory(vm, 1, VMM_HIGH_RAM_BASE, vm->ram_size - vm->low_size,
		       vm->ram + vm->low_size))
		return -1;
	return 0;
}

/* KVM and the VM */

static int check_cap(struct vmm *vm, int cap, const char *name)
{
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, cap) > 0)
		return 0;
	fprintf(stderr, "kvio-vmm: KVM lacks %s\n", name);
	return -1;
}

#define CHECK_CAP(vm, cap) check_cap(vm, cap, #cap)

int vmm_kvm_open(struct vmm *vm)
{
	int v;

	vm->kvm_fd = open(KVM_PATH, O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		fprintf(stderr, "kvio-vmm: %s: %s\n", KVM_PATH, strerror(errno));
		return -1;
	}
	v = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		fprintf(stderr, "kvio-vmm: KVM API version %d, want %d\n", v,
			KVM_API_VERSION);
		return -1;
	}
	if (CHECK_CAP(vm, KVM_CAP_IRQCHIP) || CHECK_CAP(vm, KVM_CAP_IRQFD) ||
	    CHECK_CAP(vm, KVM_CAP_IOEVENTFD) ||
	    CHECK_CAP(vm, KVM_CAP_IRQ_ROUTING) ||
	    CHECK_CAP(vm, KVM_CAP_USER_MEMORY) || CHECK_CAP(vm, KVM_CAP_PIT2) ||
	    CHECK_CAP(vm, KVM_CAP_SET_TSS_ADDR) ||
	    CHECK_CAP(vm, KVM_CAP_SET_IDENTITY_MAP_ADDR) ||
	    CHECK_CAP(vm, KVM_CAP_EXT_CPUID) ||
	    CHECK_CAP(vm, KVM_CAP_IMMEDIATE_EXIT))
		return -1;
	v = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (v <= 0)
		v = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (v > 0 && vm->ncpus > v) {
		fprintf(stderr, "kvio-vmm: --cpus %d: KVM allows %d\n",
			vm->ncpus, v);
		return -1;
	}
	vm->plat->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->plat->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
		fprintf(stderr, "kvio-vmm: KVM_GET_VCPU_MMAP_SIZE: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

/* GSI routing */

/*
 * The irqchip routes, as QEMU sets them up for its PC with the in-kernel
 * irqchip rather than KVM's own default: ISA IRQ 0 (the in-kernel PIT)
 * reaches IOAPIC pin 2, which is what the MADT's interrupt source override
 * IRQ0 -> GSI2 tells the guest, and PIC pin 2 is the cascade.  Every other
 * GSI below 16 goes to its PIC pin and IOAPIC pin; 16-23 to the IOAPIC.
 */
static unsigned int irqchip_routes(struct kvm_irq_routing_entry *e)
{
	unsigned int n = 0;
	uint32_t gsi;

	for (gsi = 0; gsi < 16; gsi++) {
		if (gsi == 2)
			continue;
		e[n].gsi = gsi;
		e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[n].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER :
						   KVM_IRQCHIP_PIC_SLAVE;
		e[n].u.irqchip.pin = gsi % 8;
		n++;
	}
	for (gsi = 0; gsi < 24; gsi++) {
		if (gsi == 2)
			continue;
		e[n].gsi = gsi;
		e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e[n].u.irqchip.pin = gsi ? gsi : 2;
		n++;
	}
	return n;
}

#define VMM_IRQCHIP_ROUTES	(15 + 23)
#define VMM_MSI_ROUTES		(VMM_GSI_MAX - VMM_GSI_MSI_BASE)

/* Called with vm->lock held. */
static int gsi_commit(struct vmm *vm)
{
	struct vmm_platform *p = vm->plat;
	struct kvm_irq_routing *t;
	unsigned int i, n;
	int ret;

	t = calloc(1, sizeof(*t) + (VMM_IRQCHIP_ROUTES + VMM_MSI_ROUTES) *
		   sizeof(t->entries[0]));
	if (!t)
		return -1;
	n = irqchip_routes(t->entries);
	for (i = 0; i < VMM_MSI_ROUTES; i++) {
		if (!p->msi[i].set)
			continue;
		t->entries[n].gsi = VMM_GSI_MSI_BASE + i;
		t->entries[n].type = KVM_IRQ_ROUTING_MSI;
		t->entries[n].u.msi.address_lo = (uint32_t)p->msi[i].addr;
		t->entries[n].u.msi.address_hi = p->msi[i].addr >> 32;
		t->entries[n].u.msi.data = p->msi[i].data;
		n++;
	}
	t->nr = n;
	ret = ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, t);
	if (ret < 0)
		fprintf(stderr, "kvio-vmm: KVM_SET_GSI_ROUTING: %s\n",
			strerror(errno));
	free(t);
	return ret < 0 ? -1 : 0;
}

int vmm_msi_gsi_alloc(struct vmm *vm)
{
	int i, gsi = -1;

	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < VMM_MSI_ROUTES; i++) {
		if (!vm->plat->msi[i].used) {
			vm->plat->msi[i].used = true;
			gsi = VMM_GSI_MSI_BASE + i;
			break;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return gsi;
}

int vmm_msi_gsi_set(struct vmm *vm, int gsi, uint64_t addr, uint32_t data)
{
	struct vmm_gsi_msi *m, old;
	int ret;

	if (gsi < VMM_GSI_MSI_BASE || gsi >= VMM_GSI_MAX)
		return -1;
	pthread_mutex_lock(&vm->lock);
	m = &vm->plat->msi[gsi - VMM_GSI_MSI_BASE];
	if (!m->used) {
		pthread_mutex_unlock(&vm->lock);
		return -1;
	}
	if (m->set && m->addr == addr && m->data == data) {
		pthread_mutex_unlock(&vm->lock);
		return 0;
	}
	old = *m;
	m->set = true;
	m->addr = addr;
	m->data = data;
	ret = gsi_commit(vm);
	if (ret)
		*m = old;	/* the table stays what KVM has */
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int vmm_irqfd(struct vmm *vm, int efd, int gsi, bool assign)
{
	struct kvm_irqfd fd = {
		.fd = efd,
		.gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	if (gsi < 0 || gsi >= VMM_GSI_MAX)
		return -1;
	if (ioctl(vm->vm_fd, KVM_IRQFD, &fd) < 0) {
		fprintf(stderr, "kvio-vmm: KVM_IRQFD gsi %d %s: %s\n", gsi,
			assign ? "assign" : "deassign", strerror(errno));
		return -1;
	}
	return 0;
}

int vmm_ioeventfd(struct vmm *vm, uint64_t addr, uint32_t len, int efd,
		  bool pio, bool assign)
{
	struct kvm_ioeventfd io = {
		.addr = addr,
		.len = len,
		.fd = efd,
		.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		fprintf(stderr, "kvio-vmm: KVM_IOEVENTFD %s %#llx/%u %s: %s\n",
			pio ? "port" : "mmio", (unsigned long long)addr, len,
			assign ? "assign" : "deassign", strerror(errno));
		return -1;
	}
	return 0;
}

void vmm_irq_line(struct vmm *vm, int irq, int level)
{
	struct kvm_irq_level l = { .irq = irq, .level = !!level };

	if (irq < 0 || irq >= VMM_GSI_MSI_BASE)
		return;
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		vmm_debug_noisy(vm, "KVM_IRQ_LINE %d: %s", irq, strerror(errno));
}

/*
 * KVM's 8259s come up unprogrammed: all pins unmasked, vector base 0.  This
 * platform has no 8259 for the guest (hardware-reduced ACPI), yet GSIs 0-15
 * reach the PIC too; should the guest ever open LINT0 as ExtINT (Linux does
 * on its way to a reboot, restoring "virtual wire" mode), an ISA interrupt
 * would come in as vector 0-7, an exception.  Leave them as firmware leaves
 * an unused PIC: initialised, every pin masked, vectors where Linux puts
 * the ISA ones.
 */
static int pic_mask_all(struct vmm *vm)
{
	struct kvm_irqchip chip;
	int i;

	for (i = 0; i < 2; i++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = i ? KVM_IRQCHIP_PIC_SLAVE : KVM_IRQCHIP_PIC_MASTER;
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
			return -1;
		chip.chip.pic.imr = 0xff;
		chip.chip.pic.irq_base = i ? 0x38 : 0x30;
		chip.chip.pic.init_state = 0;
		chip.chip.pic.init4 = 1;
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &chip) < 0)
			return -1;
	}
	return 0;
}

int vmm_kvm_create_vm(struct vmm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t ident = VMM_IDENTITY_MAP_ADDR;

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		fprintf(stderr, "kvio-vmm: KVM_CREATE_VM: %s\n", strerror(errno));
		return -1;
	}
	/* Only VMX uses these, for real mode; both must precede the vCPUs. */
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, VMM_TSS_ADDR) < 0) {
		fprintf(stderr, "kvio-vmm: KVM_SET_TSS_ADDR: %s\n",
			strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0 || pic_mask_all(vm)) {
		fprintf(stderr, "kvio-vmm: KVM_CREATE_IRQCHIP: %s\n",
			strerror(errno));
		return -1;
	}
	/*
	 * The speaker port (0x61) in the kernel too: Linux gates PIT channel 2
	 * through it when it calibrates the TSC against the PIT.
	 */
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		fprintf(stderr, "kvio-vmm: KVM_CREATE_PIT2: %s\n",
			strerror(errno));
		return -1;
	}
	pthread_mutex_lock(&vm->lock);
	if (gsi_commit(vm)) {
		pthread_mutex_unlock(&vm->lock);
		return -1;
	}
	pthread_mutex_unlock(&vm->lock);
	return ram_create(vm);
}

/* The buses */

static bool region_fits(enum vmm_bus bus, uint64_t base, uint64_t len)
{
	if (!len || base + len - 1 < base)
		return false;
	return bus != VMM_BUS_PIO || (base < 0x10000 && len <= 0x10000 - base);
}

struct vmm_region *vmm_bus_register(struct vmm *vm, enum vmm_bus bus,
				    uint64_t base, uint64_t len,
				    vmm_io_fn fn, void *opaque)
{
	struct vmm_region *r, *it;

	if ((bus != VMM_BUS_PIO && bus != VMM_BUS_MMIO) || !fn ||
	    !region_fits(bus, base, len))
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->bus = bus;
	r->base = base;
	r->len = len;
	r->fn = fn;
	r->opaque = opaque;
	r->refs = 1;

	pthread_mutex_lock(&vm->lock);
	for (it = vm->plat->regions[bus]; it; it = it->next) {
		/* Both are non-empty and do not wrap. */
		if (base <= it->base + it->len - 1 &&
		    it->base <= base + len - 1) {
			pthread_mutex_unlock(&vm->lock);
			free(r);
			return NULL;
		}
	}
	r->next = vm->plat->regions[bus];
	vm->plat->regions[bus] = r;
	pthread_mutex_unlock(&vm->lock);
	return r;
}

/* Called with vm->lock held. */
static void region_put(struct vmm_region *r)
{
	if (--r->refs == 0)
		free(r);
}

void vmm_bus_unregister(struct vmm *vm, struct vmm_region *r)
{
	struct vmm_region **pp;

	if (!r)
		return;
	pthread_mutex_lock(&vm->lock);
	for (pp = &vm->plat->regions[r->bus]; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			r->next = NULL;
			region_put(r);
			break;
		}
	}
	pthread_mutex_unlock(&vm->lock);
}

/*
 * One access of @len bytes at @addr.  It goes to the region that holds all
 * of it; anything else (nothing there, or straddling a region's end) reads
 * as all ones and drops writes, like an unclaimed bus cycle.
 */
static void bus_access(struct vmm *vm, enum vmm_bus bus, uint64_t addr,
		       uint8_t *data, uint32_t len, bool is_write)
{
	struct vmm_region *r;

	pthread_mutex_lock(&vm->lock);
	for (r = vm->plat->regions[bus]; r; r = r->next) {
		if (addr >= r->base && addr - r->base < r->len)
			break;
	}
	if (r && len > r->len - (addr - r->base))
		r = NULL;
	if (r)
		r->refs++;
	pthread_mutex_unlock(&vm->lock);

	if (!r) {
		if (!is_write)
			memset(data, 0xff, len);
		vmm_debug_noisy(vm, "unclaimed %s %s %#llx/%u",
				bus == VMM_BUS_PIO ? "port" : "mmio",
				is_write ? "write" : "read",
				(unsigned long long)addr, len);
		return;
	}
	r->fn(r->opaque, addr - r->base, data, len, is_write);

	pthread_mutex_lock(&vm->lock);
	region_put(r);
	pthread_mutex_unlock(&vm->lock);
}

/* vCPUs */

void vmm_guest_msg(const char *fmt, ...)
{
	static unsigned int count;
	unsigned int n = __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED);
	va_list ap;

	if (n > VMM_GUEST_MSG_MAX)
		return;
	if (n == VMM_GUEST_MSG_MAX) {
		fprintf(stderr, "kvio-vmm: %u messages the guest caused: no more of them\n",
			n);
		return;
	}
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

bool vmm_ended(struct vmm *vm)
{
	return __atomic_load_n(&vm->exit_status, __ATOMIC_ACQUIRE) !=
	       VMM_EXIT_RUNNING;
}

static struct kvm_cpuid2 *supported_cpuid(struct vmm *vm)
{
	struct kvm_cpuid2 *c;
	unsigned int nent = 64;

	for (;;) {
		c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			return NULL;
		c->nent = nent;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG || nent >= 4096) {
			fprintf(stderr, "kvio-vmm: KVM_GET_SUPPORTED_CPUID: %s\n",
				strerror(errno));
			return NULL;
		}
		nent *= 2;
	}
}

#define CPUID_1_ECX_TSC_DEADLINE	(1U << 24)
#define CPUID_1_ECX_HYPERVISOR		(1U << 31)

/*
 * What KVM_GET_SUPPORTED_CPUID leaves to userspace: the hypervisor bit
 * (without it Linux ignores the KVM leaves, so no kvmclock and no TSC
 * frequency: a hardware-reduced guest has no PIT or HPET to measure it),
 * and the TSC deadline timer KVM's LAPIC emulates, which spares the guest
 * a LAPIC timer calibration against a clock it does not have.
 */
static void cpuid_fixup(struct vmm *vm, struct kvm_cpuid2 *c)
{
	bool deadline = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
			      KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	unsigned int i;

	for (i = 0; i < c->nent; i++) {
		if (c->entries[i].function != 1)
			continue;
		c->entries[i].ecx |= CPUID_1_ECX_HYPERVISOR;
		if (deadline)
			c->entries[i].ecx |= CPUID_1_ECX_TSC_DEADLINE;
	}
}

/* The APIC ID everywhere CPUID reports it: it must match the MADT's. */
static void cpuid_set_apic_id(struct kvm_cpuid2 *c, uint32_t id)
{
	struct kvm_cpuid_entry2 *e;
	unsigned int i;

	for (i = 0; i < c->nent; i++) {
		e = &c->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x00ffffff) | id << 24;
			break;
		case 0xb:
		case 0x1f:
			e->edx = id;
			break;
		case 0x8000001e:
			e->eax = id;
			break;
		}
	}
}

/*
 * There is no 8259 on this platform (the FADT says hardware-reduced and
 * Linux then never programs one), but KVM's PIC exists and sees GSIs 0-15.
 * KVM resets the BSP's LINT0 to unmasked ExtINT, virtual-wire style, and
 * Linux keeps it so: an uninitialised PIC would then inject vector 0 + pin
 * (an exception vector) for every ISA interrupt.  Mask LINT0 as firmware of
 * a PIC-less machine leaves it.
 */
static int mask_lint0(struct vmm_vcpu *cpu)
{
	struct kvm_lapic_state l;
	uint32_t v;

	if (ioctl(cpu->fd, KVM_GET_LAPIC, &l) < 0)
		return -1;
	memcpy(&v, &l.regs[0x350], 4);		/* APIC_LVT0 */
	v |= 1 << 16;				/* APIC_LVT_MASKED */
	memcpy(&l.regs[0x350], &v, 4);
	return ioctl(cpu->fd, KVM_SET_LAPIC, &l) < 0 ? -1 : 0;
}

int vmm_vcpus_create(struct vmm *vm)
{
	struct vmm_platform *p = vm->plat;
	struct kvm_cpuid2 *cpuid;
	struct vmm_vcpu *cpu;
	int i, ret = -1;

	cpuid = supported_cpuid(vm);
	if (!cpuid)
		return -1;
	cpuid_fixup(vm, cpuid);
	for (i = 0; i < vm->ncpus; i++) {
		cpu = &p->vcpu[i];
		cpu->vm = vm;
		cpu->id = i;
		cpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, i);
		if (cpu->fd < 0) {
			fprintf(stderr, "kvio-vmm: KVM_CREATE_VCPU %d: %s\n", i,
				strerror(errno));
			goto out;
		}
		cpu->run_size = p->vcpu_mmap_size;
		cpu->run = mmap(NULL, cpu->run_size, PROT_READ | PROT_WRITE,
				MAP_SHARED, cpu->fd, 0);
		if (cpu->run == MAP_FAILED) {
			cpu->run = NULL;
			fprintf(stderr, "kvio-vmm: mmap of vCPU %d: %s\n", i,
				strerror(errno));
			goto out;
		}
		cpuid_set_apic_id(cpuid, i);
		if (ioctl(cpu->fd, KVM_SET_CPUID2, cpuid) < 0) {
			fprintf(stderr, "kvio-vmm: KVM_SET_CPUID2 on vCPU %d: %s\n",
				i, strerror(errno));
			goto out;
		}
		if (i == 0 && mask_lint0(cpu)) {
			fprintf(stderr, "kvio-vmm: vCPU 0 LAPIC: %s\n",
				strerror(errno));
			goto out;
		}
	}
	ret = 0;
out:
	free(cpuid);
	return ret;
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type,
		    bool code64)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code64;
	s->db = !code64;
}

/*
 * vCPU 0 enters the kernel the way the 64-bit boot protocol says: long
 * mode, paging on (boot.c built the identity map at VMM_PML4_ADDR), flat
 * __BOOT_CS (0x10) and __BOOT_DS (0x18) from the GDT at VMM_GDT_ADDR,
 * interrupts off, %rsi = boot_params.  The others stay in the
 * wait-for-SIPI state KVM created them in.
 */
int vmm_vcpu_setup_boot(struct vmm *vm, uint64_t entry, uint64_t boot_params)
{
	struct vmm_vcpu *cpu = &vm->plat->vcpu[0];
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(cpu->fd, KVM_GET_SREGS, &sregs) < 0)
		goto err;
	set_seg(&sregs.cs, 0x10, 0xb, true);	/* execute/read, accessed */
	set_seg(&sregs.ds, 0x18, 0x3, false);	/* read/write, accessed */
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	sregs.gdt.base = VMM_GDT_ADDR;
	sregs.gdt.limit = 4 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr3 = VMM_PML4_ADDR;
	sregs.cr4 = 1 << 5;			/* PAE */
	sregs.cr0 = 1U << 0 | 1U << 4 | 1U << 31;	/* PE, ET, PG */
	sregs.efer = 1 << 8 | 1 << 10;		/* LME, LMA */
	if (ioctl(cpu->fd, KVM_SET_SREGS, &sregs) < 0)
		goto err;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = entry;
	regs.rsi = boot_params;
	if (ioctl(cpu->fd, KVM_SET_REGS, &regs) < 0)
		goto err;
	return 0;
err:
	fprintf(stderr, "kvio-vmm: vCPU 0 boot state: %s\n", strerror(errno));
	return -1;
}

static void dump_vcpu(struct vmm_vcpu *cpu)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	if (ioctl(cpu->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(cpu->fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(stderr, "kvio-vmm: vCPU %d: no registers: %s\n",
			cpu->id, strerror(errno));
		return;
	}
	fprintf(stderr,
		"kvio-vmm: vCPU %d: rip %#llx rsp %#llx rflags %#llx rax %#llx rbx %#llx rcx %#llx rdx %#llx rsi %#llx rdi %#llx\n",
		cpu->id, r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx,
		r.rsi, r.rdi);
	fprintf(stderr,
		"kvio-vmm: vCPU %d: cr0 %#llx cr2 %#llx cr3 %#llx cr4 %#llx efer %#llx cs %#x/%#llx/l%d ss %#x\n",
		cpu->id, s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.cs.selector,
		s.cs.base, s.cs.l, s.ss.selector);
}

static void vcpu_io(struct vmm_vcpu *cpu)
{
	struct kvm_run *run = cpu->run;
	uint32_t size = run->io.size, i;
	uint64_t off = run->io.data_offset;
	uint8_t *data = (uint8_t *)run + off;

	/* KVM's own numbers, checked anyway: the page is ours to overrun. */
	if ((size != 1 && size != 2 && size != 4) || off > cpu->run_size ||
	    (uint64_t)size * run->io.count > cpu->run_size - off)
		return;
	for (i = 0; i < run->io.count; i++, data += size)
		bus_access(cpu->vm, VMM_BUS_PIO, run->io.port, data, size,
			   run->io.direction == KVM_EXIT_IO_OUT);
}

/* Returns false when the vCPU must stop. */
static bool vcpu_exit(struct vmm_vcpu *cpu)
{
	struct kvm_run *run = cpu->run;
	struct vmm *vm = cpu->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_io(cpu);
		return true;
	case KVM_EXIT_MMIO:
		if (run->mmio.len > 0 && run->mmio.len <= 8)
			bus_access(vm, VMM_BUS_MMIO, run->mmio.phys_addr,
				   run->mmio.data, run->mmio.len,
				   run->mmio.is_write);
		return true;
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
	case KVM_EXIT_HLT:
		return true;
	case KVM_EXIT_SHUTDOWN:
		vmm_debug(vm, "vCPU %d: shutdown", cpu->id);
		/* A triple fault: what Linux's last reboot method ends in. */
		vmm_request_exit(vm, VMM_EXIT_RESET);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vmm_request_exit(vm, VMM_EXIT_POWEROFF);
			break;
		case KVM_SYSTEM_EVENT_CRASH:
			vmm_request_exit(vm, VMM_EXIT_PANIC);
			break;
		default:
			vmm_request_exit(vm, VMM_EXIT_RESET);
			break;
		}
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		fprintf(stderr, "kvio-vmm: vCPU %d: entry failed, hardware reason %#llx\n",
			cpu->id, (unsigned long long)
			run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		fprintf(stderr, "kvio-vmm: vCPU %d: KVM internal error, suberror %u\n",
			cpu->id, run->internal.suberror);
		break;
	default:
		fprintf(stderr, "kvio-vmm: vCPU %d: unexpected exit reason %u\n",
			cpu->id, run->exit_reason);
		break;
	}
	dump_vcpu(cpu);
	vmm_request_exit(vm, VMM_EXIT_ERROR);
	return false;
}

static void *vcpu_thread(void *arg)
{
	struct vmm_vcpu *cpu = arg;
	struct vmm *vm = cpu->vm;
	sigset_t set;

	/* Only here may the kick signal interrupt KVM_RUN. */
	sigemptyset(&set);
	sigaddset(&set, VMM_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (!__atomic_load_n(&vm->plat->stopping, __ATOMIC_ACQUIRE) &&
	       !vmm_ended(vm)) {
		if (ioctl(cpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(stderr, "kvio-vmm: vCPU %d: KVM_RUN: %s\n",
				cpu->id, strerror(errno));
			vmm_request_exit(vm, VMM_EXIT_ERROR);
			break;
		}
		if (!vcpu_exit(cpu))
			break;
	}
	return NULL;
}

static void kick_handler(int sig)
{
	(void)sig;
}

int vmm_vcpus_start(struct vmm *vm)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	int i, err;

	/* No SA_RESTART: KVM_RUN must return EINTR to the loop. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(VMM_KICK_SIGNAL, &sa, NULL) < 0) {
		fprintf(stderr, "kvio-vmm: sigaction: %s\n", strerror(errno));
		return -1;
	}
	for (i = 0; i < vm->ncpus; i++) {
		char comm[16];

		err = pthread_create(&vm->plat->vcpu[i].thread, NULL,
				     vcpu_thread, &vm->plat->vcpu[i]);
		if (err) {
			fprintf(stderr, "kvio-vmm: vCPU thread: %s\n",
				strerror(err));
			return -1;
		}
		vm->plat->vcpu[i].started = true;
		/*
		 * Its name in /proc/PID/task/TID/comm, so a guest CPU that
		 * stands still can be told from the VMM's other threads
		 * (what the tests print of a guest that stopped answering).
		 */
		snprintf(comm, sizeof(comm), "vcpu%d", i);
		pthread_setname_np(vm->plat->vcpu[i].thread, comm);
	}
	return 0;
}

/*
 * Stop every vCPU: immediate_exit makes any KVM_RUN from now on return
 * EINTR at once, and the signal takes out one already inside the guest
 * (or halted in the kernel).  Set before the signal, so no KVM_RUN can slip
 * between the thread's check of @stopping and the signal.
 */
void vmm_vcpus_stop(struct vmm *vm)
{
	struct vmm_vcpu *cpu;
	int i;

	__atomic_store_n(&vm->plat->stopping, 1, __ATOMIC_RELEASE);
	for (i = 0; i < vm->ncpus; i++) {
		cpu = &vm->plat->vcpu[i];
		if (!cpu->started)
			continue;
		__atomic_store_n(&cpu->run->immediate_exit, 1,
				 __ATOMIC_RELEASE);
		pthread_kill(cpu->thread, VMM_KICK_SIGNAL);
	}
	for (i = 0; i < vm->ncpus; i++) {
		cpu = &vm->plat->vcpu[i];
		if (!cpu->started)
			continue;
		pthread_join(cpu->thread, NULL);
		cpu->started = false;
	}
}

/* Where every vCPU is, after they stopped: for a guest that hung. */
void vmm_vcpus_dump(struct vmm *vm)
{
	int i;

	for (i = 0; i < vm->ncpus; i++) {
		if (vm->plat->vcpu[i].fd >= 0)
			dump_vcpu(&vm->plat->vcpu[i]);
	}
}

void vmm_kvm_close(struct vmm *vm)
{
	struct vmm_platform *p = vm->plat;
	struct vmm_region *r;
	int i;

	for (i = 0; i < vm->ncpus; i++) {
		if (p->vcpu[i].run)
			munmap(p->vcpu[i].run, p->vcpu[i].run_size);
		if (p->vcpu[i].fd >= 0)
			close(p->vcpu[i].fd);
		p->vcpu[i].run = NULL;
		p->vcpu[i].fd = -1;
	}
	for (i = 0; i < 2; i++) {
		while ((r = p->regions[i])) {
			p->regions[i] = r->next;
			free(r);
		}
	}
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = -1;
	vm->kvm_fd = -1;
	vm->ram = NULL;
}
