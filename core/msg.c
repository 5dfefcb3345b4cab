// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device IOTLB messages (VIRTIO_F_ACCESS_PLATFORM): read() and write() on
 * the device fd, upstream's format (struct vhost_msg, or struct vhost_msg_v2
 * once VHOST_BACKEND_F_IOTLB_MSG_V2 is acked).
 *
 * When a ring or buffer IOVA is not in the device IOTLB, the data path
 * queues a MISS on read_list and returns -EAGAIN.  The VMM read()s it (the
 * node moves to pending_list), translates, and write()s an UPDATE; an UPDATE
 * that covers a waiting miss re-queues that ring's kick work.  INVALIDATE
 * removes translations; both change the IOTLB (a struct kvio_as, see
 * include/kvio/as.h) with every vq->mutex held, so no handler is between a
 * translation and its use.
 */
#include <linux/overflow.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "core.h"

/*
 * Misses waiting to be read or answered, per device.  The data path adds
 * one per handler run at most (repeats of an unread one are dropped), so
 * this only bounds a VMM that never answers.
 */
#define KVIO_MSG_MAX	256

struct kvio_msg_node {
	struct list_head node;
	struct kvio_vq *vq;
	bool v2;
	union {
		struct vhost_msg msg;
		struct vhost_msg_v2 msg_v2;
	};
};

static struct vhost_iotlb_msg *kvio_msg_iotlb(struct kvio_msg_node *node)
{
	return node->v2 ? &node->msg_v2.iotlb : &node->msg.iotlb;
}

static void kvio_msg_free_list(struct list_head *list)
{
	struct kvio_msg_node *node, *tmp;

	list_for_each_entry_safe(node, tmp, list, node) {
		list_del(&node->node);
		kfree(node);
	}
}

void kvio_msg_clear(struct kvio_dev *dev)
{
	spin_lock(&dev->iotlb_lock);
	kvio_msg_free_list(&dev->read_list);
	kvio_msg_free_list(&dev->pending_list);
	spin_unlock(&dev->iotlb_lock);
}

/* Reports that @vq needs @iova with @perm; vq->mutex held. */
static int kvio_iotlb_miss(struct kvio_vq *vq, u64 iova, u32 perm)
{
	struct kvio_dev *dev = vq->dev;
	struct kvio_msg_node *node, *n;
	struct vhost_iotlb_msg *msg;
	unsigned int count = 0;
	bool queue = true;

	node = kzalloc(sizeof(*node), GFP_KERNEL_ACCOUNT);
	if (!node)
		return -ENOMEM;
	node->vq = vq;
	node->v2 = kvio_backend_has_feature(vq, VHOST_BACKEND_F_IOTLB_MSG_V2);
	if (node->v2)
		node->msg_v2.type = VHOST_IOTLB_MSG_V2;
	else
		node->msg.type = VHOST_IOTLB_MSG;
	msg = kvio_msg_iotlb(node);
	msg->type = VHOST_IOTLB_MISS;
	msg->iova = iova;
	msg->perm = perm;

	spin_lock(&dev->iotlb_lock);
	list_for_each_entry(n, &dev->read_list, node) {
		struct vhost_iotlb_msg *m = kvio_msg_iotlb(n);

		count++;
		if (n->vq == vq && m->iova == iova && m->perm == perm)
			queue = false;
	}
	list_for_each_entry(n, &dev->pending_list, node)
		count++;
	if (queue && count >= KVIO_MSG_MAX) {
		/* The oldest unanswered miss makes room; unread ones stay. */
		n = list_first_entry_or_null(&dev->pending_list,
					     struct kvio_msg_node, node);
		if (n) {
			list_del(&n->node);
			kfree(n);
		} else {
			queue = false;
		}
	}
	if (queue)
		list_add_tail(&node->node, &dev->read_list);
	spin_unlock(&dev->iotlb_lock);

	if (!queue) {
		kfree(node);
		return 0;
	}
	wake_up_interruptible_poll(&dev->wait, EPOLLIN | EPOLLRDNORM);
	return 0;
}

/*
 * The device IOTLB's ops->fault: a missing entry is asked of the VMM and
 * the access retried once it answers; a present entry without the
 * permission is the guest's fault.
 */
