// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device lifetime and the device-wide ioctls: owner, features, memory table,
 * dirty log, backend features.  Ring ioctls are in vring.c, worker ioctls in
 * worker.c.
 *
 * Every dev field the data path reads (mem, iotlb, log_base, log_ctx,
 * features) is changed with dev->mutex and every vq->mutex held, so a handler
 * (which holds its vq->mutex) sees one consistent configuration.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "core.h"

/**
 * kvio_dev_lock_vqs() - take every ring's mutex
 * @dev: the device
 *
 * For a change every ring's data path must see at once (the memory table,
 * the IOVA stage, features, the dirty log): a handler, which holds its
 * vq->mutex, sees the configuration before the change or after it.  The
 * mutexes are taken in ascending ring index, nested in dev->mutex for
 * lockdep.  Undone by kvio_dev_unlock_vqs().
 *
 * Context: process context, may sleep; dev->mutex held, no vq->mutex.
 */
void kvio_dev_lock_vqs(struct kvio_dev *dev)
{
	int i;

	for (i = 0; i < dev->nvqs; i++)
		mutex_lock_nest_lock(&dev->vqs[i]->mutex, &dev->mutex);
}
EXPORT_SYMBOL_GPL(kvio_dev_lock_vqs);

/**
 * kvio_dev_unlock_vqs() - release every ring's mutex
 * @dev: the device
 *
 * Releases what kvio_dev_lock_vqs() took, in descending ring index.
 *
 * Context: dev->mutex and every vq->mutex held.
 */
void kvio_dev_unlock_vqs(struct kvio_dev *dev)
{
	int i;

	for (i = dev->nvqs - 1; i >= 0; i--)
		mutex_unlock(&dev->vqs[i]->mutex);
}
EXPORT_SYMBOL_GPL(kvio_dev_unlock_vqs);

/* The ring named by the u32 at @idxp (the index field of every vring arg). */
struct kvio_vq *kvio_dev_vq_from_user(struct kvio_dev *dev, u32 __user *idxp,
				      u32 *idx)
{
	u32 i;

	if (get_user(i, idxp))
		return ERR_PTR(-EFAULT);
	if (i >= dev->nvqs)
		return ERR_PTR(-ENOBUFS);
	i = array_index_nospec(i, dev->nvqs);
	*idx = i;
	return dev->vqs[i];
}

/**
 * kvio_dev_check_vq_index() - check a ring index a backend ioctl names
 * @dev: the device
 * @index: the index, from userspace
 *
 * For a backend ioctl that names a ring (VHOST_NET_SET_BACKEND, ...): the
 * caller must be the owner and the ring must exist.  The index returned
 * is clamped with array_index_nospec(), so it is safe to use under
 * speculation.
 *
 * Context: dev->mutex held.
 * Return: @index; -EPERM if current is not the device's owner (or the
 * device has none); -ENOBUFS if @index is not below dev->nvqs.
 */
int kvio_dev_check_vq_index(struct kvio_dev *dev, unsigned int index)
{
	int ret;

	ret = kvio_dev_check_owner(dev);
	if (ret)
		return ret;
	if (index >= dev->nvqs)
		return -ENOBUFS;
	return array_index_nospec(index, dev->nvqs);
}
EXPORT_SYMBOL_GPL(kvio_dev_check_vq_index);

/**
 * kvio_dev_init() - set up a device and its rings
 * @dev: the device, embedded in the backend's structure
 * @vqs: the rings, each with its handle_kick already set (may be NULL if
 *	@nvqs is 0)
 * @nvqs: how many rings; 0 for a device without rings
 * @ops: the backend's callbacks and feature bits
 * @iov_limit: entries of each ring's scratch arrays (vq->iov, vq->log,
 *	vq->heads, allocated at SET_OWNER), 1 to 65536
 * @weight: most requests a handler serves in one run (positive), for
 *	kvio_vq_exceeds_weight()
 * @byte_weight: most bytes a handler moves in one run, 0 for no limit
 *
 * The device's state and each ring's is initialised, and each ring's
 * kick poll set up to run its handle_kick.  A device may have no rings;
 * one with KVIO_DEV_NO_WORKER in ops->flags must have none, and needs no
 * worker either.  Whatever this returns, kvio_dev_cleanup() may be called
 * on @dev afterwards.
 *
 * Context: process context (the driver's open()); allocates nothing.
 * Return: 0; -EINVAL without @ops, with @nvqs negative or with rings but
 * no @vqs, for @iov_limit, @weight or @byte_weight out of range, or for
 * rings on a KVIO_DEV_NO_WORKER device.
 */
