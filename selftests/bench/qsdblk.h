/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * qsdblk: QEMU's own virtio-blk server as a blk-bench backend.
 *
 * qemu-storage-daemon exports the disk as a vhost-user-blk device
 * (libvhost-user, QEMU's block layer, one iothread, aio=io_uring,
 * cache.direct=on); qsdblk is the vhost-user front end a VMM would be: it
 * starts the daemon, hands it the guest memory (the memfd), the rings and
 * their kick and call eventfds over the vhost-user socket, and stops it.
 * The guest side stays blk-bench's own, as for kvio and uvblk.
 */
#ifndef QSDBLK_H
#define QSDBLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Guest memory and rings are described as for uvblk. */
#include "uvblk.h"

struct qsdblk;

/*
 * Starts qemu-storage-daemon (@qsd: its path) serving @path (a block device
 * or a regular file, opened by the daemon with O_DIRECT) with @nq queues,
 * its threads bound to @cpu (-1: anywhere), and sets up the rings (in the
 * memfd @mem->fd, mapped here at @mem->hva) with
 * @features (must include VIRTIO_F_VERSION_1).  Returns NULL with errno set
 * (and a line on stderr) on failure.
 */
struct qsdblk *qsdblk_start(const char *qsd, const char *path,
			    const struct uvblk_mem *mem,
			    const struct uvblk_ring *rings, unsigned int nq,
			    uint64_t features, int cpu);
/* The daemon's pid: every thread of it serves the device. */
pid_t qsdblk_pid(const struct qsdblk *q);
/* Closes the connection, stops the daemon, frees everything. */
void qsdblk_stop(struct qsdblk *q);

#endif /* QSDBLK_H */
