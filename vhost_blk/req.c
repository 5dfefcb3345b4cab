// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_blk data path: virtio-blk requests (virtio 1.2, 5.2.6) read from a
 * ring, checked, and served from the backend file.
 *
 * Every chain is checked by the request parser (parse.c, the way QEMU's
 * virtio-blk checks it) before a byte reaches the backend: it breaks the
 * ring, is answered at once, or is served as the parser worked it out.
 *
 * Reads and writes are kiocbs on the backend file, asynchronous when the file
 * is open with O_DIRECT (many in flight per ring); the completion only queues
 * the request for the ring's worker (blk.h).  Guest buffers are the owner's
 * user addresses: the worker, which has adopted the owner's mm, hands them to
 * the file as an ITER_IOVEC straight from the chain, so the filesystem or
 * block layer pins pages with the right direction and unpins them when the
 * I/O ends.  As for aio(7), the file is done with the iovecs once the call
 * returns; only the request's own state lives on.  Requests come from a pool
 * of one per ring entry, made when the backend is attached: the data path
 * allocates nothing but the copy of a long dirty-log list.  FLUSH, GET_ID,
 * DISCARD and WRITE_ZEROES are answered in the worker.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/fsnotify.h>
#include <linux/highmem.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/stat.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "blk.h"

/* A read or write, from submission to its used entry. */
struct kvio_blk_req {
	struct kiocb iocb;
	/* On bvq->done once the I/O ended, on bvq->free_reqs while unused. */
	struct llist_node node;
	struct kvio_blk_vq *bvq;
	struct kvio_log *log;		/* writable buffers, for the dirty log */
	unsigned int log_num;
	u8 __user *status;
	u32 data_len;
	u32 used_len;			/* bytes the device may have written */
	u16 head;
	bool write;
	u8 epoch;			/* bvq->epoch_reqs[] it counts in */
	long res;
	struct kvio_log inline_log[KVIO_BLK_INLINE_LOG];
};

/* One chain being answered; lives for one turn of the kick handler. */
struct kvio_blk_chain {
	struct kvio_blk_vq *bvq;
	struct kvio_blk_backend *be;
	const struct kvio_blk_params *p;
	unsigned int head;
	unsigned int log_num;	/* entries in vq->log */
	struct kvio_desc_info info;
	/* The chain (iovecs in vq->iov) and what the parser made of it. */
	struct kvio_blk_parse r;
};

/* Pools. */

/*
 * A request for every entry of the ring and room for one DISCARD or
 * WRITE_ZEROES segment list: the cap of vq->num requests in flight is the
 * pool running dry, and no allocation can fail under a guest's I/O.
 * dev->mutex held (vq->num cannot change), no backend yet.
 */
int kvio_blk_vq_alloc_pool(struct kvio_blk_vq *bvq)
{
	unsigned int i, num = bvq->vq.num;

	bvq->free_reqs = NULL;
	if (!num)
		return 0;
	bvq->reqs = kvcalloc(num, sizeof(*bvq->reqs), GFP_KERNEL_ACCOUNT);
	bvq->dwz_segs = kmalloc_array(KVIO_BLK_DWZ_SEG_MAX,
				      sizeof(*bvq->dwz_segs),
				      GFP_KERNEL_ACCOUNT);
	if (!bvq->reqs || !bvq->dwz_segs) {
		kvio_blk_vq_free_pool(bvq);
		return -ENOMEM;
	}
	for (i = 0; i < num; i++) {
		bvq->reqs[i].bvq = bvq;
		bvq->reqs[i].node.next = bvq->free_reqs;
		bvq->free_reqs = &bvq->reqs[i].node;
	}
	return 0;
}

/* Nothing in flight any more (kvio_blk_vq_drain()). */
void kvio_blk_vq_free_pool(struct kvio_blk_vq *bvq)
{
	kvfree(bvq->reqs);
	bvq->reqs = NULL;
	kfree(bvq->dwz_segs);
	bvq->dwz_segs = NULL;
	bvq->free_reqs = NULL;
}

