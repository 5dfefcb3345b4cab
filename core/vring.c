// SPDX-License-Identifier: GPL-2.0-only
/*
 * The per-ring ioctls (VHOST_SET_VRING_* / GET_VRING_*): ring layout,
 * indices and eventfds.  Each runs with dev->mutex and the ring's vq->mutex
 * held, so the worker sees a ring either before or after the change.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/uaccess.h>

#include "core.h"

void kvio_vq_reset_meta(struct kvio_vq *vq)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(vq->meta); i++) {
		vq->meta[i].hva = NULL;
		vq->meta[i].checked = false;
	}
	vq->meta_ready = false;
}

/*
 * Ring state back to "never configured".  Files and eventfds must have been
 * released by the caller; the mutex, poll, worker and scratch stay.
 */
void kvio_vq_reset(struct kvio_vq *vq)
{
	vq->num = 0;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->desc_user_addr = 0;
	vq->avail_user_addr = 0;
	vq->used_user_addr = 0;
	kvio_vq_reset_meta(vq);
	vq->log_addr = 0;
	vq->log_used = false;
	vq->last_avail_idx = 0;
	vq->avail_idx = 0;
	vq->last_used_idx = 0;
	vq->used_flags = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->broken = false;
	vq->stopped = false;
	vq->access_ready = false;
	vq->acked_features = 0;
	vq->acked_backend_features = 0;
	kvio_vq_set_mem(vq, NULL);
	vq->iova = NULL;
	vq->iova_unmaps = 0;
	kvio_vq_reset_iova_hit(vq);
	vq->private_data = NULL;
	vq->busyloop_timeout = 0;
	vq->idle_polling = false;
}

/* Bytes of a ring area for @num entries (the event fields with EVENT_IDX). */
size_t kvio_vq_area_size(struct kvio_vq *vq, enum kvio_ring_area area,
			 unsigned int num)
{
	size_t event = kvio_vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX) ?
		       sizeof(__virtio16) : 0;

	switch (area) {
	case KVIO_RING_DESC:
		return sizeof(struct vring_desc) * (size_t)num;
	case KVIO_RING_AVAIL:
		return sizeof(struct vring_avail) +
		       sizeof(__virtio16) * (size_t)num + event;
	default:
		return sizeof(struct vring_used) +
		       sizeof(struct vring_used_elem) * (size_t)num + event;
	}
}

/*
 * The used ring's bits exist in the bitmap at @log_base when it is logged.
 * With a device IOTLB the used ring is logged through its translation
 * instead, so there is nothing to check here.
 */
bool kvio_vq_log_used_ok(struct kvio_vq *vq, u64 log_base, bool log_used,
			 u64 log_addr)
{
	size_t size = kvio_vq_area_size(vq, KVIO_RING_USED, vq->num);
	u64 last;

	if (!log_used || vq->iova)
		return true;
	if (check_add_overflow(log_addr, (u64)size - 1, &last))
		return false;
	return kvio_log_range_ok(log_base, log_addr, last);
}

static bool kvio_vq_rings_ok(struct kvio_vq *vq, unsigned int num, u64 desc,
			     u64 avail, u64 used)
{
	/* IOVAs are checked when they are translated. */
	if (vq->iova)
		return true;
	return access_ok(u64_to_user_ptr(desc),
			 kvio_vq_area_size(vq, KVIO_RING_DESC, num)) &&
	       access_ok(u64_to_user_ptr(avail),
			 kvio_vq_area_size(vq, KVIO_RING_AVAIL, num)) &&
	       access_ok(u64_to_user_ptr(used),
			 kvio_vq_area_size(vq, KVIO_RING_USED, num));
}

/**
 * kvio_vq_access_ok() - whether a ring can start with a backend
 * @vq: the ring
 *
 * Upstream's check before a backend is attached: without an IOVA stage
 * the descriptor table, avail and used rings, for the current ring size,
 * are user memory (access_ok(); IOVAs are checked when they translate);
 * with VHOST_F_LOG_ALL acked every memory-table region has its bits in
 * the dirty bitmap at dev->log_base; with the ring's VHOST_VRING_F_LOG
 * and no IOVA stage, so does the used ring at its log address.  A ring
 * never set up passes, as upstream: kvio_vq_init_access() then fails.
 *
 * Context: dev->mutex and vq->mutex held.
 * Return: true if the ring and its dirty log are reachable, else false.
 */