int kvio_dev_init(struct kvio_dev *dev, struct kvio_vq **vqs, int nvqs,
		  const struct kvio_dev_ops *ops, int iov_limit, int weight,
		  int byte_weight)
{
	int i;

	/* Everything kvio_dev_cleanup() touches is valid before any check. */
	dev->ops = ops;
	mutex_init(&dev->mutex);
	dev->mm = NULL;
	dev->vqs = vqs;
	dev->nvqs = 0;
	dev->acked_features = 0;
	dev->backend_features = 0;
	dev->mem = NULL;
	dev->iotlb = NULL;
	dev->viommu = false;
	dev->viommu_as = NULL;
	dev->viommu_ep = NULL;
	dev->viommu_owner = NULL;
	spin_lock_init(&dev->iotlb_lock);
	INIT_LIST_HEAD(&dev->read_list);
	INIT_LIST_HEAD(&dev->pending_list);
	init_waitqueue_head(&dev->wait);
	dev->log_base = 0;
	dev->log_ctx = NULL;
	xa_init_flags(&dev->worker_xa, XA_FLAGS_ALLOC);
	RCU_INIT_POINTER(dev->worker, NULL);
	dev->iov_limit = iov_limit;
	dev->weight = weight;
	dev->byte_weight = byte_weight;

	if (!ops || (nvqs && !vqs) || nvqs < 0 || iov_limit <= 0 ||
	    iov_limit > KVIO_IOV_LIMIT_MAX || weight <= 0 || byte_weight < 0)
		return -EINVAL;
	/* Rings are kicked into a worker. */
	if (nvqs && (ops->flags & KVIO_DEV_NO_WORKER))
		return -EINVAL;

	for (i = 0; i < nvqs; i++) {
		struct kvio_vq *vq = vqs[i];

		vq->dev = dev;
		mutex_init(&vq->mutex);
		vq->kick = NULL;
		vq->call_ctx = NULL;
		vq->error_ctx = NULL;
		vq->iov = NULL;
		vq->log = NULL;
		vq->heads = NULL;
		vq->iov_limit = 0;
		RCU_INIT_POINTER(vq->worker, NULL);
		kvio_vq_reset(vq);
		kvio_poll_init(&vq->poll, vq->handle_kick, EPOLLIN, dev, vq);
	}
	dev->nvqs = nvqs;
	return 0;
}
EXPORT_SYMBOL_GPL(kvio_dev_init);

/**
 * kvio_dev_check_owner() - check that current is the device's owner
 * @dev: the device
 *
 * The owner is the process whose mm SET_OWNER took; a device without
 * owner has no one to match, a kernel thread included.
 *
 * Context: dev->mutex held.
 * Return: 0 if current's mm is the owner's, -EPERM otherwise.
 */
int kvio_dev_check_owner(struct kvio_dev *dev)
{
	/* A device without owner has no owner to match, even for a kthread. */
	return dev->mm && dev->mm == current->mm ? 0 : -EPERM;
}
EXPORT_SYMBOL_GPL(kvio_dev_check_owner);

/**
 * kvio_dev_has_owner() - whether the device has an owner
 * @dev: the device
 *
 * Context: dev->mutex held.
 * Return: true between SET_OWNER and RESET_OWNER (or release).
 */
bool kvio_dev_has_owner(struct kvio_dev *dev)
{
	return dev->mm;
}
EXPORT_SYMBOL_GPL(kvio_dev_has_owner);

static void kvio_vq_free_scratch(struct kvio_vq *vq)
{
	kvfree(vq->iov);
	vq->iov = NULL;
	kvfree(vq->log);
	vq->log = NULL;
	kvfree(vq->heads);
	vq->heads = NULL;
	vq->iov_limit = 0;
}

static int kvio_vq_alloc_scratch(struct kvio_vq *vq, int n)
{
	vq->iov = kvmalloc_array(n, sizeof(*vq->iov), GFP_KERNEL_ACCOUNT);
	vq->log = kvmalloc_array(n, sizeof(*vq->log), GFP_KERNEL_ACCOUNT);
	vq->heads = kvmalloc_array(n, sizeof(*vq->heads), GFP_KERNEL_ACCOUNT);
	if (!vq->iov || !vq->log || !vq->heads) {
		kvio_vq_free_scratch(vq);
		return -ENOMEM;
	}
	vq->iov_limit = n;
	return 0;
}