/* Used entries. */

/*
 * Used entries out, then the requests they answer stop counting as in flight:
 * a drain (GET_VRING_BASE, detach) that sees none in flight also sees their
 * used entries, and a ring held back at its cap takes chains again.
 */
static void kvio_blk_publish(struct kvio_blk_vq *bvq)
{
	struct kvio_blk *blk = to_blk(&bvq->vq);
	unsigned int ended = bvq->nr_ended;

	if (bvq->nr_heads)
		kvio_vq_add_used_and_signal_n(&bvq->vq, bvq->heads,
					      bvq->nr_heads);
	bvq->nr_heads = 0;
	if (!ended)
		return;
	bvq->nr_ended = 0;
	/* wq_has_sleeper() orders the decrement before its check. */
	if (atomic_sub_and_test(ended, &bvq->inflight) &&
	    wq_has_sleeper(&blk->idle))
		wake_up(&blk->idle);
	/* Room again: the handler takes the chains it left on the ring. */
	if (bvq->held) {
		bvq->held = false;
		kvio_poll_queue(&bvq->vq.poll);
	}
}

/*
 * The end of every request: status byte, dirty log for everything the device
 * may have written (@log_len bytes from the start of the writable part, the
 * status byte included), used entry.  vq->mutex held, in the worker.
 */
static void kvio_blk_complete(struct kvio_blk_vq *bvq, unsigned int head,
			      u8 __user *status_ptr, u8 status, u32 used_len,
			      struct kvio_log *log, unsigned int log_num,
			      u64 log_len)
{
	struct kvio_vq *vq = &bvq->vq;
	struct vring_used_elem *elem;

	/*
	 * The buffer was reachable when the chain was read; if it is not any
	 * more (the VMM changed the memory table under the request), a used
	 * entry would show the guest a stale status: stop the ring instead.
	 * No status pointer: a chain whose status byte is outside its vIOMMU
	 * domain, used with nothing written.
	 */
	if (status_ptr && put_user(status, status_ptr)) {
		kvio_vq_set_broken(vq, "status byte unreachable");
		return;
	}
	kvio_log_write(vq, log, log_num, log_len);

	if (bvq->nr_heads == KVIO_BLK_BATCH)
		kvio_blk_publish(bvq);
	elem = &bvq->heads[bvq->nr_heads++];
	elem->id = cpu_to_kvio32(vq, head);
	elem->len = cpu_to_kvio32(vq, used_len);
}

/* Answer the chain now; the handler goes on with the next one. */
static int kvio_blk_reply(struct kvio_blk_chain *c, u8 status)
{
	kvio_blk_complete(c->bvq, c->head, c->r.status, status, c->r.used_len,
			  c->bvq->vq.log, c->log_num, c->r.in_len);
	return 0;
}

static bool kvio_blk_writethrough(struct kvio_blk_chain *c)
{
	/* 5.2.6.2: a driver without FLUSH cannot ask for durability. */
	return c->p->writethrough ||
	       !kvio_vq_has_feature(&c->bvq->vq, VIRTIO_BLK_F_FLUSH);
}

/*
 * Read-only: the VMM said so, the backend cannot be written, or the guest
 * acked VIRTIO_BLK_F_RO (a device that offered it must refuse writes).
 */
static bool kvio_blk_ro(struct kvio_blk_chain *c)
{
	return c->p->ro || kvio_vq_has_feature(&c->bvq->vq, VIRTIO_BLK_F_RO);
}

/* Requests in flight. */

/* The handler checked that the pool is not empty.  vq->mutex held. */
static struct kvio_blk_req *kvio_blk_req_get(struct kvio_blk_vq *bvq)
{
	struct llist_node *node = bvq->free_reqs;
	struct kvio_blk_req *req = container_of(node, struct kvio_blk_req,
						node);

	bvq->free_reqs = node->next;
	atomic_inc(&bvq->inflight);
	req->epoch = bvq->epoch;
	atomic_inc(&bvq->epoch_reqs[req->epoch]);
	return req;
}

