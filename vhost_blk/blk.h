/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvio_blk internals: one device per open of /dev/kvio-blk, up to
 * KVIO_BLK_VQ_MAX request queues sharing one backend (a regular file or a
 * block device).
 *
 * Locking, on top of the engine's (include/kvio/vhost.h):
 *  - blk->backend and blk->cfg: dev->mutex.
 *  - blk->params and each ring's backend pointer: written with dev->mutex
 *    and every vq->mutex held, read by the handlers with their own
 *    vq->mutex, so a handler sees one configuration for a whole request.
 *  - struct kvio_blk_vq: its vq->mutex, but for @done and @inflight, which
 *    I/O completions touch from any context (lock-free).
 *
 * Request life: the kick handler reads a chain, checks it and either answers
 * it at once (bad requests, GET_ID, FLUSH, DISCARD, WRITE_ZEROES, buffered
 * I/O) or submits a kiocb.  The kiocb's completion (any context, often an
 * interrupt) only puts the request on @done and queues @done_work; that work
 * runs on the ring's worker, writes status bytes and used entries and frees
 * the requests.  @inflight counts requests taken from the ring whose used
 * entries are not published yet (it drops only after they are): detach,
 * RESET_OWNER, release and GET_VRING_BASE wait for it to drop to 0, so no
 * request is lost or completed after the ring stopped, and the used index
 * they leave behind is final.
 *
 * Behind a vIOMMU, an UNMAP must not complete while a request whose
 * buffers it covered can still write them.  Requests are counted in one of
 * two epochs (@epoch_reqs, the request's until its status byte and used
 * entry are written); kvio_blk_sync_translation() moves the ring to the
 * other epoch and waits for the old one to empty.  It is bounded by the
 * requests in flight at the call, not by those the guest keeps adding.
 * blk->sync_mutex serialises callers (vIOMMU locks -> blk->sync_mutex ->
 * vq->mutex).
 */
#ifndef _KVIO_BLK_H
#define _KVIO_BLK_H

#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/sizes.h>
#include <linux/virtio_blk.h>
#include <linux/wait.h>

#include <kvio/vhost.h>

/* struct kvio_blk_params, KVIO_BLK_MAX_REQ_BYTES, the request parser. */
#include "parse.h"

/* Request queues per device: the VMM uses as many as it sets up. */
#define KVIO_BLK_VQ_MAX		16

/* Iovecs one chain may need: header, data segments, status. */
#define KVIO_BLK_IOV_LIMIT	UIO_MAXIOV
/* Data segments per request a VMM may configure: what is left of them. */
#define KVIO_BLK_SEG_MAX	(KVIO_BLK_IOV_LIMIT - 2)
/*
 * Data segments per request when the VMM does not say (what QEMU offers for
 * a 256-entry ring).  A segment takes one iovec per memory region or IOTLB
 * entry it touches, and a chain that needs more than KVIO_BLK_IOV_LIMIT
 * cannot be read at all (the ring breaks): the rest is room for those
 * splits.  A VMM that configures more must know its guest's segments rarely
 * cross a region (Documentation/blk.rst).
 */
#define KVIO_BLK_SEG_MAX_DEFAULT	254

/*
 * DISCARD and WRITE_ZEROES run synchronously in the worker, under the ring's
 * mutex, and may have to write zeroes as data: one request covers at most
 * KVIO_BLK_DWZ_SECTORS_MAX sectors (256 MiB) in all its segments together,
 * so SET_CONFIG refuses max_*_sectors * max_*_seg above it.
 */
#define KVIO_BLK_DWZ_SECTORS_MAX	(SZ_256M >> SECTOR_SHIFT)
#define KVIO_BLK_DWZ_SEG_MAX		256

/* Fairness between rings sharing a worker, per handler run. */
#define KVIO_BLK_WEIGHT		256
#define KVIO_BLK_BYTE_WEIGHT	(16 << 20)
/* What a FLUSH counts against the byte weight: 4 per run. */
#define KVIO_BLK_FLUSH_WEIGHT	(KVIO_BLK_BYTE_WEIGHT / 4)

/* Used entries gathered before they are published. */
#define KVIO_BLK_BATCH		64

/* Dirty-log entries a request carries without a separate allocation. */
#define KVIO_BLK_INLINE_LOG	4

struct kvio_blk_req;

/* The file the device reads and writes, shared by every ring. */
struct kvio_blk_backend {
	struct file *file;
	u64 nr_sectors;		/* size when attached, 512-byte sectors */
	unsigned int lbs;	/* smallest I/O unit the backend takes */
	unsigned int dio_align;	/* buffer alignment O_DIRECT needs */
	bool is_bdev;
	bool ro;		/* not open for writing, or a read-only bdev */
};

struct kvio_blk_vq {
	struct kvio_vq vq;

	/* Completed requests, pushed from any context, popped by done_work. */
	struct llist_head done;
	struct kvio_work done_work;
	atomic_t inflight;
	/* Requests per epoch; new ones join @epoch (vq->mutex). */
	atomic_t epoch_reqs[2];
	unsigned int epoch;
	/* A request went asynchronous since the backend was attached. */
	bool async;

	/* Used entries not yet published: heads[0 .. nr_heads). */
	unsigned int nr_heads;
	/* Requests freed whose used entries are not published yet. */
	unsigned int nr_ended;
	/*
	 * The handler left chains on the ring (cap of vq->num requests in
	 * flight reached: the pool is empty):
	 * the next publish that ends requests queues it again.
	 */
	bool held;
	struct vring_used_elem heads[KVIO_BLK_BATCH];

	/*
	 * While a backend is attached: vq->num requests, those not in flight
	 * on @free_reqs, and the DISCARD/WRITE_ZEROES segment buffer.
	 */
	struct kvio_blk_req *reqs;
	struct llist_node *free_reqs;
	struct virtio_blk_discard_write_zeroes *dwz_segs;
};

struct kvio_blk {
	struct kvio_dev dev;
	struct kvio_blk_vq vqs[KVIO_BLK_VQ_MAX];
	struct kvio_vq *vq_ptrs[KVIO_BLK_VQ_MAX];

	struct kvio_blk_backend *backend;
	struct kvio_blk_config cfg;	/* as the VMM set it */
	struct kvio_blk_params params;

	/* Woken when a ring's inflight or an epoch count drops to 0. */
	wait_queue_head_t idle;
	struct mutex sync_mutex;	/* kvio_blk_sync_translation() */
};

static inline struct kvio_blk_vq *to_blk_vq(struct kvio_vq *vq)
{
	return container_of(vq, struct kvio_blk_vq, vq);
}

static inline struct kvio_blk *to_blk(struct kvio_vq *vq)
{
	return container_of(vq->dev, struct kvio_blk, dev);
}

/* req.c: the data path. */
int kvio_blk_vq_alloc_pool(struct kvio_blk_vq *bvq);
void kvio_blk_vq_free_pool(struct kvio_blk_vq *bvq);
void kvio_blk_handle_kick(struct kvio_work *work);
void kvio_blk_done_work(struct kvio_work *work);
/* Wait until no request of @bvq is in flight; no vq->mutex held. */
void kvio_blk_vq_drain(struct kvio_blk_vq *bvq);
void kvio_blk_sync_translation(struct kvio_dev *dev);

#endif /* _KVIO_BLK_H */