static int kvio_iotlb_fault(struct kvio_as *as, struct kvio_vq *vq, u64 iova,
			    u32 perm, int err)
{
	int ret;

	if (err != -ENOENT)
		return -EFAULT;
	ret = kvio_iotlb_miss(vq, iova, perm);
	return ret ? ret : -EAGAIN;
}

static const struct kvio_as_ops kvio_iotlb_ops = {
	.fault = kvio_iotlb_fault,
};

/*
 * An empty device IOTLB: a cache of kvio_max_iotlb_entries entries in
 * which a new entry replaces what it overlaps and, when full, the oldest.
 */
struct kvio_as *kvio_iotlb_alloc(struct kvio_dev *dev)
{
	return kvio_as_alloc(&kvio_iotlb_ops, dev,
			     KVIO_AS_REPLACE | KVIO_AS_EVICT,
			     kvio_max_iotlb_entries);
}

/* Rings waiting for anything in [start, last] run again. */
static void kvio_msg_answer(struct kvio_dev *dev, struct list_head *list,
			    u64 start, u64 last)
{
	struct kvio_msg_node *node, *tmp;

	list_for_each_entry_safe(node, tmp, list, node) {
		struct vhost_iotlb_msg *m = kvio_msg_iotlb(node);

		if (m->type != VHOST_IOTLB_MISS || m->iova < start ||
		    m->iova > last)
			continue;
		kvio_poll_queue(&node->vq->poll);
		list_del(&node->node);
		kfree(node);
	}
}

static int kvio_iotlb_update(struct kvio_dev *dev,
			     const struct vhost_iotlb_msg *msg)
{
	struct kvio_as *iotlb = dev->iotlb;
	u64 last, uaddr_last;
	int ret;

	/* Size 0 and wrapping ranges were refused by the caller. */
	last = msg->iova + msg->size - 1;
	if (msg->perm != VHOST_ACCESS_RO && msg->perm != VHOST_ACCESS_WO &&
	    msg->perm != VHOST_ACCESS_RW)
		return -EINVAL;
	if (!iotlb)
		return -EFAULT;
	if (check_add_overflow(msg->uaddr, msg->size - 1, &uaddr_last) ||
	    uaddr_last > ULONG_MAX ||
	    !access_ok(u64_to_user_ptr(msg->uaddr), msg->size))
		return -EFAULT;

	/*
	 * A replaced or evicted entry bumps iotlb->unmaps: the rings drop
	 * the ring translations they cached (kvio_vq_prepare()).
	 */
	kvio_dev_lock_vqs(dev);
	ret = kvio_as_map(iotlb, msg->iova, last, msg->uaddr, msg->perm, NULL);
	if (!ret) {
		spin_lock(&dev->iotlb_lock);
		kvio_msg_answer(dev, &dev->pending_list, msg->iova, last);
		/* Answered before it was even read: the VMM need not see it. */
		kvio_msg_answer(dev, &dev->read_list, msg->iova, last);
		spin_unlock(&dev->iotlb_lock);
	}
	kvio_dev_unlock_vqs(dev);
	return ret;
}

static int kvio_iotlb_invalidate(struct kvio_dev *dev,
				 const struct vhost_iotlb_msg *msg)
{
	u64 last;

	if (!dev->iotlb)
		return -EFAULT;
	/*
	 * QEMU's global invalidation is iova 0, size 0 (a 2^64 mask plus
	 * one); upstream's arithmetic makes that "everything".  Any range
	 * running past the end is "to the end": removing more is safe.
	 */
	if (!msg->size || check_add_overflow(msg->iova, msg->size - 1, &last))
		last = U64_MAX;

	kvio_dev_lock_vqs(dev);
	kvio_as_unmap(dev->iotlb, msg->iova, last, false);
	kvio_dev_unlock_vqs(dev);
	return 0;
}

