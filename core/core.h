/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvio_core private declarations shared between the engine's files.
 * Backends only see include/kvio/vhost.h.
 */
#ifndef _KVIO_CORE_H
#define _KVIO_CORE_H

#include <linux/completion.h>
#include <linux/sched.h>
#include <linux/vhost.h>

#include <kvio/vhost.h>

/* Module parameters (main.c). */
extern unsigned int kvio_max_mem_regions;
extern unsigned int kvio_max_iotlb_entries;

/* Largest iov_limit a backend may ask for in kvio_dev_init(). */
#define KVIO_IOV_LIMIT_MAX	65536

/* Ring areas, the index into vq->meta[]. */
enum kvio_ring_area {
	KVIO_RING_DESC,
	KVIO_RING_AVAIL,
	KVIO_RING_USED,
};

/* Backend features the engine implements (GET_BACKEND_FEATURES). */
#define KVIO_BACKEND_FEATURES	((1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2) | \
				 (1ULL << VHOST_BACKEND_F_IOTLB_BATCH))

/* worker.c */
struct kvio_worker {
	struct task_struct *task;
	struct mm_struct *mm;		/* the device's reference, not ours */
	struct llist_head work_list;
	/*
	 * Items taken off @work_list that have not run yet follow the one
	 * running (kvio_vq_has_work()); written by the worker only.
	 */
	bool batch_left;
	pid_t owner;			/* for the thread names */
	/* A copy of the owner's credentials until the thread commits it. */
	struct cred *cred;
	struct completion started;	/* credentials committed */
	u32 id;
	unsigned int attached;		/* rings using it; dev->mutex */
	struct rcu_head rcu;		/* freed after lock-free readers */
};

struct kvio_worker *kvio_worker_create(struct kvio_dev *dev, pid_t owner);
void kvio_worker_destroy(struct kvio_dev *dev, struct kvio_worker *worker);
void kvio_worker_flush(struct kvio_worker *worker);
bool kvio_worker_queue(struct kvio_worker *worker, struct kvio_work *work);
long kvio_worker_ioctl(struct kvio_dev *dev, unsigned int cmd,
		       void __user *argp);

/* The default worker (id 0); dev->mutex held. */
static inline struct kvio_worker *kvio_dev_worker(struct kvio_dev *dev)
{
	return rcu_dereference_protected(dev->worker,
					 lockdep_is_held(&dev->mutex));
}

/* dev.c */
struct kvio_vq *kvio_dev_vq_from_user(struct kvio_dev *dev, u32 __user *idxp,
				      u32 *idx);

/* vring.c */
long kvio_vring_ioctl(struct kvio_dev *dev, unsigned int cmd,
		      void __user *argp);
void kvio_vq_reset(struct kvio_vq *vq);
void kvio_vq_reset_meta(struct kvio_vq *vq);
size_t kvio_vq_area_size(struct kvio_vq *vq, enum kvio_ring_area area,
			 unsigned int num);
bool kvio_vq_log_used_ok(struct kvio_vq *vq, u64 log_base, bool log_used,
			 u64 log_addr);

/* Forget the ring's cached IOVA piece; vq->mutex held. */
static inline void kvio_vq_reset_iova_hit(struct kvio_vq *vq)
{
	vq->iova_hit.start = 1;
	vq->iova_hit.last = 0;
}

/* The ring's memory table; vq->mutex held. */
static inline void kvio_vq_set_mem(struct kvio_vq *vq, struct kvio_as *mem)
{
	vq->mem = mem;
	vq->mem_hit.start = 1;
	vq->mem_hit.last = 0;
	/* The IOVA piece went through the old table's second stage. */
	kvio_vq_reset_iova_hit(vq);
}

/* vq.c */
int kvio_vq_start_kick(struct kvio_vq *vq);

/*
 * The one walk over the translated pieces of [addr, addr + len) in a ring's
 * view (vq->mutex held):
 *
 *	ret = kvio_piece_iter_init(&it, addr, len, perm);
 *	while (!ret && (ret = kvio_vq_next_piece(vq, &it)) > 0) {
 *		use it.hva, it.len;
 *		ret = 0;
 *	}
 *
 * init: -EFAULT if the range wraps.  next: 1 with the next piece in
 * it.hva / it.len, 0 once the range is done, or the translation's error
 * (a stage's ops->fault answered first).
 */
struct kvio_piece_iter {
	u64 addr;		/* next address to translate */
	u64 left;		/* bytes from there */
	u32 perm;
	u64 hva;		/* the current piece */
	u64 len;
};

int kvio_piece_iter_init(struct kvio_piece_iter *it, u64 addr, u64 len,
			 u32 perm);
int kvio_vq_next_piece(struct kvio_vq *vq, struct kvio_piece_iter *it);

/* log.c */
bool kvio_log_range_ok(u64 log_base, u64 first, u64 last);
bool kvio_mem_log_ok(struct kvio_as *mem, u64 log_base);
int kvio_log_used(struct kvio_vq *vq, size_t offset, size_t len);
void kvio_log_used_report(struct kvio_vq *vq, int err);

/* msg.c: device IOTLB messages */
void kvio_msg_clear(struct kvio_dev *dev);
struct kvio_as *kvio_iotlb_alloc(struct kvio_dev *dev);

/* Ring index of @vq in its device, for messages. */
static inline int kvio_vq_index(struct kvio_vq *vq)
{
	int i;

	for (i = 0; i < vq->dev->nvqs; i++)
		if (vq->dev->vqs[i] == vq)
			return i;
	return -1;
}

#endif /* _KVIO_CORE_H */