static long kvio_dev_set_owner(struct kvio_dev *dev)
{
	struct kvio_worker *worker;
	struct mm_struct *mm;
	int i, ret;

	if (dev->mm)
		return -EBUSY;
	/* A user reference: the worker reads and writes through this mm. */
	mm = get_task_mm(current);
	if (!mm)
		return -EINVAL;

	/* No worker exists yet, so nothing else looks at the rings. */
	for (i = 0; i < dev->nvqs; i++) {
		ret = kvio_vq_alloc_scratch(dev->vqs[i], dev->iov_limit);
		if (ret)
			goto err_scratch;
	}

	dev->mm = mm;
	if (dev->ops->flags & KVIO_DEV_NO_WORKER)
		return 0;
	worker = kvio_worker_create(dev, current->pid);
	if (IS_ERR(worker)) {
		ret = PTR_ERR(worker);
		dev->mm = NULL;
		goto err_scratch;
	}
	rcu_assign_pointer(dev->worker, worker);
	worker->attached = dev->nvqs;
	for (i = 0; i < dev->nvqs; i++)
		rcu_assign_pointer(dev->vqs[i]->worker, worker);
	return 0;

err_scratch:
	while (i--)
		kvio_vq_free_scratch(dev->vqs[i]);
	mmput(mm);
	return ret;
}

/*
 * Back to the state before SET_OWNER.  Kick polls are stopped here; backends
 * must already be detached (their polls stopped).
 */
static void kvio_dev_drop_owner(struct kvio_dev *dev)
{
	struct kvio_as *iotlb;
	struct kvio_worker *worker;
	unsigned long id;
	int i;

	for (i = 0; i < dev->nvqs; i++) {
		struct kvio_vq *vq = dev->vqs[i];

		mutex_lock(&vq->mutex);
		kvio_poll_stop(&vq->poll);
		RCU_INIT_POINTER(vq->worker, NULL);
		mutex_unlock(&vq->mutex);
	}
	RCU_INIT_POINTER(dev->worker, NULL);
	/* Each worker runs what is still queued, then exits. */
	xa_for_each(&dev->worker_xa, id, worker)
		kvio_worker_destroy(dev, worker);

	for (i = 0; i < dev->nvqs; i++) {
		struct kvio_vq *vq = dev->vqs[i];

		mutex_lock(&vq->mutex);
		if (vq->kick)
			fput(vq->kick);
		vq->kick = NULL;
		if (vq->call_ctx)
			eventfd_ctx_put(vq->call_ctx);
		vq->call_ctx = NULL;
		if (vq->error_ctx)
			eventfd_ctx_put(vq->error_ctx);
		vq->error_ctx = NULL;
		kvio_vq_free_scratch(vq);
		/*
		 * Features are 0 again, but unlike SET_FEATURES this does not
		 * call ops->vq_features_set (upstream's reset calls nothing
		 * either): ops->reset_owner already put the backend's ring
		 * state back as open() left it.
		 */
		kvio_vq_reset(vq);
		mutex_unlock(&vq->mutex);
	}

	kvio_msg_clear(dev);
	iotlb = dev->iotlb;
	/* Read without locks by a reader blocked in kvio_dev_read_iter(). */
	WRITE_ONCE(dev->iotlb, NULL);
	kvio_as_put(iotlb);
	kvio_as_put(dev->mem);
	dev->mem = NULL;
	if (dev->log_ctx)
		eventfd_ctx_put(dev->log_ctx);
	dev->log_ctx = NULL;
	dev->log_base = 0;
	dev->acked_features = 0;
	dev->backend_features = 0;
	/* A reader blocked on IOTLB messages sees the IOTLB gone. */
	wake_up_interruptible_poll(&dev->wait, EPOLLIN | EPOLLRDNORM);

	if (dev->mm)
		mmput(dev->mm);
	dev->mm = NULL;
}