static int kvio_iotlb_process(struct kvio_dev *dev,
			      const struct vhost_iotlb_msg *msg)
{
	switch (msg->type) {
	case VHOST_IOTLB_UPDATE:
		return kvio_iotlb_update(dev, msg);
	case VHOST_IOTLB_INVALIDATE:
		return kvio_iotlb_invalidate(dev, msg);
	case VHOST_IOTLB_BATCH_BEGIN:
	case VHOST_IOTLB_BATCH_END:
		/*
		 * Updates take effect one by one, which is a valid way to
		 * apply a batch: the markers only need to be accepted.
		 */
		if (!(dev->backend_features &
		      (1ULL << VHOST_BACKEND_F_IOTLB_BATCH)))
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

/**
 * kvio_dev_write_iter() - take one IOTLB message from the VMM
 * @iocb: the write, on a device file whose private_data is the device
 * @from: the message: a struct vhost_msg, or a struct vhost_msg_v2 once
 *	VHOST_BACKEND_F_IOTLB_MSG_V2 is acked
 *
 * The device fd's write_iter (kvio_driver_register() installs it).  An
 * UPDATE adds a translation to the device IOTLB, replacing what it
 * overlaps, and re-queues the rings whose misses it answers; an
 * INVALIDATE removes every entry its range touches; BATCH_BEGIN and
 * BATCH_END are accepted once VHOST_BACKEND_F_IOTLB_BATCH is acked.  One
 * message per call: bytes after it are not consumed.
 *
 * Context: process context, may sleep; takes dev->mutex and every
 * vq->mutex.
 * Return: the size of the message taken; -EINVAL for a write shorter than
 * its message or of an unknown framing type, a v2 message before v2 is
 * acked, a non-zero asid, or an UPDATE of size 0 or past 2^64; -EPERM if
 * the writer is not the owner; -EBUSY if the device is bound to a vIOMMU
 * endpoint (kvio_dev_set_viommu()); -EFAULT if the message cannot be
 * copied, or for anything the IOTLB refuses, as upstream: no device IOTLB,
 * a permission other than RO/WO/RW, a user range that wraps or fails
 * access_ok(), a message type it does not take, an allocation failure.
 */
ssize_t kvio_dev_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct kvio_dev *dev = iocb->ki_filp->private_data;
	size_t count = iov_iter_count(from);
	struct vhost_iotlb_msg msg;
	u32 type, asid = 0;
	size_t size;
	int ret;

	if (copy_from_iter(&type, sizeof(type), from) != sizeof(type))
		return -EINVAL;
	switch (type) {
	case VHOST_IOTLB_MSG:
		size = sizeof(struct vhost_msg);
		if (count < size)
			return -EINVAL;
		/* The union is 8-byte aligned: skip the hole after type. */
		iov_iter_advance(from, offsetof(struct vhost_msg, iotlb) -
				 sizeof(type));
		break;
	case VHOST_IOTLB_MSG_V2:
		size = sizeof(struct vhost_msg_v2);
		if (count < size)
			return -EINVAL;
		if (copy_from_iter(&asid, sizeof(asid), from) != sizeof(asid))
			return -EFAULT;
		break;
	default:
		return -EINVAL;
	}
	if (copy_from_iter(&msg, sizeof(msg), from) != sizeof(msg))
		return -EFAULT;

	mutex_lock(&dev->mutex);
	ret = kvio_dev_check_owner(dev);
	if (ret)
		goto out;
	/*
	 * v2 only once negotiated; address spaces other than 0 need
	 * VHOST_BACKEND_F_IOTLB_ASID, which we do not offer.  Upstream
	 * ignores the asid field in that case.
	 */
	if ((type == VHOST_IOTLB_MSG_V2 &&
	     !(dev->backend_features &
	       (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2))) || asid) {
		ret = -EINVAL;
		goto out;
	}
	/*
	 * A vIOMMU endpoint's translations are the guest's, through its
	 * domain: the VMM may not add or remove any of its own.
	 */
	if (dev->viommu) {
		ret = -EBUSY;
		goto out;
	}
	/* Upstream's checks before its handler, and their errno. */
	if (msg.type == VHOST_IOTLB_UPDATE &&
	    (!msg.size || msg.iova > U64_MAX - (msg.size - 1))) {
		ret = -EINVAL;
		goto out;
	}
	/* Anything the handler refuses is -EFAULT, as upstream. */
	if (kvio_iotlb_process(dev, &msg))
		ret = -EFAULT;
out:
	mutex_unlock(&dev->mutex);
	return ret ? ret : size;
}
EXPORT_SYMBOL_GPL(kvio_dev_write_iter);

/*
 * Takes the oldest unread miss: a copy goes to the reader, the node moves to
 * pending_list in the same step, so an UPDATE racing with the read still
 * finds it.
 */
static size_t kvio_msg_dequeue(struct kvio_dev *dev, void *buf)
{
	struct kvio_msg_node *node;
	size_t size = 0;

	spin_lock(&dev->iotlb_lock);
	node = list_first_entry_or_null(&dev->read_list, struct kvio_msg_node,
					node);
	if (node) {
		if (node->v2) {
			size = sizeof(node->msg_v2);
			memcpy(buf, &node->msg_v2, size);
		} else {
			size = sizeof(node->msg);
			memcpy(buf, &node->msg, size);
		}
		list_move_tail(&node->node, &dev->pending_list);
	}
	spin_unlock(&dev->iotlb_lock);
	return size;
}

/**
 * kvio_dev_read_iter() - hand the VMM the oldest IOTLB miss
 * @iocb: the read, on a device file whose private_data is the device
 * @to: room for one message (72 bytes, either format)
 *
 * The device fd's read_iter (kvio_driver_register() installs it).  Copies
 * out the oldest miss not read yet, a struct vhost_msg or, once
 * VHOST_BACKEND_F_IOTLB_MSG_V2 is acked, a struct vhost_msg_v2, and moves
 * it to the misses waiting for an UPDATE.  Without O_NONBLOCK it waits
 * for one.
 *
 * Context: process context, may sleep; takes dev->iotlb_lock, not
 * dev->mutex.
 * Return: the size of the message; 0 if @to has room for less than a
 * message (nothing is taken); -EAGAIN with O_NONBLOCK and no miss queued;
 * -ERESTARTSYS if a signal interrupted the wait; -EBADFD (without
 * O_NONBLOCK) if the device has no device IOTLB, so no miss can come;
 * -EFAULT if the message cannot be copied out (the miss waits for its
 * UPDATE all the same, and the ring's next run reports it again).
 */
ssize_t kvio_dev_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct kvio_dev *dev = file->private_data;
	bool noblock = file->f_flags & O_NONBLOCK;
	union {
		struct vhost_msg msg;
		struct vhost_msg_v2 msg_v2;
	} buf;
	DEFINE_WAIT(wait);
	ssize_t ret = 0;
	size_t size;

	BUILD_BUG_ON(sizeof(struct vhost_msg) != sizeof(struct vhost_msg_v2));
	/* Both formats are 72 bytes; a smaller buffer reads nothing. */
	if (iov_iter_count(to) < sizeof(struct vhost_msg))
		return 0;

	for (;;) {
		if (!noblock)
			prepare_to_wait(&dev->wait, &wait, TASK_INTERRUPTIBLE);
		size = kvio_msg_dequeue(dev, &buf);
		if (size)
			break;
		if (noblock) {
			ret = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			ret = -ERESTARTSYS;
			break;
		}
		/* No IOTLB (any more): nothing will ever arrive. */
		if (!READ_ONCE(dev->iotlb)) {
			ret = -EBADFD;
			break;
		}
		schedule();
	}
	if (!noblock)
		finish_wait(&dev->wait, &wait);
	if (!size)
		return ret;

	/* If this fails the miss stays pending; the ring's next run repeats it. */
	if (copy_to_iter(&buf, size, to) != size)
		return -EFAULT;
	return size;
}
EXPORT_SYMBOL_GPL(kvio_dev_read_iter);

/**
 * kvio_dev_poll() - whether an IOTLB miss waits to be read
 * @file: a device file whose private_data is the device
 * @wait: the poll table
 *
 * The device fd's poll (kvio_driver_register() installs it).
 *
 * Context: process context; takes dev->iotlb_lock.
 * Return: EPOLLIN | EPOLLRDNORM if a miss waits to be read, else 0.
 */
__poll_t kvio_dev_poll(struct file *file, poll_table *wait)
{
	struct kvio_dev *dev = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &dev->wait, wait);
	spin_lock(&dev->iotlb_lock);
	if (!list_empty(&dev->read_list))
		mask |= EPOLLIN | EPOLLRDNORM;
	spin_unlock(&dev->iotlb_lock);
	return mask;
}
EXPORT_SYMBOL_GPL(kvio_dev_poll);
