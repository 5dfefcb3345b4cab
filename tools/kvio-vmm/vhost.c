// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio-vmm: vhost-ABI device set-up (Documentation/uapi.rst, vhost-abi).
 * The order is QEMU's: owner, features, memory table, then per ring NUM,
 * BASE, ADDR, KICK, CALL; the device-specific backend ioctl comes after.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vhost.h"

int vhost_open(const char *path, const char *hint, uint64_t *features)
{
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && hint)
			fprintf(stderr, "kvio-vmm: %s does not exist (modprobe %s)\n",
				path, hint);
		else
			fprintf(stderr, "kvio-vmm: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (ioctl(fd, VHOST_SET_OWNER) < 0) {
		fprintf(stderr, "kvio-vmm: %s: VHOST_SET_OWNER: %s\n", path,
			strerror(errno));
		goto err;
	}
	if (ioctl(fd, VHOST_GET_FEATURES, features) < 0) {
		fprintf(stderr, "kvio-vmm: %s: VHOST_GET_FEATURES: %s\n", path,
			strerror(errno));
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

int vhost_start(int fd, struct vmm *vm, uint64_t features)
{
	struct vhost_memory *mem;
	int ret;

	if (ioctl(fd, VHOST_SET_FEATURES, &features) < 0) {
		fprintf(stderr, "kvio-vmm: VHOST_SET_FEATURES %#llx: %s\n",
			(unsigned long long)features, strerror(errno));
		return -1;
	}

	mem = calloc(1, sizeof(*mem) + 2 * sizeof(mem->regions[0]));
	if (!mem)
		return -1;
	mem->regions[0].guest_phys_addr = 0;
	mem->regions[0].memory_size = vm->low_size;
	mem->regions[0].userspace_addr = (uintptr_t)vm->ram;
	mem->nregions = 1;
	if (vm->ram_size > vm->low_size) {
		mem->regions[1].guest_phys_addr = VMM_HIGH_RAM_BASE;
		mem->regions[1].memory_size = vm->ram_size - vm->low_size;
		mem->regions[1].userspace_addr = (uintptr_t)(vm->ram + vm->low_size);
		mem->nregions = 2;
	}
	ret = ioctl(fd, VHOST_SET_MEM_TABLE, mem);
	if (ret < 0)
		fprintf(stderr, "kvio-vmm: VHOST_SET_MEM_TABLE: %s\n",
			strerror(errno));
	free(mem);
	return ret < 0 ? -1 : 0;
}

/*
 * Where ring part @what (@len bytes at @addr) is for the device: its host
 * address, or with @iova the IOVA as the guest wrote it (the device
 * translates it through its endpoint's domain and faults what is not
 * mapped).  0, or -1 with a message.
 */
static int ring_addr(struct vmm *vm, uint64_t addr, uint64_t len,
		     uint64_t align, bool iova, const char *what,
		     unsigned int index, __u64 *out)
{
	void *p;

	if (addr & (align - 1)) {
		vmm_guest_msg("kvio-vmm: ring %u: %s at %#llx is not %llu-byte aligned\n",
			      index, what, (unsigned long long)addr,
			      (unsigned long long)align);
		return -1;
	}
	if (iova) {
		*out = addr;
		return 0;
	}
	p = vmm_gpa(vm, addr, len);
	if (!p) {
		vmm_guest_msg("kvio-vmm: ring %u: %s at %#llx (+%llu) is not guest RAM\n",
			      index, what, (unsigned long long)addr,
			      (unsigned long long)len);
		return -1;
	}
	*out = (uintptr_t)p;
	return 0;
}

static int vhost_vring_start(int fd, struct vmm *vm, unsigned int index,
			     const struct virtio_queue *q, int call_efd, bool iova)
{
	struct vhost_vring_state state = { .index = index };
	struct vhost_vring_addr addr = { .index = index };
	struct vhost_vring_file file = { .index = index };
	uint64_t num = q->size;

	/* Split ring sizes (virtio 1.2, 2.7), event fields included. */
	if (ring_addr(vm, q->desc, 16 * num, 16, iova, "descriptor table",
		      index, &addr.desc_user_addr) ||
	    ring_addr(vm, q->avail, 6 + 2 * num, 2, iova, "driver area",
		      index, &addr.avail_user_addr) ||
	    ring_addr(vm, q->used, 6 + 8 * num, 4, iova, "device area",
		      index, &addr.used_user_addr))
		return -1;

	state.num = num;
	if (ioctl(fd, VHOST_SET_VRING_NUM, &state) < 0) {
		vmm_guest_msg("kvio-vmm: ring %u: VHOST_SET_VRING_NUM %u: %s\n",
			      index, state.num, strerror(errno));
		return -1;
	}
	state.num = 0;
	if (ioctl(fd, VHOST_SET_VRING_BASE, &state) < 0) {
		vmm_guest_msg("kvio-vmm: ring %u: VHOST_SET_VRING_BASE: %s\n",
			      index, strerror(errno));
		return -1;
	}
	if (ioctl(fd, VHOST_SET_VRING_ADDR, &addr) < 0) {
		vmm_guest_msg("kvio-vmm: ring %u: VHOST_SET_VRING_ADDR: %s\n",
			      index, strerror(errno));
		return -1;
	}
	/*
	 * A ring the device stops is said on stderr (main.c); before the
	 * kick, which may run the ring at once with a kick already pending.
	 */
	file.fd = q->err_efd;
	if (ioctl(fd, VHOST_SET_VRING_ERR, &file) < 0) {
		vmm_guest_msg("kvio-vmm: ring %u: VHOST_SET_VRING_ERR: %s\n",
			      index, strerror(errno));
		return -1;
	}
	file.fd = q->kick_efd;
	if (ioctl(fd, VHOST_SET_VRING_KICK, &file) < 0) {
		vmm_guest_msg("kvio-vmm: ring %u: VHOST_SET_VRING_KICK: %s\n",
			      index, strerror(errno));
		return -1;
	}
	file.fd = call_efd;
	if (ioctl(fd, VHOST_SET_VRING_CALL, &file) < 0) {
		vmm_guest_msg("kvio-vmm: ring %u: VHOST_SET_VRING_CALL: %s\n",
			      index, strerror(errno));
		return -1;
	}
	return 0;
}

int vhost_queues_start(int fd, struct virtio_dev *vdev, unsigned int q0,
		       unsigned int n, unsigned int poll_us, uint32_t *started)
{
	struct vhost_vring_state state = { .num = poll_us };
	unsigned int i;

	for (i = 0; i < n && i < 32; i++) {
		if (!vdev->q[q0 + i].enabled)
			continue;
		if (vhost_vring_start(fd, vdev->vm, i, &vdev->q[q0 + i],
				      virtio_queue_call_efd(vdev, q0 + i),
				      virtio_uses_iova(vdev)))
			return -1;
		*started |= 1u << i;
		state.index = i;
		if (poll_us &&
		    ioctl(fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &state) < 0) {
			fprintf(stderr, "kvio-vmm: ring %u: poll=%u: %s\n", i,
				poll_us, strerror(errno));
			return -1;
		}
	}
	return 0;
}

void vhost_queues_stop(int fd, uint32_t *started)
{
	struct vhost_vring_state state;
	struct vhost_vring_file file = { .fd = VHOST_FILE_UNBIND };
	unsigned int i;

	for (i = 0; i < 32; i++) {
		if (!(*started & (1u << i)))
			continue;
		state.index = i;
		file.index = i;
		/* Waits for what the ring has in flight; the index is not needed. */
		ioctl(fd, VHOST_GET_VRING_BASE, &state);
		ioctl(fd, VHOST_SET_VRING_KICK, &file);
		ioctl(fd, VHOST_SET_VRING_CALL, &file);
		ioctl(fd, VHOST_SET_VRING_ERR, &file);
	}
	*started = 0;
}

int vmm_spec_uint(const char *val, const char *name, unsigned long min,
		  unsigned long max, unsigned int *n, char *why, size_t whylen)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno || end == val || *end || val[0] == '-' || v < min || v > max) {
		snprintf(why, whylen, "%s must be a number from %lu to %lu",
			 name, min, max);
		return -1;
	}
	*n = v;
	return 0;
}

int vmm_spec_queues(const char *val, unsigned int max, unsigned int *n,
		    char *why, size_t whylen)
{
	return vmm_spec_uint(val, "queues", 1,
			     max < VMM_MAX_CPUS ? max : VMM_MAX_CPUS, n, why,
			     whylen);
}