/*
 * Back to the pool; the request stays in flight until its used entry is
 * published (kvio_blk_publish()).  vq->mutex held.
 */
static void kvio_blk_req_put(struct kvio_blk_req *req)
{
	struct kvio_blk_vq *bvq = req->bvq;

	if (req->log != req->inline_log && req->log != bvq->vq.log)
		kvfree(req->log);
	req->node.next = bvq->free_reqs;
	bvq->free_reqs = &req->node;
	bvq->nr_ended++;
}

/*
 * The request's I/O is over: give back what submission took.  @queued: it
 * ended in its completion (compat.h says who holds freeze protection).
 */
static void kvio_blk_rw_end(struct kvio_blk_req *req, long res, bool queued)
{
	if (req->write)
		kvio_kiocb_end_write(&req->iocb, queued);
	req->res = res;
}

/* vq->mutex held, in the worker. */
static void kvio_blk_req_finish(struct kvio_blk_req *req)
{
	u8 status = req->res == req->data_len ? VIRTIO_BLK_S_OK :
						VIRTIO_BLK_S_IOERR;

	struct kvio_blk_vq *bvq = req->bvq;
	struct kvio_blk *blk = to_blk(&bvq->vq);
	unsigned int epoch = req->epoch;

	kvio_blk_complete(bvq, req->head, req->status, status,
			  req->used_len, req->log, req->log_num, req->used_len);
	kvio_blk_req_put(req);
	/* Nothing of the guest's is written for it any more. */
	if (atomic_dec_and_test(&bvq->epoch_reqs[epoch]) &&
	    wq_has_sleeper(&blk->idle))
		wake_up(&blk->idle);
}

/*
 * ki_complete: any context, often an interrupt.  The request goes to the
 * ring's worker; nothing here touches the ring.  The RCU read section covers
 * the ring and its worker, used after the request became visible to the
 * worker (which may then free it and let a drain finish): teardown waits for
 * a grace period before it frees either (kvio_blk_detach()).
 */
static void kvio_blk_rw_complete(struct kiocb *iocb, long res)
{
	struct kvio_blk_req *req = container_of(iocb, struct kvio_blk_req,
						iocb);
	struct kvio_blk_vq *bvq = req->bvq;

	kvio_blk_rw_end(req, res, true);
	rcu_read_lock();
	llist_add(&req->node, &bvq->done);
	kvio_vq_work_queue(&bvq->vq, &bvq->done_work);
	rcu_read_unlock();
}

void kvio_blk_done_work(struct kvio_work *work)
{
	struct kvio_blk_vq *bvq = container_of(work, struct kvio_blk_vq,
					       done_work);
	struct kvio_blk_req *req, *next;
	struct llist_node *node;

	mutex_lock(&bvq->vq.mutex);
	node = llist_reverse_order(llist_del_all(&bvq->done));
	llist_for_each_entry_safe(req, next, node, node)
		kvio_blk_req_finish(req);
	kvio_blk_publish(bvq);
	/*
	 * A busy-polling ring: the guest answers completions with its next
	 * requests, which the handler watches for (kvio_blk_ring_idle())
	 * instead of having the guest kick.  A run that found nothing (its
	 * completions taken by the run before) starts no poll.
	 */
	if (node && bvq->vq.busyloop_timeout && !kvio_vq_stopped(&bvq->vq))
		kvio_poll_queue(&bvq->vq.poll);
	mutex_unlock(&bvq->vq.mutex);
}

void kvio_blk_vq_drain(struct kvio_blk_vq *bvq)
{
	struct kvio_blk *blk = to_blk(&bvq->vq);

	wait_event(blk->idle, !atomic_read(&bvq->inflight));
}

/*
 * ops->sync_translation: the endpoint's domain lost mappings.  Every
 * request taken before this call has written all it will write (data,
 * status byte) when it returns; requests taken after it translate through
 * the domain as it is now.  No lock of the device held.
 */
