/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kvio shared virtqueue engine (kvio_core.ko): the API backends use.
 *
 * A backend (kvio_net, kvio_blk, ...) embeds a struct kvio_dev and an array of
 * struct kvio_vq, and registers a struct kvio_driver for its device node:
 * its open() allocates the device, fills in each vq's handle_kick and calls
 * kvio_dev_init(); its ioctl() serves the device's own commands (the engine
 * serves the rest); its release() detaches its backends, calls
 * kvio_dev_cleanup() and frees the device.
 *
 * Lock order (outermost first):
 *   dev->mutex  ->  vq->mutex (ascending vq index)  ->  as->lock (an
 *   address space's, include/kvio/as.h)  ->  dev->iotlb_lock
 *   ->  worker's llist (lockless) / eventfd wait-queue locks.
 * The data path (handle_kick) runs in the worker with only vq->mutex held.
 * Ring state that ioctls change is changed with vq->mutex held, so a handler
 * sees either the old or the new configuration, never a mix.
 *
 * Threading: each device has at least one worker, a kthread created by
 * SET_OWNER that adopts the owner's mm (kthread_use_mm) and cgroups, so user
 * pointers in the memory table are accessed with copy_{from,to}_user from the
 * worker.  Work items are queued lock-free and run in queue order.
 */
#ifndef _KVIO_VHOST_H
#define _KVIO_VHOST_H

#include <linux/atomic.h>
#include <linux/eventfd.h>
#include <linux/fault-inject-usercopy.h>
#include <linux/fs.h>
#include <linux/instrumented.h>
#include <linux/llist.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/vhost_types.h>
#include <linux/xarray.h>
#include <uapi/linux/kvio.h>

#include <kvio/chain.h>
#include <kvio/compat.h>
#include <kvio/as.h>

struct kvio_dev;
struct kvio_vq;
struct kvio_work;
struct kvio_worker;

typedef void (*kvio_work_fn_t)(struct kvio_work *work);

#define KVIO_WORK_QUEUED	0

struct kvio_work {
	struct llist_node node;
	kvio_work_fn_t fn;
	unsigned long flags;	/* KVIO_WORK_QUEUED bit */
};

/*
 * A poll entry on a file's wait queue (kick eventfd, a backend socket).
 * When the file signals one of @mask, @work is queued on @vq's worker (or, if
 * @vq is NULL, on the device's default worker).
 */
struct kvio_poll {
	poll_table table;
	wait_queue_head_t *wqh;
	wait_queue_entry_t wait;
	struct kvio_work work;
	__poll_t mask;
	struct kvio_dev *dev;
	struct kvio_vq *vq;
};

/* struct kvio_log, a written range for the dirty log, is in kvio/chain.h. */

/* Largest ring the engine accepts (spec maximum for split rings). */
#define KVIO_VRING_MAX		32768

/*
 * Cached translation of one ring (descriptor table, avail or used) when the
 * ring lives in IOVA space (VIRTIO_F_ACCESS_PLATFORM).  Internal to the core.
 */
struct kvio_ring_meta {
	void __user *hva;	/* NULL: not translated yet */
	bool checked;		/* whole area translatable (maybe in pieces) */
};

struct kvio_vq {
	struct kvio_dev *dev;
	struct mutex mutex;	/* protects everything below */

	/* Ring layout, as set by SET_VRING_NUM / SET_VRING_ADDR. */
	unsigned int num;
	vring_desc_t __user *desc;
	vring_avail_t __user *avail;
	vring_used_t __user *used;
	u64 desc_user_addr, avail_user_addr, used_user_addr;
	struct kvio_ring_meta meta[3];	/* desc, avail, used */
	bool meta_ready;		/* all three checked */
	u64 log_addr;		/* GPA of the used ring, for the dirty log */
	bool log_used;		/* VHOST_VRING_F_LOG */

	/* Eventfds. */
	struct file *kick;
	struct eventfd_ctx *call_ctx;
	struct eventfd_ctx *error_ctx;
	struct kvio_poll poll;	/* on the kick eventfd */
	kvio_work_fn_t handle_kick;	/* set by the backend before init */

	/* Ring indices, all free-running u16 as in the spec. */
	u16 last_avail_idx;	/* next avail entry to read */
	u16 avail_idx;		/* last avail->idx read from the guest */
	u16 last_used_idx;	/* next used entry to write */
	u16 used_flags;		/* VRING_USED_F_NO_NOTIFY as last written */
	u16 signalled_used;	/* last used idx an interrupt covered */
	bool signalled_used_valid;
	bool broken;		/* malformed ring seen: stopped until re-set */
	/*
	 * GET_VRING_BASE reported last_avail_idx: no chain is taken until
	 * SET_VRING_BASE, SET_VRING_KICK or a backend attach restarts the
	 * ring (kvio_vq_get_desc() finds it empty), whatever still runs for
	 * it (a handler the weight re-queued, a backend socket's poll).
	 */
	bool stopped;
	/*
	 * Used flags written and last_used_idx read from the used ring since
	 * the ring was last (re)configured; done on first use if needed.
	 */
	bool access_ready;

	/* Per-ring scratch for one descriptor chain, iov_limit entries each. */
	struct iovec *iov;
	struct kvio_log *log;
	struct vring_used_elem *heads;
	unsigned int iov_limit;
	/*
	 * kvio_vq_get_desc()'s walker state, meaningful only during a call
	 * (vq->mutex held; its iov and log point at the caller's arrays).
	 * Here rather than on its stack: the kernel zero-fills locals
	 * (INIT_STACK_ALL_ZERO), which for this structure was a block clear
	 * per chain.
	 */
	struct kvio_chain chain;

	u64 acked_features;	/* copy of the device's, read under vq->mutex */
	u64 acked_backend_features;
	/*
	 * Where the ring's addresses translate (the device's references):
	 * @mem, the memory table (GPA -> HVA); @iova, NULL when the ring
	 * uses guest-physical addresses, else the IOVA stage in front of
	 * it (the device IOTLB or a vIOMMU domain).  @iova_unmaps is the
	 * @iova->unmaps count meta[] was cached under.
	 */
	struct kvio_as *mem;
	struct kvio_as *iova;
	unsigned long iova_unmaps;
	/*
	 * The memory-table region the last guest-physical translation hit
	 * (last < start: none), so the common case, one region for all of
	 * guest RAM, costs two compares.  A memory table is never changed
	 * in place (SET_MEM_TABLE swaps it whole), so the copy stays right
	 * until @mem changes, which resets it (kvio_vq_set_mem()).
	 */
	struct {
		u64 start, last, addr;
	} mem_hit;
	/*
	 * The same for the IOVA stage: the last piece [start, last] that
	 * translated through both stages to @hva with @perm (last < start:
	 * none).  Maps are only ever removed whole, and every removal bumps
	 * @iova->unmaps, which a ring checks when it starts using the ring
	 * (kvio_vq_configured()): a vIOMMU waits for the runs that started
	 * before (kvio_dev_sync_translation()), a device-IOTLB message takes
	 * every ring's mutex, so a run never outlives the piece it cached.
	 */
	struct {
		u64 start, last, hva;
		u32 perm;
		void *opaque;
	} iova_hit;
	void *private_data;	/* backend; see kvio_vq_{get,set}_backend() */

	/* Runs handle_kick and polls; RCU: wakeups read it lock-free. */
	struct kvio_worker __rcu *worker;
	u32 busyloop_timeout;	/* microseconds; backends that busy-poll */
	/*
	 * kvio_vq_idle()'s poll for the guest's next chain: while
	 * @idle_polling, it ends at @idle_end (microseconds, near enough, of
	 * ktime_get_mono_fast_ns(): a run may be on another CPU), a
	 * deadline kept across the runs that other work cut short, and it
	 * began at last_avail_idx == @idle_avail.  Worker only.
	 */
	bool idle_polling;
	u16 idle_avail;
	unsigned long idle_end;
};

/*
 * The feature bits the engine implements for every device type (ring
 * layout, notifications, dirty log, device IOTLB); a backend offers them
 * with its own in kvio_dev_ops.features.
 */
#define KVIO_FEATURES					\
	((1ULL << VIRTIO_RING_F_INDIRECT_DESC) |	\
	 (1ULL << VIRTIO_RING_F_EVENT_IDX) |		\
	 (1ULL << VIRTIO_F_NOTIFY_ON_EMPTY) |		\
	 (1ULL << VIRTIO_F_ANY_LAYOUT) |		\
	 (1ULL << VIRTIO_F_VERSION_1) |			\
	 (1ULL << VHOST_F_LOG_ALL) |			\
	 (1ULL << VIRTIO_F_ACCESS_PLATFORM))

/* kvio_dev_ops.flags */
/*
 * The device has no rings and SET_OWNER creates no worker: it only needs
 * the owner's mm, memory table and address spaces (the worker ioctls are
 * -EOPNOTSUPP).
 */
#define KVIO_DEV_NO_WORKER	0x1

/* Backend callbacks, all optional but features. */
struct kvio_dev_ops {
	/*
	 * Feature bits GET_FEATURES reports and SET_FEATURES accepts:
	 * KVIO_FEATURES and the device type's own.
	 */
	u64 features;
	unsigned int flags;	/* KVIO_DEV_* */
	/*
	 * Called for each vq with vq->mutex held after SET_FEATURES stored
	 * new acked_features in it (kvio_net recomputes header lengths).
	 */
	void (*vq_features_set)(struct kvio_vq *vq);
	/*
	 * RESET_OWNER: detach every backend, with dev->mutex held; the core
	 * then stops polls, flushes workers and drops the owner.
	 */
	void (*reset_owner)(struct kvio_dev *dev);
	/*
	 * GET_VRING_BASE, once the ring is stopped and the work it queued
	 * has run, before its index is read; dev->mutex held, not
	 * vq->mutex.  A device with requests in flight waits here until
	 * their used entries are out, so the used index the VMM reads next
	 * is final.
	 */
	void (*vring_stopped)(struct kvio_vq *vq);
	/*
	 * Optional, for a device that writes guest memory outside its
	 * handlers (asynchronous I/O): kvio_dev_sync_translation() calls it
	 * after the handlers were waited out, with no lock of the device
	 * held.  It returns once nothing taken from a ring before the call
	 * can still be written through an old translation.
	 */
	void (*sync_translation)(struct kvio_dev *dev);
};

struct kvio_driver;

struct kvio_dev {
	const struct kvio_dev_ops *ops;
	const struct kvio_driver *driver;	/* set when its node is opened */
	struct mutex mutex;	/* ioctls; outermost lock */
	struct mm_struct *mm;	/* owner's mm, NULL before SET_OWNER */
	struct kvio_vq **vqs;
	int nvqs;
	u64 acked_features;
	u64 backend_features;

	struct kvio_as *mem;	/* memory table; NULL before SET_MEM_TABLE */
	struct kvio_as *iotlb;	/* device IOTLB; ACCESS_PLATFORM acked */
	/*
	 * A vIOMMU endpoint (kvio_dev_set_viommu()): with ACCESS_PLATFORM
	 * acked, IOVAs translate through @viommu_as (the endpoint's domain,
	 * or the vIOMMU's identity or empty space) instead of a device
	 * IOTLB.  @viommu_ep is the vIOMMU's, for the domain's ops->fault.
	 * Changed with dev->mutex and every vq->mutex held.
	 */
	bool viommu;
	struct kvio_as *viommu_as;
	void *viommu_ep;
	/*
	 * The vIOMMU that has the device bound to one of its endpoints, or
	 * NULL (kvio_dev_claim_viommu(); cmpxchg, no lock).
	 */
	void *viommu_owner;
	spinlock_t iotlb_lock;	/* pending/read lists of IOTLB messages */
	struct list_head read_list;
	struct list_head pending_list;
	wait_queue_head_t wait;	/* readers of IOTLB messages */

	/* Dirty log. */
	u64 log_base;		/* HVA of the bitmap; 0 none */
	struct eventfd_ctx *log_ctx;

	/* Workers: id 0 is the default one created by SET_OWNER. */
	struct xarray worker_xa;
	struct kvio_worker __rcu *worker;

	/* Limits chosen by the backend. */
	int iov_limit;
	int weight;		/* max requests per handler run */
	int byte_weight;	/* max bytes per handler run; 0: no limit */
};

/* Devices: kernel-doc in core/dev.c (kvio_dev_flush() in core/worker.c). */
int kvio_dev_init(struct kvio_dev *dev, struct kvio_vq **vqs, int nvqs,
		  const struct kvio_dev_ops *ops, int iov_limit, int weight,
		  int byte_weight);
long kvio_dev_ioctl(struct kvio_dev *dev, unsigned int cmd,
		    void __user *argp);
int kvio_dev_check_owner(struct kvio_dev *dev);
int kvio_dev_check_vq_index(struct kvio_dev *dev, unsigned int index);
bool kvio_dev_has_owner(struct kvio_dev *dev);
void kvio_dev_lock_vqs(struct kvio_dev *dev);
void kvio_dev_unlock_vqs(struct kvio_dev *dev);
void kvio_dev_stop(struct kvio_dev *dev);
void kvio_dev_flush(struct kvio_dev *dev);
void kvio_dev_cleanup(struct kvio_dev *dev);

/* The device fd's IOTLB message file operations: kernel-doc in core/msg.c. */
ssize_t kvio_dev_read_iter(struct kiocb *iocb, struct iov_iter *to);
ssize_t kvio_dev_write_iter(struct kiocb *iocb, struct iov_iter *from);
__poll_t kvio_dev_poll(struct file *file, poll_table *wait);

/**
 * struct kvio_driver - a kvio device type and its node, /dev/<name>
 * @name: the node's name (a misc device)
 * @open: allocates a device, kvio_dev_init() done; the device or an
 *	ERR_PTR().  Runs in the opener's context.
 * @release: the last close: detaches the device's backends, calls
 *	kvio_dev_cleanup() and frees the device
 * @ioctl: the device's own commands, with nothing locked; -ENOIOCTLCMD
 *	for any other, which kvio_dev_ioctl() then serves (optional)
 * @owner: private, the module kvio_driver_register() was called from
 * @misc: private, filled in by kvio_driver_register()
 */
struct kvio_driver {
	const char *name;
	struct kvio_dev *(*open)(void);
	void (*release)(struct kvio_dev *dev);
	long (*ioctl)(struct kvio_dev *dev, unsigned int cmd,
		      void __user *argp);
	struct module *owner;
	struct miscdevice misc;
};

int __kvio_driver_register(struct kvio_driver *drv, struct module *owner);
void kvio_driver_unregister(struct kvio_driver *drv);

#define kvio_driver_register(drv) __kvio_driver_register((drv), THIS_MODULE)

struct kvio_dev *kvio_dev_from_file(struct file *file);

/* vIOMMU endpoints (kvio_iommu): see the kernel-doc in core/dev.c. */
int kvio_dev_claim_viommu(struct kvio_dev *dev, void *owner);
void kvio_dev_release_viommu(struct kvio_dev *dev);
int kvio_dev_set_viommu(struct kvio_dev *dev, struct kvio_as *as, void *ep);
void kvio_dev_clear_viommu(struct kvio_dev *dev);
void kvio_dev_sync_translation(struct kvio_dev *dev);

/* Work and polls: kernel-doc in core/worker.c. */
void kvio_work_init(struct kvio_work *work, kvio_work_fn_t fn);
bool kvio_vq_work_queue(struct kvio_vq *vq, struct kvio_work *work);
void kvio_vq_flush(struct kvio_vq *vq);
bool kvio_vq_has_work(struct kvio_vq *vq);
bool kvio_vq_shares_worker(struct kvio_vq *a, struct kvio_vq *b);

/* Whether @work is queued and has not started running yet (lock-free). */
static inline bool kvio_work_queued(const struct kvio_work *work)
{
	return test_bit(KVIO_WORK_QUEUED, &work->flags);
}

void kvio_poll_init(struct kvio_poll *poll, kvio_work_fn_t fn, __poll_t mask,
		    struct kvio_dev *dev, struct kvio_vq *vq);
int kvio_poll_start(struct kvio_poll *poll, struct file *file);
void kvio_poll_stop(struct kvio_poll *poll);
void kvio_poll_queue(struct kvio_poll *poll);

/* Backend pointer of a ring; vq->mutex held. */
static inline void *kvio_vq_get_backend(struct kvio_vq *vq)
{
	return vq->private_data;
}

static inline void kvio_vq_set_backend(struct kvio_vq *vq, void *private_data)
{
	vq->private_data = private_data;
}

/*
 * Whether the ring takes no chains now (GET_VRING_BASE stopped it, or it is
 * broken); vq->mutex held.  Used entries of chains taken before still go
 * out.
 */
static inline bool kvio_vq_stopped(struct kvio_vq *vq)
{
	return vq->stopped || vq->broken;
}

static inline bool kvio_vq_has_feature(struct kvio_vq *vq, int bit)
{
	return vq->acked_features & (1ULL << bit);
}

static inline bool kvio_backend_has_feature(struct kvio_vq *vq, int bit)
{
	return vq->acked_backend_features & (1ULL << bit);
}

static inline bool kvio_vq_is_little_endian(struct kvio_vq *vq)
{
	return kvio_vq_has_feature(vq, VIRTIO_F_VERSION_1) ||
	       virtio_legacy_is_little_endian();
}

static inline u16 kvio16_to_cpu(struct kvio_vq *vq, __virtio16 val)
{
	return __virtio16_to_cpu(kvio_vq_is_little_endian(vq), val);
}

static inline __virtio16 cpu_to_kvio16(struct kvio_vq *vq, u16 val)
{
	return __cpu_to_virtio16(kvio_vq_is_little_endian(vq), val);
}

static inline u32 kvio32_to_cpu(struct kvio_vq *vq, __virtio32 val)
{
	return __virtio32_to_cpu(kvio_vq_is_little_endian(vq), val);
}

static inline __virtio32 cpu_to_kvio32(struct kvio_vq *vq, u32 val)
{
	return __cpu_to_virtio32(kvio_vq_is_little_endian(vq), val);
}

static inline u64 kvio64_to_cpu(struct kvio_vq *vq, __virtio64 val)
{
	return __virtio64_to_cpu(kvio_vq_is_little_endian(vq), val);
}

/*
 * Ring access: kernel-doc in core/vq.c (kvio_vq_access_ok() in
 * core/vring.c, kvio_log_write() in core/log.c).  All take vq->mutex held
 * and run in the worker (or any context that uses the owner's mm).
 */
bool kvio_vq_access_ok(struct kvio_vq *vq);
int kvio_vq_init_access(struct kvio_vq *vq);

/**
 * struct kvio_desc_info - what kvio_vq_get_desc() found beyond the iovecs
 * @splits: iovecs more than buffers (buffers split where a memory region
 *	or IOTLB map ends), for a backend that bounds descriptors, not
 *	iovecs
 * @faults: buffers left out because their IOVAs do not translate in the
 *	ring's vIOMMU domain (unmapped or without the permission; the
 *	domain's owner has been told).  The chain is well formed and
 *	consumed: the request fails (net: dropped, blk: IOERR), the ring
 *	goes on.
 * @fault_addr: the first such buffer's IOVA
 * @tail_mapped: the chain's last buffer is whole at the end of the iovecs
 *	(where virtio-blk's status byte is), faults or not
 */
struct kvio_desc_info {
	unsigned int splits;
	unsigned int faults;
	u64 fault_addr;
	bool tail_mapped;
};

int kvio_vq_get_desc(struct kvio_vq *vq, struct iovec *iov,
		     unsigned int iov_count, unsigned int *out_num,
		     unsigned int *in_num, struct kvio_desc_info *info,
		     struct kvio_log *log, unsigned int *log_num);
int kvio_vq_next_desc(struct kvio_vq *vq, struct iovec *iov,
		      unsigned int iov_count, unsigned int *out_num,
		      unsigned int *in_num, struct kvio_desc_info *info,
		      struct kvio_log *log, unsigned int *log_num);
void kvio_vq_discard_desc(struct kvio_vq *vq, int n);
int kvio_vq_add_used(struct kvio_vq *vq, unsigned int head, u32 len);
int kvio_vq_add_used_n(struct kvio_vq *vq, struct vring_used_elem *heads,
		       unsigned int count);
void kvio_vq_signal(struct kvio_vq *vq);
void kvio_vq_add_used_and_signal(struct kvio_vq *vq, unsigned int head,
				 u32 len);
void kvio_vq_add_used_and_signal_n(struct kvio_vq *vq,
				   struct vring_used_elem *heads,
				   unsigned int count);
bool kvio_vq_enable_notify(struct kvio_vq *vq);
void kvio_vq_disable_notify(struct kvio_vq *vq);
bool kvio_vq_avail_empty(struct kvio_vq *vq);
bool kvio_vq_rearm(struct kvio_vq *vq);
bool kvio_vq_spin(struct kvio_vq *vq, bool (*done)(void *arg), void *arg);
bool kvio_vq_idle(struct kvio_vq *vq);
void kvio_vq_set_broken(struct kvio_vq *vq, const char *why);
int kvio_log_write(struct kvio_vq *vq, struct kvio_log *log,
		   unsigned int log_num, u64 len);

/**
 * kvio_vq_exceeds_weight() - whether a handler should yield its worker
 * @vq: the ring
 * @pkts: requests the handler served in this run
 * @total_len: bytes it moved in this run
 *
 * Fairness between the rings of a worker: once a run reaches dev->weight
 * requests or dev->byte_weight bytes (if not 0), the ring's kick work is
 * queued again so the handler continues after the other work queued, and
 * the handler should return.  Inline: handlers call it once per request.
 *
 * Context: the ring's handler, vq->mutex held.
 * Return: true (the kick work queued) if the run reached either limit,
 * false otherwise.
 */
static inline bool kvio_vq_exceeds_weight(struct kvio_vq *vq, int pkts,
					  int total_len)
{
	const struct kvio_dev *dev = vq->dev;

	if ((dev->byte_weight && total_len >= dev->byte_weight) ||
	    pkts >= dev->weight) {
		/*
		 * Let other rings run; this one continues on its next turn
		 * (which takes nothing if GET_VRING_BASE stops it first).
		 */
		kvio_poll_queue(&vq->poll);
		return true;
	}
	return false;
}

/**
 * kvio_user_put16() - store a 16-bit value at a user address, inline
 * @val: the value, already in ring byte order
 * @p: where, in the owner's mm
 *
 * put_user() as one store in a user-access section, not a call to the
 * arch's put_user routine (and a return thunk): for the stores made per
 * request or per publication, the used index and a packet's num_buffers.
 *
 * Context: the worker, or any context using the owner's mm; may fault
 * and sleep.
 * Return: 0, or -EFAULT if @p is not a user address or the store faulted.
 */
static inline int kvio_user_put16(__virtio16 val, __virtio16 __user *p)
{
	might_fault();
	if (!user_write_access_begin(p, sizeof(*p)))
		return -EFAULT;
	unsafe_put_user(val, p, efault);
	user_write_access_end();
	return 0;
efault:
	user_write_access_end();
	return -EFAULT;
}

/**
 * kvio_iov_copy_from_user() - copy bytes out of a chain's readable iovecs
 * @dst: kernel buffer of at least @len bytes
 * @iov: iovecs from kvio_vq_get_desc() (user addresses in the owner's mm)
 * @nr: number of iovecs
 * @skip: bytes at the start of the iovecs to leave out
 * @len: bytes to copy
 *
 * What copyin() in lib/iov_iter.c does for each piece of an ITER_SOURCE
 * iovec iterator, without the iterator: access_ok(), the fault-injection
 * and sanitizer hooks and the arch copy, all inline.  For the data path,
 * where iov_iter_init() and the copy routines each cost a call (and a
 * return thunk) per request.  Unlike copy_from_iter() and copy_from_user()
 * it does not run the hardened-usercopy check on @dst (one more call): a
 * caller copying into an object whose size the compiler cannot see
 * bounds @len itself, or calls check_copy_size() first.  Hardening that
 * later kernels add to copy_from_user() is not picked up here.  The loop
 * is bounded by @nr.
 *
 * Context: the worker, or any context using the owner's mm; may fault
 * and sleep.
 * Return: true if all @len bytes were copied, false if the iovecs hold
 * fewer than @skip + @len bytes or a piece faulted (@dst then holds a
 * prefix).
 */
static inline bool kvio_iov_copy_from_user(void *dst, const struct iovec *iov,
					   unsigned int nr, size_t skip,
					   size_t len)
{
	might_fault();
	for (; len && nr; iov++, nr--) {
		const char __user *src = iov->iov_base;
		size_t n = iov->iov_len;
		unsigned long left;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		src += skip;
		n = min(n - skip, len);
		skip = 0;
		if (should_fail_usercopy() || !access_ok(src, n))
			return false;
		instrument_copy_from_user_before(dst, src, n);
		left = raw_copy_from_user(dst, src, n);
		instrument_copy_from_user_after(dst, src, n, left);
		if (left)
			return false;
		dst += n;
		len -= n;
	}
	return !len;
}

#endif /* _KVIO_VHOST_H */
