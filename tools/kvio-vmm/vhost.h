/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvio-vmm: the set-up of a device fd that speaks the vhost ABI
 * (/dev/kvio-blk, /dev/kvio-net, /dev/vhost-net), shared by blk.c and net.c.
 */
#ifndef KVIO_VMM_VHOST_H
#define KVIO_VMM_VHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "virtio-pci.h"

/*
 * The virtio feature bits the vhost core acts on itself: the guest may ack
 * them whenever the backend offers them.
 */
#define VHOST_VMM_RING_FEATURES	((1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
				 (1ULL << VIRTIO_RING_F_EVENT_IDX) |	 \
				 (1ULL << VIRTIO_F_VERSION_1))

/*
 * open() @path and VHOST_SET_OWNER; *features from VHOST_GET_FEATURES.
 * @hint names the module to load when the node is missing.  fd or -1, with
 * a message.
 */
int vhost_open(const char *path, const char *hint, uint64_t *features);

/* VHOST_SET_FEATURES (@features) and VHOST_SET_MEM_TABLE (all guest RAM). */
int vhost_start(int fd, struct vmm *vm, uint64_t features);

/*
 * Ring @index of @fd from queue @q: NUM, BASE 0, ADDR, KICK, CALL
 * (@call_efd, -1 for none).  The addresses are guest-physical, translated
 * with vmm_gpa (bounds checked), or with @iova IOVAs the device translates
 * itself (virtio_uses_iova()); alignment is checked either way.  0 or -1
 * with a message.
 */
int vhost_vring_start(int fd, struct vmm *vm, unsigned int index,
		      const struct virtio_queue *q, int call_efd, bool iova);
/*
 * The "queues=N" value of a --disk or --net SPEC: N in 1..min(@max,
 * VMM_MAX_CPUS) into *@n, 0; else -1 with the reason in @why.
 */
int vmm_spec_queues(const char *val, unsigned int max, unsigned int *n,
		    char *why, size_t whylen);

/* Stop ring @index (GET_VRING_BASE) and unbind its eventfds. */
void vhost_vring_stop(int fd, unsigned int index);

#endif /* KVIO_VMM_VHOST_H */