/**
 * kvio_dev_stop() - stop every kick poll and wait for the workers
 * @dev: the device, its backends already detached
 *
 * Each ring's kick poll is removed from its eventfd (under the ring's
 * mutex), then every worker of the device runs what was queued before
 * (kvio_dev_flush()): when this returns no kick queues a handler any
 * more, and every handler run queued before has finished.
 *
 * Context: process context, may sleep; dev->mutex held, or from the
 * driver's release(); no vq->mutex held.
 */
void kvio_dev_stop(struct kvio_dev *dev)
{
	int i;

	for (i = 0; i < dev->nvqs; i++) {
		mutex_lock(&dev->vqs[i]->mutex);
		kvio_poll_stop(&dev->vqs[i]->poll);
		mutex_unlock(&dev->vqs[i]->mutex);
	}
	kvio_dev_flush(dev);
}
EXPORT_SYMBOL_GPL(kvio_dev_stop);

/**
 * kvio_dev_cleanup() - release everything the device holds
 * @dev: the device, its backends detached (their polls stopped)
 *
 * Stops the kick polls and flushes (kvio_dev_stop()), then does what
 * RESET_OWNER does: the workers run what is still queued and exit, and
 * eventfds, kick files, scratch arrays, the memory table, the device
 * IOTLB, queued IOTLB messages and the owner's mm are released; the
 * vIOMMU space set by kvio_dev_set_viommu() is put as well.  Safe on a
 * device that never had an owner, or whose kvio_dev_init() failed.  The
 * backend frees @dev afterwards.
 *
 * Context: process context, may sleep; the driver's release(), with no
 * lock of the device held and no other user of it left.
 */
void kvio_dev_cleanup(struct kvio_dev *dev)
{
	kvio_dev_stop(dev);
	kvio_dev_drop_owner(dev);
	xa_destroy(&dev->worker_xa);
	/* A bound endpoint holds our file: none is left by now. */
	kvio_as_put(dev->viommu_as);
	dev->viommu_as = NULL;
}
EXPORT_SYMBOL_GPL(kvio_dev_cleanup);

static long kvio_dev_reset_owner(struct kvio_dev *dev)
{
	if (dev->ops->reset_owner)
		dev->ops->reset_owner(dev);
	kvio_dev_stop(dev);
	kvio_dev_drop_owner(dev);
	return 0;
}

/*
 * Can @vq, running, log into @log_base with memory table @mem?  Checked
 * for rings with a backend only, like upstream: the others are checked when
 * their backend is attached (kvio_vq_access_ok()).  vq->mutex held.
 */
static bool kvio_vq_log_config_ok(struct kvio_vq *vq, struct kvio_as *mem,
				  u64 log_base, bool log_all)
{
	if (!kvio_vq_get_backend(vq))
		return true;
	if (log_all && !kvio_mem_log_ok(mem, log_base))
		return false;
	return kvio_vq_log_used_ok(vq, log_base, vq->log_used,
				   vq->log_addr);
}

/* The IOVA stage of @vq becomes @iova; vq->mutex held. */
static void kvio_vq_set_iova(struct kvio_vq *vq, struct kvio_as *iova)
{
	vq->iova = iova;
	vq->iova_unmaps = iova ? READ_ONCE(iova->unmaps) : 0;
	kvio_vq_reset_meta(vq);
	kvio_vq_reset_iova_hit(vq);
}

/*
 * Swap the device's translation with every ring mutex held (dev->mutex
 * held): the vIOMMU state and the device IOTLB, then each ring's IOVA
 * stage.  The old domain and IOTLB are returned for the caller to put.
 */
static void kvio_dev_switch_iova(struct kvio_dev *dev, bool viommu,
				 struct kvio_as *as, void *ep,
				 struct kvio_as *iotlb,
				 struct kvio_as **old_as,
				 struct kvio_as **old_iotlb)
{
	bool platform = dev->acked_features &
			(1ULL << VIRTIO_F_ACCESS_PLATFORM);
	int i;

	kvio_dev_lock_vqs(dev);
	*old_as = dev->viommu_as;
	*old_iotlb = dev->iotlb;
	dev->viommu = viommu;
	dev->viommu_as = as;
	dev->viommu_ep = ep;
	/* Read without locks by a reader blocked in kvio_dev_read_iter(). */
	WRITE_ONCE(dev->iotlb, iotlb);
	for (i = 0; i < dev->nvqs; i++) {
		struct kvio_vq *vq = dev->vqs[i];

		kvio_vq_set_iova(vq, !platform ? NULL : viommu ? as : iotlb);
		/* A ring that waited for an IOTLB answer tries again. */
		if (vq->kick)
			kvio_poll_queue(&vq->poll);
	}
	kvio_msg_clear(dev);
	kvio_dev_unlock_vqs(dev);
	wake_up_interruptible_poll(&dev->wait, EPOLLIN | EPOLLRDNORM);
}