void kvio_blk_sync_translation(struct kvio_dev *dev)
{
	struct kvio_blk *blk = container_of(dev, struct kvio_blk, dev);
	int i;

	mutex_lock(&blk->sync_mutex);
	for (i = 0; i < dev->nvqs; i++) {
		struct kvio_blk_vq *bvq = to_blk_vq(dev->vqs[i]);
		unsigned int old;

		mutex_lock(&bvq->vq.mutex);
		old = bvq->epoch;
		bvq->epoch = !old;
		mutex_unlock(&bvq->vq.mutex);
		wait_event(blk->idle, !atomic_read(&bvq->epoch_reqs[old]));
	}
	mutex_unlock(&blk->sync_mutex);
}

/* The request's data, as the parser found it in the chain. */
static void kvio_blk_data_iter(const struct kvio_blk_parse *r, bool write,
			       struct iov_iter *iter)
{
	/* (For IN the count leaves the status byte out.) */
	iov_iter_init(iter, write ? ITER_SOURCE : ITER_DEST, r->iov + r->first,
		      r->nr_segs, r->skip + r->data_len);
	iov_iter_advance(iter, r->skip);
}

static ssize_t kvio_blk_file_rw(struct file *file, struct kiocb *iocb,
				struct iov_iter *iter, bool write)
{
	return write ? vfs_iocb_iter_write(file, iocb, iter) :
		       vfs_iocb_iter_read(file, iocb, iter);
}

/* Hand the request to the file.  vq->mutex held, in the worker. */
static void kvio_blk_submit(struct kvio_blk_chain *c,
			    struct kvio_blk_req *req, loff_t pos, bool sync)
{
	const struct kvio_blk_parse *r = &c->r;
	struct file *file = c->be->file;
	struct kiocb *iocb = &req->iocb;
	struct iov_iter iter;
	bool direct;
	ssize_t ret;

	kvio_blk_data_iter(r, req->write, &iter);
	init_sync_kiocb(iocb, file);
	/*
	 * Flags come from the file as the owner has it now (F_SETFL may have
	 * set O_APPEND since attach): a disk writes where it is told.
	 */
	iocb->ki_flags &= ~IOCB_APPEND;
	iocb->ki_pos = pos;
	if (!sync)
		iocb->ki_complete = kvio_blk_rw_complete;
	/*
	 * O_DIRECT wants aligned buffers: anything else goes through the page
	 * cache (correct, only slower), like QEMU's bounce buffers.
	 */
	direct = iocb->ki_flags & IOCB_DIRECT;
	if (direct && ((pos | req->data_len | iov_iter_alignment(&iter)) &
		       (c->be->dio_align - 1))) {
		iocb->ki_flags &= ~IOCB_DIRECT;
		direct = false;
	}
	if (req->write) {
		if (kvio_blk_writethrough(c))
			iocb->ki_flags |= IOCB_DSYNC;
		iocb->ki_flags |= IOCB_WRITE;
		kvio_kiocb_start_write(iocb);
	}
	ret = kvio_blk_file_rw(file, iocb, &iter, req->write);
	/*
	 * A filesystem whose O_DIRECT alignment we could not learn refuses
	 * before it starts: once more through the page cache.
	 */
	if (ret == -EINVAL && direct) {
		kvio_blk_data_iter(r, req->write, &iter);
		iocb->ki_flags &= ~IOCB_DIRECT;
		ret = kvio_blk_file_rw(file, iocb, &iter, req->write);
	}
	if (ret == -EIOCBQUEUED) {
		/* The request may be gone already: kvio_blk_rw_complete(). */
		WRITE_ONCE(c->bvq->async, true);
		return;
	}
	/* Done (page cache, @sync) or refused: no completion will come. */
	kvio_blk_rw_end(req, ret, false);
	kvio_blk_req_finish(req);
}

