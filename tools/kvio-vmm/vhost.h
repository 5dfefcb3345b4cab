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
 * Rings 0..@n-1 of @fd from @vdev's queues @q0..@q0+@n-1, those the driver
 * enabled: NUM, BASE 0, ADDR, KICK (the queue's ioeventfd), CALL (its
 * vector's irqfd), and with @poll_us a busy-loop timeout (the SPEC's
 * poll=).  The addresses are guest-physical, translated with
 * vmm_gpa (bounds checked), or with ACCESS_PLATFORM acked IOVAs the device
 * translates itself (virtio_uses_iova()); alignment is checked either way.
 * Each ring started sets its bit in *@started.  0 or -1 with a message.
 */
int vhost_queues_start(int fd, struct virtio_dev *vdev, unsigned int q0,
		       unsigned int n, unsigned int poll_us, uint32_t *started);
/*
 * A number in a --disk or --net SPEC (@name=@val): decimal, @min..@max,
 * into *@n, 0; else -1 with the reason in @why.
 */
int vmm_spec_uint(const char *val, const char *name, unsigned long min,
		  unsigned long max, unsigned int *n, char *why, size_t whylen);
/* "queues=N": N in 1..min(@max, VMM_MAX_CPUS). */
int vmm_spec_queues(const char *val, unsigned int max, unsigned int *n,
		    char *why, size_t whylen);
/*
 * "poll=US": microseconds a ring's worker polls it for more before it
 * waits for a kick (VHOST_SET_VRING_BUSYLOOP_TIMEOUT), at most a second.
 */
#define VMM_POLL_MAX_US		1000000

/* Stop the rings of @fd set in *@started (GET_VRING_BASE), unbind their eventfds. */
void vhost_queues_stop(int fd, uint32_t *started);

#endif /* KVIO_VMM_VHOST_H */