/* Waits out I/O @dev submitted before (ops->sync_translation); no lock. */
static void kvio_dev_sync_async(struct kvio_dev *dev)
{
	if (dev->ops->sync_translation)
		dev->ops->sync_translation(dev);
}

/**
 * kvio_dev_claim_viommu() - reserve a device for one vIOMMU
 * @dev: a device about to be bound to a vIOMMU endpoint
 * @owner: the vIOMMU (not NULL)
 *
 * A device's DMA has one translation, so it is behind at most one endpoint
 * of one vIOMMU.  Two vIOMMUs (two opens of the vIOMMU's node) cannot see
 * each other's endpoints; this claim is what each checks before it binds
 * the device, and holds until kvio_dev_release_viommu().
 *
 * Context: any; does not sleep.
 * Return: 0, or -EBUSY when a vIOMMU has claimed the device already.
 */
int kvio_dev_claim_viommu(struct kvio_dev *dev, void *owner)
{
	return cmpxchg(&dev->viommu_owner, NULL, owner) ? -EBUSY : 0;
}
EXPORT_SYMBOL_GPL(kvio_dev_claim_viommu);

/**
 * kvio_dev_release_viommu() - end a claim of kvio_dev_claim_viommu()
 * @dev: the claimed device, no longer bound (kvio_dev_clear_viommu()
 *	first, so that a vIOMMU that claims it next is not undone by it)
 *
 * Context: any; does not sleep.
 */
void kvio_dev_release_viommu(struct kvio_dev *dev)
{
	/* The unbind before it is done when the next claimer sees NULL. */
	smp_store_release(&dev->viommu_owner, NULL);
}
EXPORT_SYMBOL_GPL(kvio_dev_release_viommu);

/**
 * kvio_dev_set_viommu() - translate a device's IOVAs through a vIOMMU
 * @dev: the device behind a vIOMMU endpoint
 * @as: what the endpoint's IOVAs translate through (a KVIO_AS_OUT_GPA
 *	space: its domain, an identity map for bypass, an empty space when
 *	it may reach nothing); the device takes a reference
 * @ep: the vIOMMU's endpoint; @as's ops->fault finds it in
 *	vq->dev->viommu_ep
 *
 * Takes effect when the device has VIRTIO_F_ACCESS_PLATFORM acked (now or
 * later): its rings and buffers translate through @as and the memory
 * table, and it has no device IOTLB (IOTLB messages the VMM writes are
 * refused with -EBUSY).  Without the feature the device uses
 * guest-physical addresses, as the virtio spec says a device that did not
 * negotiate it does.  No handler of the device is between a translation
 * and its use when this returns, and no I/O it submitted before still
 * writes through the old one (ops->sync_translation).
 *
 * Context: process context; takes dev->mutex and every ring's mutex, so
 * the caller must not hold any of the device's locks.
 * Return: 0, or -EINVAL without @as.
 */
int kvio_dev_set_viommu(struct kvio_dev *dev, struct kvio_as *as, void *ep)
{
	struct kvio_as *old_as, *old_iotlb;

	if (!as)
		return -EINVAL;
	kvio_as_get(as);
	mutex_lock(&dev->mutex);
	kvio_dev_switch_iova(dev, true, as, ep, NULL, &old_as, &old_iotlb);
	mutex_unlock(&dev->mutex);
	kvio_dev_sync_async(dev);
	kvio_as_put(old_as);
	kvio_as_put(old_iotlb);
	return 0;
}
EXPORT_SYMBOL_GPL(kvio_dev_set_viommu);

/**
 * kvio_dev_clear_viommu() - the device leaves its vIOMMU endpoint
 * @dev: a device kvio_dev_set_viommu() was called for
 *
 * Back to what SET_FEATURES gives: with ACCESS_PLATFORM acked, an empty
 * device IOTLB the VMM fills; if it cannot be allocated, the device has
 * none (IOTLB messages are refused, rings fault) until the next
 * SET_FEATURES.
 *
 * Context: process context; takes dev->mutex and every ring's mutex.
 */