/* IN and OUT, as the parser laid them out, on a request from the pool. */
static int kvio_blk_rw(struct kvio_blk_chain *c, u64 *bytes)
{
	const struct kvio_blk_parse *r = &c->r;
	struct kvio_vq *vq = &c->bvq->vq;
	struct kvio_blk_req *req = kvio_blk_req_get(c->bvq);
	bool sync = false;

	/*
	 * The dirty log is written when the I/O ends, from the request's own
	 * copy of the chain's writable buffers.  A long list whose copy
	 * cannot be allocated is served synchronously, from vq->log.
	 */
	req->log_num = c->log_num;
	if (c->log_num <= KVIO_BLK_INLINE_LOG) {
		req->log = req->inline_log;
	} else {
		/* Bounded by the ring's iov_limit. */
		req->log = kvmalloc_array(c->log_num, sizeof(*req->log),
					  GFP_KERNEL_ACCOUNT);
		if (!req->log) {
			req->log = vq->log;
			sync = true;
		}
	}
	if (req->log != vq->log)
		memcpy(req->log, vq->log, c->log_num * sizeof(*req->log));
	req->status = r->status;
	req->data_len = r->data_len;
	req->used_len = r->used_len;
	req->head = c->head;
	req->write = r->type == VIRTIO_BLK_T_OUT;
	*bytes += r->data_len;
	/* In range: sector < 2^55, the shift cannot overflow. */
	kvio_blk_submit(c, req, r->sector << SECTOR_SHIFT, sync);
	return 0;
}

