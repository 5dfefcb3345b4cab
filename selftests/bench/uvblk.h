/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * uvblk: a userspace virtio-blk backend, the comparison point of blk-bench.
 *
 * It serves split rings that live in the caller's (the "guest's") memory the
 * way QEMU serves a virtio-blk disk with one iothread per queue
 * (iothread-vq-mapping), aio=io_uring and cache=none:
 *
 *  - one thread per ring with an io_uring of its own; the thread sleeps in
 *    io_uring_enter() until a kick (an IORING_OP_READ of the ring's kick
 *    eventfd, always posted) or an I/O completion arrives;
 *  - on a kick it pops every available chain (notifications off while it
 *    does, EVENT_IDX: avail_event written at the end and the ring read once
 *    more), turns each into a readv/writev SQE on the backend fd (opened
 *    O_DIRECT by the caller), and submits them all with one
 *    io_uring_enter(), the same call that then waits;
 *  - completions are reaped in a batch: status bytes, used entries, one
 *    used->idx update, and one write to the call eventfd when the driver's
 *    used_event asks for it (EVENT_IDX) or it has not set NO_INTERRUPT.
 *
 * QEMU does more (its adaptive polling of the ring before sleeping,
 * bounce buffers, request merging, a BH between completion and
 * notification); none of it is here.  Chains are checked (bounded walks,
 * every address inside guest memory, the header and status byte wherever
 * the descriptors put them, ranges against the capacity): a bad one is
 * answered IOERR, one without a status byte stops the ring.
 */
#ifndef UVBLK_H
#define UVBLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/virtio_ring.h>

#define UVBLK_MAXQ 16

/*
 * Guest memory: one region, guest-physical gpa mapped at hva; fd is the
 * memfd behind it (for a backend in another process: qsdblk.h).
 */
struct uvblk_mem {
	int fd;
	uint64_t gpa;
	uint8_t *hva;
	uint64_t size;
};

/* One ring as the driver laid it out (pointers into guest memory). */
struct uvblk_ring {
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	unsigned int num;	/* power of two, <= 32768 */
	int kick;		/* eventfd the driver writes (EFD_NONBLOCK) */
	int call;		/* eventfd the backend writes */
};

/* Per-ring counters (read after uvblk_stop, or racy while running). */
struct uvblk_stats {
	uint64_t reqs;		/* chains answered */
	uint64_t kicks;		/* kick eventfd reads that completed */
	uint64_t calls;		/* call eventfd writes */
	uint64_t enters;	/* io_uring_enter() calls (submit and wait) */
};

struct uvblk;

/*
 * Starts one iothread per ring on fd (a block device or regular file, open
 * read-write, O_DIRECT for cache=none); capacity in 512-byte sectors;
 * event_idx: the driver negotiated VIRTIO_RING_F_EVENT_IDX.  The rings'
 * used->idx must equal their avail->idx (both start at 0 here).  Returns
 * NULL with errno set on failure.
 */
struct uvblk *uvblk_start(const struct uvblk_mem *mem,
			  const struct uvblk_ring *rings, unsigned int nq,
			  int fd, uint64_t capacity, bool event_idx);
/* Thread id of ring qi's iothread (0 before it started). */
pid_t uvblk_tid(struct uvblk *u, unsigned int qi);
/* A snapshot of ring qi's counters. */
void uvblk_stats(struct uvblk *u, unsigned int qi, struct uvblk_stats *st);
/*
 * Stops every iothread once the I/O it submitted has ended, frees
 * everything.  Returns 0, or the first error an iothread met (-errno;
 * -EPROTO for a ring it had to stop).
 */
int uvblk_stop(struct uvblk *u);

#endif /* UVBLK_H */