void kvio_dev_clear_viommu(struct kvio_dev *dev)
{
	struct kvio_as *iotlb = NULL, *old_as, *old_iotlb;

	mutex_lock(&dev->mutex);
	if (dev->acked_features & (1ULL << VIRTIO_F_ACCESS_PLATFORM))
		iotlb = kvio_iotlb_alloc(dev);
	kvio_dev_switch_iova(dev, false, NULL, NULL, iotlb, &old_as,
			     &old_iotlb);
	mutex_unlock(&dev->mutex);
	kvio_dev_sync_async(dev);
	kvio_as_put(old_as);
	kvio_as_put(old_iotlb);
}
EXPORT_SYMBOL_GPL(kvio_dev_clear_viommu);

/**
 * kvio_dev_sync_translation() - wait out the device's handlers
 * @dev: a device whose IOVA stage lost maps
 *
 * Every handler that was running when this is called (and so may hold
 * translations made before a removal) has finished when it returns, and
 * so has I/O the device submitted asynchronously before it (its
 * ops->sync_translation): what a vIOMMU's UNMAP waits for before it
 * completes, so the guest's unmapped pages are not written afterwards.
 *
 * Context: process context; takes each ring's mutex in turn, so the
 * caller may hold the vIOMMU's locks but none of @dev's.
 */
void kvio_dev_sync_translation(struct kvio_dev *dev)
{
	int i;

	for (i = 0; i < dev->nvqs; i++) {
		mutex_lock(&dev->vqs[i]->mutex);
		mutex_unlock(&dev->vqs[i]->mutex);
	}
	kvio_dev_sync_async(dev);
}
EXPORT_SYMBOL_GPL(kvio_dev_sync_translation);

static long kvio_dev_set_features(struct kvio_dev *dev, u64 __user *argp)
{
	struct kvio_as *iotlb = NULL, *old;
	bool log_all, platform;
	u64 features;
	int i;

	if (copy_from_user(&features, argp, sizeof(features)))
		return -EFAULT;
	if (features & ~dev->ops->features)
		return -EOPNOTSUPP;
	log_all = features & (1ULL << VHOST_F_LOG_ALL);
	platform = features & (1ULL << VIRTIO_F_ACCESS_PLATFORM);

	/*
	 * Upstream starts with an empty device IOTLB on every SET_FEATURES;
	 * a vIOMMU endpoint's device has its domain instead.
	 */
	if (platform && !dev->viommu) {
		iotlb = kvio_iotlb_alloc(dev);
		if (!iotlb)
			return -ENOMEM;
	}

	kvio_dev_lock_vqs(dev);
	for (i = 0; log_all && i < dev->nvqs; i++) {
		if (!kvio_vq_log_config_ok(dev->vqs[i], dev->mem,
					   dev->log_base, true)) {
			kvio_dev_unlock_vqs(dev);
			kvio_as_put(iotlb);
			return -EFAULT;
		}
	}

	old = dev->iotlb;
	/* Read without locks by a reader blocked in kvio_dev_read_iter(). */
	WRITE_ONCE(dev->iotlb, iotlb);
	dev->acked_features = features;
	for (i = 0; i < dev->nvqs; i++) {
		struct kvio_vq *vq = dev->vqs[i];

		vq->acked_features = features;
		kvio_vq_set_iova(vq, platform ? (dev->viommu ? dev->viommu_as :
						 iotlb) : NULL);
		/* Endianness may have changed: re-read the used index. */
		vq->access_ready = false;
		if (dev->ops->vq_features_set)
			dev->ops->vq_features_set(vq);
	}
	/* Misses refer to the old IOTLB. */
	if (old || iotlb)
		kvio_msg_clear(dev);
	kvio_dev_unlock_vqs(dev);

	kvio_as_put(old);
	return 0;
}

static long kvio_dev_set_backend_features(struct kvio_dev *dev,
					  u64 __user *argp)
{
	u64 features;
	int i;

	if (copy_from_user(&features, argp, sizeof(features)))
		return -EFAULT;
	if (features & ~KVIO_BACKEND_FEATURES)
		return -EOPNOTSUPP;

	kvio_dev_lock_vqs(dev);
	dev->backend_features = features;
	for (i = 0; i < dev->nvqs; i++)
		dev->vqs[i]->acked_backend_features = features;
	kvio_dev_unlock_vqs(dev);
	return 0;
}