static int kvio_blk_flush(struct kvio_blk_chain *c, u64 *bytes)
{
	int ret;

	/*
	 * It waits for a write-back and a device cache flush: it counts as
	 * KVIO_BLK_FLUSH_WEIGHT bytes, so one run does a few, not
	 * KVIO_BLK_WEIGHT.
	 */
	*bytes += KVIO_BLK_FLUSH_WEIGHT;

	/*
	 * Everything the guest saw complete is stable after this: the page
	 * cache is written back and the device cache flushed (for a block
	 * device blkdev_fsync() ends in blkdev_issue_flush()).
	 */
	ret = vfs_fsync(c->be->file, 1);
	return kvio_blk_reply(c, ret ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

static int kvio_blk_get_id(struct kvio_blk_chain *c)
{
	const struct kvio_blk_parse *r = &c->r;
	struct kvio_vq *vq = &c->bvq->vq;
	struct iov_iter iter;
	size_t n = r->id_len;

	iov_iter_init(&iter, ITER_DEST, vq->iov + r->out, r->in,
		      r->in_len - 1);
	if (copy_to_iter(c->p->serial, n, &iter) != n)
		return kvio_blk_reply(c, VIRTIO_BLK_S_IOERR);
	return kvio_blk_reply(c, VIRTIO_BLK_S_OK);
}

/* Zeroes written as data: the fallback of every other way. */
static int kvio_blk_write_zero_pages(struct file *file, loff_t pos, u64 len)
{
	struct bio_vec bv[16];
	struct iov_iter iter;
	struct kiocb kiocb;
	unsigned int i;
	ssize_t ret;

	for (i = 0; i < ARRAY_SIZE(bv); i++) {
		bv[i].bv_page = ZERO_PAGE(0);
		bv[i].bv_offset = 0;
		bv[i].bv_len = PAGE_SIZE;
	}
	while (len) {
		size_t chunk = min_t(u64, len, ARRAY_SIZE(bv) * PAGE_SIZE);

		iov_iter_bvec(&iter, ITER_SOURCE, bv,
			      DIV_ROUND_UP(chunk, PAGE_SIZE), chunk);
		init_sync_kiocb(&kiocb, file);
		/* Through the page cache (synchronous), at @pos. */
		kiocb.ki_flags &= ~(IOCB_DIRECT | IOCB_APPEND);
		kiocb.ki_pos = pos;
		kiocb.ki_flags |= IOCB_WRITE;
		kvio_kiocb_start_write(&kiocb);
		ret = vfs_iocb_iter_write(file, &kiocb, &iter);
		kvio_kiocb_end_write(&kiocb, false);
		if (ret <= 0)
			return ret ? ret : -EIO;
		pos += ret;
		len -= ret;
		cond_resched();
	}
	return 0;
}

static int kvio_blk_discard(struct kvio_blk_backend *be, loff_t pos, u64 len)
{
	struct file *file = be->file;
	int ret;

	/*
	 * vfs_fallocate() refuses a swap device or file (swapon after the
	 * attach); the block-device path below does not look, so look here.
	 */
	if (IS_SWAPFILE(file->f_mapping->host))
		return -ETXTBSY;
	if (be->is_bdev) {
		struct address_space *mapping = file->f_mapping;
		struct block_device *bdev = I_BDEV(mapping->host);

		/*
		 * The steps of BLKDISCARD (blk_ioctl_discard(), which takes a
		 * user pointer and so cannot be called from here): under the
		 * invalidate lock, claim the device, drop the range's page
		 * cache, discard.  Not fallocate(): a block device's
		 * fallocate() deallocates with REQ_OP_DISCARD only for
		 * FALLOC_FL_NO_HIDE_STALE, which fallocate(2) filters and
		 * newer kernels (6.12 here) no longer accept at all.
		 *
		 * One rule is stricter than BLKDISCARD's: with another
		 * holder (a mounted file system, a RAID or LVM member,
		 * another O_EXCL open) BLKDISCARD falls back to invalidating
		 * the cache and discards if that works, pulling blocks from
		 * under the holder; here the claim fails and the guest gets
		 * IOERR.  The holder we claim as is the backend file itself,
		 * which is the device's holder when the VMM opened it O_EXCL,
		 * so that open keeps its discards.  The claim is held over
		 * the discard, so nothing mounts the range in between.
		 *
		 * Of what vfs_fallocate() adds, the fsnotify event is ours to
		 * send; its LSM recheck is not exported (the LSM saw the owner
		 * open the device).
		 */
		filemap_invalidate_lock(mapping);
		ret = bd_prepare_to_claim(bdev, file, NULL);
		if (!ret) {
			truncate_inode_pages_range(mapping, pos,
						   pos + len - 1);
			ret = blkdev_issue_discard(bdev, pos >> SECTOR_SHIFT,
						   len >> SECTOR_SHIFT,
						   GFP_KERNEL);
			bd_abort_claiming(bdev, file);
		}
		filemap_invalidate_unlock(mapping);
		if (!ret)
			fsnotify_modify(file);
	} else {
		ret = vfs_fallocate(file, FALLOC_FL_PUNCH_HOLE |
				    FALLOC_FL_KEEP_SIZE, pos, len);
	}
	/* A hint: a backend that cannot deallocate keeps the data. */
	return ret == -EOPNOTSUPP ? 0 : ret;
}

static int kvio_blk_write_zeroes(struct kvio_blk_backend *be, loff_t pos,
				 u64 len, bool unmap, bool writethrough)
{
	struct file *file = be->file;
	int ret = -EOPNOTSUPP;

	/*
	 * Unmap allowed: a hole reads as zeroes (for a block device,
	 * blkdev_issue_zeroout() that may unmap, never writes).  Else, or if
	 * the backend cannot: zeroes in place, then written ones.
	 */
	if (unmap)
		ret = vfs_fallocate(file, FALLOC_FL_PUNCH_HOLE |
				    FALLOC_FL_KEEP_SIZE, pos, len);
	if (ret == -EOPNOTSUPP)
		ret = vfs_fallocate(file, FALLOC_FL_ZERO_RANGE |
				    FALLOC_FL_KEEP_SIZE, pos, len);
	if (ret == -EOPNOTSUPP)
		ret = kvio_blk_write_zero_pages(file, pos, len);
	if (!ret && writethrough)
		ret = vfs_fsync_range(file, pos, pos + len - 1, 1);
	return ret;
}

/* DISCARD and WRITE_ZEROES, run here in the worker, bounded by the limits. */
static int kvio_blk_dwz(struct kvio_blk_chain *c, u64 *bytes)
{
	struct kvio_blk_parse *r = &c->r;
	struct virtio_blk_discard_write_zeroes *segs;
	unsigned int nr_segs = r->dwz_segs, i;
	bool wz = r->type == VIRTIO_BLK_T_WRITE_ZEROES;
	u8 status;
	int ret = 0;

	/*
	 * Copied once, into the ring's buffer (the parser bounded nr_segs by
	 * KVIO_BLK_DWZ_SEG_MAX): the guest may rewrite them while we work.
	 */
	segs = c->bvq->dwz_segs;
	if (kvio_blk_parse_copy(r, KVIO_BLK_HDR_LEN, segs,
				nr_segs * sizeof(*segs))) {
		status = VIRTIO_BLK_S_IOERR;
		goto out;
	}
	status = kvio_blk_dwz_check(c->p, segs, nr_segs, wz);
	for (i = 0; status == VIRTIO_BLK_S_OK && i < nr_segs; i++) {
		/* Checked: sector + count <= capacity < 2^55. */
		loff_t pos = le64_to_cpu(segs[i].sector) << SECTOR_SHIFT;
		u64 seg_len = (u64)le32_to_cpu(segs[i].num_sectors) <<
			      SECTOR_SHIFT;

		if (wz)
			ret = kvio_blk_write_zeroes(c->be, pos, seg_len,
						    le32_to_cpu(segs[i].flags) &
						    VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
						    kvio_blk_writethrough(c));
		else
			ret = kvio_blk_discard(c->be, pos, seg_len);
		if (ret)
			status = VIRTIO_BLK_S_IOERR;
		*bytes += seg_len;
	}
out:
	return kvio_blk_reply(c, status);
}

/* The parser's read op: the header and segments from the owner's memory. */
static int kvio_blk_read_user(struct kvio_blk_parse *r, void *buf,
			      const void __user *src, size_t len)
{
	return copy_from_user(buf, src, len) ? -EFAULT : 0;
}

/*
 * A chain with buffers outside its vIOMMU domain: nothing is read or
 * written but the status byte, IOERR, if the last buffer (where it is)
 * translated; else it is used with nothing written.  The ring goes on.
 */
static int kvio_blk_fault_reply(struct kvio_blk_chain *c)
{
	struct kvio_vq *vq = &c->bvq->vq;
	const struct iovec *last;

	pr_debug("request %u: a buffer at IOVA %#llx does not translate\n",
		 c->head, c->info.fault_addr);
	c->r.used_len = 0;
	c->r.in_len = 0;
	if (!c->info.tail_mapped || !c->r.in) {
		/* Nothing to log or write: only the used entry. */
		c->r.status = NULL;
		return kvio_blk_reply(c, VIRTIO_BLK_S_IOERR);
	}
	last = &vq->iov[c->r.out + c->r.in - 1];
	c->r.status = (u8 __user *)last->iov_base + last->iov_len - 1;
	c->r.used_len = 1;
	c->r.in_len = 1;
	/* The log holds whole writable buffers: only the status byte's. */
	if (c->log_num) {
		struct kvio_log *l = &vq->log[c->log_num - 1];

		l->addr += l->len - 1;
		l->len = 1;
		vq->log[0] = *l;
		c->log_num = 1;
	}
	return kvio_blk_reply(c, VIRTIO_BLK_S_IOERR);
}

/*
 * One chain, its iovecs in vq->iov and c->r.out, c->r.in and c->r.splits
 * set: 0 when answered or submitted, -EIO when the ring broke.
 */
static int kvio_blk_handle_req(struct kvio_blk_chain *c, u64 *bytes)
{
	struct kvio_vq *vq = &c->bvq->vq;
	struct kvio_blk_parse *r = &c->r;

	r->p = c->p;
	r->iov = vq->iov;
	r->little_endian = kvio_vq_is_little_endian(vq);
	r->ro = kvio_blk_ro(c);
	r->discard = kvio_vq_has_feature(vq, VIRTIO_BLK_F_DISCARD);
	r->write_zeroes = kvio_vq_has_feature(vq, VIRTIO_BLK_F_WRITE_ZEROES);
	r->read = kvio_blk_read_user;

	switch (kvio_blk_parse_req(r)) {
	case KVIO_BLK_BROKEN:
		kvio_vq_set_broken(vq, "request without a status byte");
		return -EIO;
	case KVIO_BLK_ANSWER:
		return kvio_blk_reply(c, r->answer);
	case KVIO_BLK_SERVE:
		break;
	}

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return kvio_blk_rw(c, bytes);
	case VIRTIO_BLK_T_FLUSH:
		return kvio_blk_flush(c, bytes);
	case VIRTIO_BLK_T_GET_ID:
		return kvio_blk_get_id(c);
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return kvio_blk_dwz(c, bytes);
	default:
		/* The parser serves nothing else. */
		return kvio_blk_reply(c, VIRTIO_BLK_S_UNSUPP);
	}
}

/*
 * The ring ran dry: poll a while for the guest's next request if the VMM
 * set a busy-loop timeout, else (or then) wait for its kick
 * (kvio_vq_idle()).  Before polling, what was read goes out: the plug's
 * bios to the driver and the used entries to the guest, both of which
 * the next request may be waiting on.  True if the guest added chains.
 */
static bool kvio_blk_ring_idle(struct kvio_blk_vq *bvq,
			       struct blk_plug *plug)
{
	if (bvq->vq.busyloop_timeout) {
		blk_finish_plug(plug);
		kvio_blk_publish(bvq);
		blk_start_plug(plug);
	}
	return kvio_vq_idle(&bvq->vq);
}

void kvio_blk_handle_kick(struct kvio_work *work)
{
	struct kvio_vq *vq = container_of(work, struct kvio_vq, poll.work);
	struct kvio_blk_vq *bvq = to_blk_vq(vq);
	struct kvio_blk_chain c = { .bvq = bvq };
	int head, ret, reqs = 0;
	struct blk_plug plug;
	u64 bytes = 0;

	mutex_lock(&vq->mutex);
	c.be = kvio_vq_get_backend(vq);
	/*
	 * A stopped ring takes nothing more (kvio_vq_get_desc() would find
	 * it empty): no plug, no notification change for it.
	 */
	if (!c.be || kvio_vq_stopped(vq))
		goto out;
	c.p = &to_blk(vq)->params;

	/*
	 * One plug for the whole run: the bios of every request read below
	 * reach the driver as one batch (as io_uring submits its SQEs), not
	 * one dispatch each.
	 */
	blk_start_plug(&plug);
	kvio_vq_disable_notify(vq);
	do {
		/*
		 * At most one request in flight per ring entry, whatever the
		 * guest does with its avail index: a ring whose pool is empty
		 * takes chains again once completions are published.
		 */
		if (!bvq->free_reqs) {
			bvq->held = true;
			break;
		}
		head = kvio_vq_get_desc(vq, vq->iov, vq->iov_limit, &c.r.out,
					&c.r.in, &c.info, vq->log, &c.log_num);
		if (head == vq->num && kvio_blk_ring_idle(bvq, &plug))
			continue;
		/* Empty, malformed (the ring is broken now), an IOTLB miss. */
		if (head < 0 || head == vq->num)
			break;
		c.head = head;
		c.r.splits = c.info.splits;
		if (unlikely(c.info.faults))
			ret = kvio_blk_fault_reply(&c);
		else
			ret = kvio_blk_handle_req(&c, &bytes);
		if (ret)
			break;
	} while (!kvio_vq_exceeds_weight(vq, ++reqs,
					 min_t(u64, bytes, INT_MAX)));
	blk_finish_plug(&plug);
	kvio_blk_publish(bvq);
out:
	mutex_unlock(&vq->mutex);
}