bool kvio_vq_access_ok(struct kvio_vq *vq)
{
	struct kvio_dev *dev = vq->dev;

	/*
	 * Like upstream, a ring never set up passes (address 0 is below the
	 * user limit): a backend attached to it fails kvio_vq_init_access().
	 */
	if (!kvio_vq_rings_ok(vq, vq->num, vq->desc_user_addr,
			      vq->avail_user_addr, vq->used_user_addr))
		return false;
	if (kvio_vq_has_feature(vq, VHOST_F_LOG_ALL) &&
	    !kvio_mem_log_ok(vq->mem, dev->log_base))
		return false;
	return kvio_vq_log_used_ok(vq, dev->log_base, vq->log_used,
				   vq->log_addr);
}
EXPORT_SYMBOL_GPL(kvio_vq_access_ok);

/* A ring's configuration changed: cached translations and state go. */
static void kvio_vq_reconfigured(struct kvio_vq *vq)
{
	kvio_vq_reset_meta(vq);
	vq->access_ready = false;
}

/*
 * SET_VRING_NUM and SET_VRING_BASE, both refused under a running backend:
 * changing the size or the indices would pull the ring away from it.
 */
static long kvio_vring_set_state(struct kvio_vq *vq, unsigned int cmd,
				 void __user *argp)
{
	struct vhost_vring_state s;

	if (kvio_vq_get_backend(vq))
		return -EBUSY;
	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	if (cmd == VHOST_SET_VRING_NUM) {
		if (!s.num || s.num > KVIO_VRING_MAX || (s.num & (s.num - 1)))
			return -EINVAL;
		vq->num = s.num;
		kvio_vq_reconfigured(vq);
		return 0;
	}
	/* Split rings only: the upper half would be packed-ring state. */
	if (s.num > 0xffff)
		return -EINVAL;
	vq->last_avail_idx = s.num;
	vq->avail_idx = s.num;
	vq->broken = false;
	kvio_vq_reconfigured(vq);
	/* Resume a ring GET_VRING_BASE stopped. */
	return kvio_vq_start_kick(vq);
}

static long kvio_vring_set_addr(struct kvio_vq *vq, void __user *argp)
{
	struct kvio_dev *dev = vq->dev;
	struct vhost_vring_addr a;
	bool log_used;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags & ~(1U << VHOST_VRING_F_LOG))
		return -EOPNOTSUPP;
	log_used = a.flags & (1U << VHOST_VRING_F_LOG);

	/* Addresses must fit a pointer (they do on 64-bit). */
	if ((u64)(unsigned long)a.desc_user_addr != a.desc_user_addr ||
	    (u64)(unsigned long)a.avail_user_addr != a.avail_user_addr ||
	    (u64)(unsigned long)a.used_user_addr != a.used_user_addr)
		return -EFAULT;

	/*
	 * The spec's alignments (2.7): upstream checks avail, used and the
	 * used ring's log address; we also check the descriptor table's, so
	 * a descriptor never straddles more than it has to.
	 */
	if ((a.desc_user_addr & (sizeof(struct vring_desc) - 1)) ||
	    (a.avail_user_addr & (VRING_AVAIL_ALIGN_SIZE - 1)) ||
	    (a.used_user_addr & (VRING_USED_ALIGN_SIZE - 1)) ||
	    (a.log_guest_addr & (VRING_USED_ALIGN_SIZE - 1)))
		return -EINVAL;

	if (!kvio_vq_rings_ok(vq, vq->num, a.desc_user_addr,
			      a.avail_user_addr, a.used_user_addr))
		return -EINVAL;
	/* The ring's LOG flag logs used-ring writes even without LOG_ALL. */
	if (!kvio_vq_log_used_ok(vq, dev->log_base, log_used,
				 a.log_guest_addr))
		return -EINVAL;

	/* Allowed on a live ring: QEMU flips the log flag for migration. */
	vq->desc_user_addr = a.desc_user_addr;
	vq->avail_user_addr = a.avail_user_addr;
	vq->used_user_addr = a.used_user_addr;
	vq->desc = u64_to_user_ptr(a.desc_user_addr);
	vq->avail = u64_to_user_ptr(a.avail_user_addr);
	vq->used = u64_to_user_ptr(a.used_user_addr);
	vq->log_addr = a.log_guest_addr;
	vq->log_used = log_used;
	vq->broken = false;
	kvio_vq_reconfigured(vq);
	return 0;
}

/*
 * Stops the ring (no chain taken from now on, kick poll off, queued work
 * run) so the index reported is where the guest's next buffer is and stays
 * so, with or without a backend.  SET_VRING_BASE, SET_VRING_KICK or
 * attaching a backend restart it (upstream stops nothing here: QEMU detaches
 * the backend first, and always sends those before it relies on the ring
 * again).
 */