/* Upstream's errno for any bad region is -EFAULT; overlaps are ours. */
static int kvio_mem_add_region(struct kvio_as *mem,
			       const struct vhost_memory_region *region)
{
	u64 gpa_last, uaddr_last;
	int ret;

	if (!region->memory_size)
		return -EFAULT;
	if (check_add_overflow(region->guest_phys_addr,
			       region->memory_size - 1, &gpa_last))
		return -EFAULT;
	if (check_add_overflow(region->userspace_addr,
			       region->memory_size - 1, &uaddr_last) ||
	    uaddr_last > ULONG_MAX)
		return -EFAULT;
	if (!access_ok(u64_to_user_ptr(region->userspace_addr),
		       region->memory_size))
		return -EFAULT;

	ret = kvio_as_map(mem, region->guest_phys_addr, gpa_last,
			  region->userspace_addr, KVIO_PERM_RW, NULL);
	/*
	 * Upstream accepts overlapping guest-physical regions and resolves a
	 * lookup to whichever it finds first; we refuse them, a memory table
	 * in which one GPA has two meanings is a VMM bug.
	 */
	if (ret == -EEXIST)
		return -EINVAL;
	return ret;
}

static long kvio_dev_set_mem_table(struct kvio_dev *dev,
				   struct vhost_memory __user *argp)
{
	struct vhost_memory_region region;
	struct kvio_as *mem, *old;
	struct vhost_memory hdr;
	u32 i;
	int ret;

	if (copy_from_user(&hdr, argp, offsetof(struct vhost_memory, regions)))
		return -EFAULT;
	if (hdr.padding)
		return -EOPNOTSUPP;
	if (hdr.nregions > kvio_max_mem_regions)
		return -E2BIG;

	mem = kvio_as_alloc(NULL, dev, 0, kvio_max_mem_regions);
	if (!mem)
		return -ENOMEM;

	for (i = 0; i < hdr.nregions; i++) {
		if (copy_from_user(&region, &argp->regions[i], sizeof(region))) {
			ret = -EFAULT;
			goto err;
		}
		ret = kvio_mem_add_region(mem, &region);
		if (ret)
			goto err;
		cond_resched();
	}

	kvio_dev_lock_vqs(dev);
	for (i = 0; i < dev->nvqs; i++) {
		struct kvio_vq *vq = dev->vqs[i];

		if (!kvio_vq_log_config_ok(vq, mem, dev->log_base,
					   kvio_vq_has_feature(vq, VHOST_F_LOG_ALL))) {
			kvio_dev_unlock_vqs(dev);
			ret = -EFAULT;
			goto err;
		}
	}
	old = dev->mem;
	dev->mem = mem;
	for (i = 0; i < dev->nvqs; i++)
		kvio_vq_set_mem(dev->vqs[i], mem);
	kvio_dev_unlock_vqs(dev);

	kvio_as_put(old);
	return 0;

err:
	kvio_as_put(mem);
	return ret;
}

static long kvio_dev_set_log_base(struct kvio_dev *dev, u64 __user *argp)
{
	u64 base;
	int i;

	if (copy_from_user(&base, argp, sizeof(base)))
		return -EFAULT;
	if ((u64)(unsigned long)base != base)
		return -EFAULT;

	/* Unlike upstream, a refused base changes no ring. */
	kvio_dev_lock_vqs(dev);
	for (i = 0; i < dev->nvqs; i++) {
		struct kvio_vq *vq = dev->vqs[i];

		if (!kvio_vq_log_config_ok(vq, vq->mem, base,
					   kvio_vq_has_feature(vq, VHOST_F_LOG_ALL))) {
			kvio_dev_unlock_vqs(dev);
			return -EFAULT;
		}
	}
	dev->log_base = base;
	kvio_dev_unlock_vqs(dev);
	return 0;
}

static long kvio_dev_set_log_fd(struct kvio_dev *dev, int __user *argp)
{
	struct eventfd_ctx *ctx = NULL;
	int fd;

	if (get_user(fd, argp))
		return -EFAULT;
	if (fd != VHOST_FILE_UNBIND) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}

	kvio_dev_lock_vqs(dev);
	swap(ctx, dev->log_ctx);
	kvio_dev_unlock_vqs(dev);

	if (ctx)
		eventfd_ctx_put(ctx);
	return 0;
}

static long kvio_dev_ioctl_locked(struct kvio_dev *dev, unsigned int cmd,
				  void __user *argp)
{
	u64 features;
	long ret;

	switch (cmd) {
	/* Queries anyone holding the fd may make, as upstream. */
	case VHOST_GET_FEATURES:
		features = dev->ops->features;
		return copy_to_user(argp, &features, sizeof(features)) ?
		       -EFAULT : 0;
	case VHOST_GET_BACKEND_FEATURES:
		features = KVIO_BACKEND_FEATURES;
		return copy_to_user(argp, &features, sizeof(features)) ?
		       -EFAULT : 0;

	case VHOST_SET_OWNER:
		return kvio_dev_set_owner(dev);

	/*
	 * Upstream accepts these from anyone; before SET_OWNER we do too (a
	 * VMM may negotiate first), after it only from the owner.
	 */
	case VHOST_SET_FEATURES:
	case VHOST_SET_BACKEND_FEATURES:
		if (kvio_dev_has_owner(dev)) {
			ret = kvio_dev_check_owner(dev);
			if (ret)
				return ret;
		}
		if (cmd == VHOST_SET_FEATURES)
			return kvio_dev_set_features(dev, argp);
		return kvio_dev_set_backend_features(dev, argp);

	case VHOST_NEW_WORKER:
	case VHOST_FREE_WORKER:
	case VHOST_ATTACH_VRING_WORKER:
	case VHOST_GET_VRING_WORKER:
		return kvio_worker_ioctl(dev, cmd, argp);

	case VHOST_RESET_OWNER:
	case VHOST_SET_MEM_TABLE:
	case VHOST_SET_LOG_BASE:
	case VHOST_SET_LOG_FD:
		ret = kvio_dev_check_owner(dev);
		if (ret)
			return ret;
		break;

	default:
		return kvio_vring_ioctl(dev, cmd, argp);
	}

	switch (cmd) {
	case VHOST_RESET_OWNER:
		return kvio_dev_reset_owner(dev);
	case VHOST_SET_MEM_TABLE:
		return kvio_dev_set_mem_table(dev, argp);
	case VHOST_SET_LOG_BASE:
		return kvio_dev_set_log_base(dev, argp);
	default:
		return kvio_dev_set_log_fd(dev, argp);
	}
}

/**
 * kvio_dev_ioctl() - serve the ioctls every kvio device shares
 * @dev: the device
 * @cmd: the command
 * @argp: its argument, a user pointer
 *
 * Owner, features, memory table, dirty log, the VHOST_*_VRING_* ring
 * commands, backend features and workers, with upstream vhost's
 * semantics but for the differences Documentation/core.rst lists.  A
 * backend serves its own commands first (struct kvio_driver's ioctl).
 *
 * Context: process context, may sleep; takes dev->mutex (and ring mutexes
 * under it), so the caller holds no lock of the device.
 * Return: 0 (a GET command copied its answer to @argp), or a negative
 * errno: -ENOTTY for a command the engine does not serve
 * (VHOST_SET_VRING_ENDIAN and VHOST_GET_VRING_ENDIAN included); -EPERM
 * if the caller is not the owner, for every command but SET_OWNER,
 * GET_FEATURES, GET_BACKEND_FEATURES, and SET_FEATURES or
 * SET_BACKEND_FEATURES before SET_OWNER; -EBUSY for SET_OWNER on a device
 * with an owner; -ENOBUFS for a ring index past the last ring; -EFAULT
 * when @argp cannot be read or written; otherwise the command's own
 * errors (-EINVAL, -EOPNOTSUPP, -E2BIG, -EBUSY, -EBADF, -ENOMEM, -EAGAIN,
 * -ENOSPC, -ENODEV, ...), listed per command in Documentation/core.rst.
 */
long kvio_dev_ioctl(struct kvio_dev *dev, unsigned int cmd, void __user *argp)
{
	long ret;

	mutex_lock(&dev->mutex);
	ret = kvio_dev_ioctl_locked(dev, cmd, argp);
	mutex_unlock(&dev->mutex);
	return ret == -ENOIOCTLCMD ? -ENOTTY : ret;
}
EXPORT_SYMBOL_GPL(kvio_dev_ioctl);