static long kvio_vring_get_base(struct kvio_vq *vq, u32 idx, void __user *argp)
{
	struct vhost_vring_state s = { .index = idx };

	mutex_lock(&vq->mutex);
	vq->stopped = true;
	kvio_poll_stop(&vq->poll);
	mutex_unlock(&vq->mutex);
	kvio_vq_flush(vq);
	if (vq->dev->ops->vring_stopped)
		vq->dev->ops->vring_stopped(vq);

	mutex_lock(&vq->mutex);
	s.num = vq->last_avail_idx;
	mutex_unlock(&vq->mutex);

	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}

/*
 * The eventfd a vhost_vring_file argument names, referenced, or NULL for
 * VHOST_FILE_UNBIND; -EBADF for a bad descriptor, -EINVAL for another file.
 */
static struct file *kvio_vring_eventfd_from_user(void __user *argp)
{
	struct vhost_vring_file f;

	if (copy_from_user(&f, argp, sizeof(f)))
		return ERR_PTR(-EFAULT);
	return f.fd == VHOST_FILE_UNBIND ? NULL : eventfd_fget(f.fd);
}

static long kvio_vring_set_kick(struct kvio_vq *vq, void __user *argp)
{
	struct file *file, *old;
	long ret = 0;

	file = kvio_vring_eventfd_from_user(argp);
	if (IS_ERR(file))
		return PTR_ERR(file);

	mutex_lock(&vq->mutex);
	if (file && file == vq->kick) {
		/* The same eventfd again restarts a ring GET_VRING_BASE stopped. */
		ret = kvio_vq_start_kick(vq);
		mutex_unlock(&vq->mutex);
		fput(file);
		return ret;
	}

	old = vq->kick;
	kvio_poll_stop(&vq->poll);
	vq->kick = file;
	ret = kvio_vq_start_kick(vq);
	if (ret) {
		vq->kick = NULL;
		fput(file);
	}
	mutex_unlock(&vq->mutex);

	if (old) {
		/* A handler the old eventfd queued has finished. */
		kvio_vq_flush(vq);
		fput(old);
	}
	return ret;
}

/* CALL and ERR: swapped under vq->mutex, so live rings can change them. */
static long kvio_vring_set_ctx(struct kvio_vq *vq, void __user *argp,
			       struct eventfd_ctx **slot)
{
	struct eventfd_ctx *ctx = NULL;
	struct file *file;

	file = kvio_vring_eventfd_from_user(argp);
	if (IS_ERR(file))
		return PTR_ERR(file);
	if (file) {
		ctx = eventfd_ctx_fileget(file);
		fput(file);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	swap(ctx, *slot);
	if (ctx)
		eventfd_ctx_put(ctx);
	return 0;
}

long kvio_vring_ioctl(struct kvio_dev *dev, unsigned int cmd,
		      void __user *argp)
{
	struct vhost_vring_state s;
	struct kvio_vq *vq;
	long ret;
	u32 idx;

	switch (cmd) {
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_ADDR:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
	case VHOST_SET_VRING_ENDIAN:
	case VHOST_GET_VRING_ENDIAN:
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		break;
	default:
		return -ENOIOCTLCMD;
	}

	ret = kvio_dev_check_owner(dev);
	if (ret)
		return ret;
	vq = kvio_dev_vq_from_user(dev, argp, &idx);
	if (IS_ERR(vq))
		return PTR_ERR(vq);

	switch (cmd) {
	case VHOST_SET_VRING_ENDIAN:
	case VHOST_GET_VRING_ENDIAN:
		/* As a 6.1 kernel without CONFIG_VHOST_CROSS_ENDIAN_LEGACY. */
		return -ENOIOCTLCMD;
	case VHOST_GET_VRING_BASE:
		return kvio_vring_get_base(vq, idx, argp);
	case VHOST_SET_VRING_KICK:
		return kvio_vring_set_kick(vq, argp);
	}

	mutex_lock(&vq->mutex);
	switch (cmd) {
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_BASE:
		ret = kvio_vring_set_state(vq, cmd, argp);
		break;
	case VHOST_SET_VRING_ADDR:
		ret = kvio_vring_set_addr(vq, argp);
		break;
	case VHOST_SET_VRING_CALL:
		ret = kvio_vring_set_ctx(vq, argp, &vq->call_ctx);
		break;
	case VHOST_SET_VRING_ERR:
		ret = kvio_vring_set_ctx(vq, argp, &vq->error_ctx);
		break;
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
		if (copy_from_user(&s, argp, sizeof(s))) {
			ret = -EFAULT;
			break;
		}
		vq->busyloop_timeout = s.num;
		/* A poll under way takes the new timeout from its next run. */
		vq->idle_polling = false;
		ret = 0;
		break;
	default:	/* VHOST_GET_VRING_BUSYLOOP_TIMEOUT */
		s.index = idx;
		s.num = vq->busyloop_timeout;
		ret = copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
		break;
	}
	mutex_unlock(&vq->mutex);
	return ret;
}
