// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_blk: a virtio-blk device served in the host kernel, /dev/kvio-blk.
 *
 * The VMM drives it with the shared vhost ioctls (owner, features, memory
 * table, rings, workers) and three of its own (include/uapi/linux/kvio.h):
 * KVIO_BLK_SET_BACKEND names the file or block device behind the whole
 * device, KVIO_BLK_SET_CONFIG/GET_CONFIG carry what the VMM serves in the
 * config space (serial, cache mode, read-only, limits).  This file holds the
 * device node, those ioctls and backend attach/detach; the data path is in
 * req.c, everything ring-generic in kvio_core.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/stat.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>

#include "blk.h"

/* GEOMETRY and TOPOLOGY are config space only: nothing for us to do. */
#define KVIO_BLK_FEATURES					\
	(KVIO_FEATURES |					\
	 (1ULL << VIRTIO_BLK_F_SIZE_MAX) |			\
	 (1ULL << VIRTIO_BLK_F_SEG_MAX) |			\
	 (1ULL << VIRTIO_BLK_F_GEOMETRY) |			\
	 (1ULL << VIRTIO_BLK_F_RO) |				\
	 (1ULL << VIRTIO_BLK_F_BLK_SIZE) |			\
	 (1ULL << VIRTIO_BLK_F_FLUSH) |				\
	 (1ULL << VIRTIO_BLK_F_TOPOLOGY) |			\
	 (1ULL << VIRTIO_BLK_F_CONFIG_WCE) |			\
	 (1ULL << VIRTIO_BLK_F_MQ) |				\
	 (1ULL << VIRTIO_BLK_F_DISCARD) |			\
	 (1ULL << VIRTIO_BLK_F_WRITE_ZEROES))

#define KVIO_BLK_CONFIG_FLAGS	(KVIO_BLK_CONFIG_F_RO |		\
				 KVIO_BLK_CONFIG_F_WRITETHROUGH)

static u64 kvio_blk_backend_sectors(const struct kvio_blk_backend *be)
{
	if (be->is_bdev)
		return bdev_nr_sectors(I_BDEV(be->file->f_mapping->host));
	return i_size_read(file_inode(be->file)) >> SECTOR_SHIFT;
}

/* blk->cfg against the backend: the values the handlers use. */
static void kvio_blk_resolve(const struct kvio_blk_config *cfg,
			     const struct kvio_blk_backend *be,
			     struct kvio_blk_params *p)
{
	memset(p, 0, sizeof(*p));
	p->lbs = cfg->blk_size ? cfg->blk_size : SECTOR_SIZE;
	if (be && be->lbs > p->lbs)
		p->lbs = be->lbs;
	if (be)
		p->capacity = be->nr_sectors;
	if (cfg->capacity && cfg->capacity < p->capacity)
		p->capacity = cfg->capacity;
	/* Whole logical blocks only (lbs: a power of 2, 512 to 64 KiB). */
	p->capacity = round_down(p->capacity, p->lbs >> SECTOR_SHIFT);
	p->seg_max = cfg->seg_max ? cfg->seg_max : KVIO_BLK_SEG_MAX_DEFAULT;
	p->size_max = cfg->size_max;
	/* Segments times sectors within KVIO_BLK_DWZ_SECTORS_MAX. */
	p->max_discard_seg = cfg->max_discard_seg ? cfg->max_discard_seg : 1;
	p->max_discard_sectors = cfg->max_discard_sectors ?
				 cfg->max_discard_sectors :
				 KVIO_BLK_DWZ_SECTORS_MAX / p->max_discard_seg;
	p->max_wz_seg = cfg->max_write_zeroes_seg ?
			cfg->max_write_zeroes_seg : 1;
	p->max_wz_sectors = cfg->max_write_zeroes_sectors ?
			    cfg->max_write_zeroes_sectors :
			    KVIO_BLK_DWZ_SECTORS_MAX / p->max_wz_seg;
	p->ro = (cfg->flags & KVIO_BLK_CONFIG_F_RO) || (be && be->ro);
	p->writethrough = cfg->flags & KVIO_BLK_CONFIG_F_WRITETHROUGH;
	memcpy(p->serial, cfg->serial, sizeof(p->serial));
}

/* New params for every ring at once.  dev->mutex held. */
static void kvio_blk_update_params(struct kvio_blk *blk)
{
	kvio_dev_lock_vqs(&blk->dev);
	kvio_blk_resolve(&blk->cfg, blk->backend, &blk->params);
	kvio_dev_unlock_vqs(&blk->dev);
}

static void kvio_blk_config_init(struct kvio_blk_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->version = KVIO_BLK_CONFIG_VERSION;
}

/* A ring the VMM has laid out (the others wait, unused). */
static bool kvio_blk_ring_ready(const struct kvio_vq *vq)
{
	return vq->num && vq->desc_user_addr && vq->avail_user_addr &&
	       vq->used_user_addr;
}

/* Backends. */

static void kvio_blk_backend_put(struct kvio_blk_backend *be)
{
	if (!be)
		return;
	fput(be->file);
	kfree(be);
}

/* O_DIRECT alignment of a regular file, from statx(STATX_DIOALIGN). */
static unsigned int kvio_blk_file_dio_align(struct file *file)
{
	struct kstat st = {};
	unsigned int align;

	if (vfs_getattr(&file->f_path, &st, STATX_DIOALIGN,
			AT_STATX_SYNC_AS_STAT) ||
	    !(st.result_mask & STATX_DIOALIGN))
		return SECTOR_SIZE;
	align = max(st.dio_offset_align, st.dio_mem_align);
	return is_power_of_2(align) ? max_t(unsigned int, align, SECTOR_SIZE) :
				      SECTOR_SIZE;
}

/*
 * The fd of a regular file or a block device, open for reading: for writing
 * too unless the device is to be read-only.  Else -EBADF (no such fd, or not
 * readable) or -EINVAL (another kind of file, O_APPEND, no read/write_iter).
 */
static struct kvio_blk_backend *kvio_blk_backend_get(int fd)
{
	struct kvio_blk_backend *be;
	struct file *file;
	umode_t mode;
	int ret;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);
	mode = file_inode(file)->i_mode;
	ret = -EINVAL;
	if (!S_ISREG(mode) && !S_ISBLK(mode))
		goto err;
	/* Appending would put every write at the end of the file. */
	if ((file->f_flags & O_APPEND) || !file->f_op->read_iter)
		goto err;
	/* In use as swap: the kernel refuses writes to it, so do we. */
	ret = -ETXTBSY;
	if (IS_SWAPFILE(file->f_mapping->host))
		goto err;
	ret = -EBADF;
	if (!(file->f_mode & FMODE_READ))
		goto err;

	ret = -ENOMEM;
	be = kzalloc(sizeof(*be), GFP_KERNEL_ACCOUNT);
	if (!be)
		goto err;
	be->file = file;
	be->is_bdev = S_ISBLK(mode);
	be->ro = !(file->f_mode & FMODE_WRITE) || !file->f_op->write_iter;
	if (be->is_bdev) {
		struct block_device *bdev = I_BDEV(file->f_mapping->host);

		/* Discard and zeroing go by logical blocks too. */
		be->lbs = bdev_logical_block_size(bdev);
		be->dio_align = be->lbs;
		be->ro |= bdev_read_only(bdev);
	} else {
		be->lbs = SECTOR_SIZE;
		be->dio_align = kvio_blk_file_dio_align(file);
	}
	be->nr_sectors = kvio_blk_backend_sectors(be);
	return be;

err:
	fput(file);
	return ERR_PTR(ret);
}

/*
 * No ring uses the backend any more and every request taken is answered;
 * then the file goes.  dev->mutex held, no vq->mutex.
 */
static void kvio_blk_detach(struct kvio_blk *blk)
{
	struct kvio_blk_backend *be = blk->backend;
	bool async = false;
	int i;

	if (!be)
		return;
	kvio_dev_lock_vqs(&blk->dev);
	for (i = 0; i < KVIO_BLK_VQ_MAX; i++)
		kvio_vq_set_backend(&blk->vqs[i].vq, NULL);
	blk->backend = NULL;
	kvio_blk_resolve(&blk->cfg, NULL, &blk->params);
	kvio_dev_unlock_vqs(&blk->dev);

	/*
	 * Handlers see no backend now; requests in flight still end on
	 * their ring's worker, which answers them.
	 */
	for (i = 0; i < KVIO_BLK_VQ_MAX; i++) {
		kvio_blk_vq_drain(&blk->vqs[i]);
		async |= READ_ONCE(blk->vqs[i].async);
		WRITE_ONCE(blk->vqs[i].async, false);
	}
	/*
	 * A completion may still be inside its RCU section, past the point
	 * where its request became visible; a worker may be freed next
	 * (RESET_OWNER, FREE_WORKER, release).
	 */
	if (async)
		synchronize_rcu();
	for (i = 0; i < KVIO_BLK_VQ_MAX; i++)
		kvio_blk_vq_free_pool(&blk->vqs[i]);
	kvio_blk_backend_put(be);
}

/* Rings and dirty log reachable, as for any backend.  dev->mutex held. */
static int kvio_blk_rings_ok(struct kvio_blk *blk)
{
	int i, ret = 0;

	kvio_dev_lock_vqs(&blk->dev);
	for (i = 0; i < KVIO_BLK_VQ_MAX && !ret; i++)
		if (!kvio_vq_access_ok(&blk->vqs[i].vq))
			ret = -EFAULT;
	kvio_dev_unlock_vqs(&blk->dev);
	return ret;
}

/* blk->backend is NULL.  dev->mutex held. */
static int kvio_blk_attach(struct kvio_blk *blk, struct kvio_blk_backend *be)
{
	int i, ret = 0;

	/* vq->num stays as it is while a backend is attached. */
	for (i = 0; i < KVIO_BLK_VQ_MAX && !ret; i++)
		ret = kvio_blk_vq_alloc_pool(&blk->vqs[i]);
	if (ret)
		goto free_pools;

	kvio_dev_lock_vqs(&blk->dev);
	blk->backend = be;
	kvio_blk_resolve(&blk->cfg, be, &blk->params);
	for (i = 0; i < KVIO_BLK_VQ_MAX; i++)
		kvio_vq_set_backend(&blk->vqs[i].vq, be);
	for (i = 0; i < KVIO_BLK_VQ_MAX; i++) {
		struct kvio_vq *vq = &blk->vqs[i].vq;

		if (!kvio_blk_ring_ready(vq))
			continue;
		/* Used flags and index now; restarts a stopped ring. */
		ret = kvio_vq_init_access(vq);
		if (ret)
			break;
	}
	if (ret) {
		/* Nothing ran: the handlers wait for these mutexes. */
		for (i = 0; i < KVIO_BLK_VQ_MAX; i++)
			kvio_vq_set_backend(&blk->vqs[i].vq, NULL);
		blk->backend = NULL;
		kvio_blk_resolve(&blk->cfg, NULL, &blk->params);
	} else {
		/*
		 * Requests the guest queued while no backend was attached had
		 * their kick already: look at every ring once now.
		 */
		for (i = 0; i < KVIO_BLK_VQ_MAX; i++)
			if (kvio_blk_ring_ready(&blk->vqs[i].vq))
				kvio_poll_queue(&blk->vqs[i].vq.poll);
	}
	kvio_dev_unlock_vqs(&blk->dev);
	if (!ret)
		return 0;
free_pools:
	for (i = 0; i < KVIO_BLK_VQ_MAX; i++)
		kvio_blk_vq_free_pool(&blk->vqs[i]);
	return ret;
}

/*
 * The backend serves the whole device: @index only has to name a ring, so a
 * VMM that sets it ring by ring, as for vhost-net, works; the same file
 * again just reads its size again.
 */
static long kvio_blk_set_backend(struct kvio_blk *blk, unsigned int index,
				 int fd)
{
	struct kvio_dev *dev = &blk->dev;
	struct kvio_blk_backend *be;
	long ret;

	mutex_lock(&dev->mutex);
	ret = kvio_dev_check_vq_index(dev, index);
	if (ret < 0)
		goto out;
	ret = 0;
	if (fd == -1) {
		kvio_blk_detach(blk);
		goto out;
	}

	be = kvio_blk_backend_get(fd);
	if (IS_ERR(be)) {
		ret = PTR_ERR(be);
		goto out;
	}
	if (blk->backend && blk->backend->file == be->file) {
		blk->backend->nr_sectors = be->nr_sectors;
		kvio_blk_backend_put(be);
		kvio_blk_update_params(blk);
		goto out;
	}
	/* Checked first: a refused file leaves the old one in place. */
	ret = kvio_blk_rings_ok(blk);
	if (!ret) {
		kvio_blk_detach(blk);
		ret = kvio_blk_attach(blk, be);
	}
	if (ret)
		kvio_blk_backend_put(be);
out:
	mutex_unlock(&dev->mutex);
	return ret;
}

/* Config. */

/* DISCARD or WRITE_ZEROES limits (0: the default) within kvio's. */
static bool kvio_blk_dwz_limits_ok(u32 sectors, u32 segs)
{
	if (sectors > KVIO_BLK_DWZ_SECTORS_MAX || segs > KVIO_BLK_DWZ_SEG_MAX)
		return false;
	return (u64)(sectors ? sectors : 1) * (segs ? segs : 1) <=
	       KVIO_BLK_DWZ_SECTORS_MAX;
}

static int kvio_blk_config_check(const struct kvio_blk_config *cfg)
{
	int i;

	if (cfg->version != KVIO_BLK_CONFIG_VERSION ||
	    cfg->flags & ~KVIO_BLK_CONFIG_FLAGS)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(cfg->reserved); i++)
		if (cfg->reserved[i])
			return -EINVAL;
	if (cfg->blk_size && (!is_power_of_2(cfg->blk_size) ||
			      cfg->blk_size < SECTOR_SIZE ||
			      cfg->blk_size > SZ_64K))
		return -EINVAL;
	if (cfg->seg_max > KVIO_BLK_SEG_MAX ||
	    !kvio_blk_dwz_limits_ok(cfg->max_discard_sectors,
				    cfg->max_discard_seg) ||
	    !kvio_blk_dwz_limits_ok(cfg->max_write_zeroes_sectors,
				    cfg->max_write_zeroes_seg))
		return -EINVAL;
	return 0;
}

static long kvio_blk_set_config(struct kvio_blk *blk, void __user *argp)
{
	struct kvio_dev *dev = &blk->dev;
	struct kvio_blk_config cfg;
	long ret;

	mutex_lock(&dev->mutex);
	ret = kvio_dev_check_owner(dev);
	if (ret)
		goto out;
	ret = -EFAULT;
	if (copy_from_user(&cfg, argp, sizeof(cfg)))
		goto out;
	ret = kvio_blk_config_check(&cfg);
	if (ret)
		goto out;
	blk->cfg = cfg;
	/* A resized backend: the VMM sends the new capacity through here. */
	if (blk->backend)
		blk->backend->nr_sectors =
			kvio_blk_backend_sectors(blk->backend);
	kvio_blk_update_params(blk);
out:
	mutex_unlock(&dev->mutex);
	return ret;
}

static long kvio_blk_get_config(struct kvio_blk *blk, void __user *argp)
{
	struct kvio_dev *dev = &blk->dev;
	const struct kvio_blk_params *p = &blk->params;
	struct kvio_blk_config cfg = {};
	long ret;

	mutex_lock(&dev->mutex);
	ret = kvio_dev_check_owner(dev);
	if (ret)
		goto out;
	cfg.version = KVIO_BLK_CONFIG_VERSION;
	if (p->ro)
		cfg.flags |= KVIO_BLK_CONFIG_F_RO;
	if (p->writethrough)
		cfg.flags |= KVIO_BLK_CONFIG_F_WRITETHROUGH;
	cfg.capacity = p->capacity;
	cfg.blk_size = p->lbs;
	cfg.seg_max = p->seg_max;
	cfg.size_max = p->size_max;
	cfg.max_discard_sectors = p->max_discard_sectors;
	cfg.max_discard_seg = p->max_discard_seg;
	cfg.max_write_zeroes_sectors = p->max_wz_sectors;
	cfg.max_write_zeroes_seg = p->max_wz_seg;
	memcpy(cfg.serial, p->serial, sizeof(cfg.serial));
	if (copy_to_user(argp, &cfg, sizeof(cfg)))
		ret = -EFAULT;
out:
	mutex_unlock(&dev->mutex);
	return ret;
}

/* RESET_OWNER: back to the state after open().  dev->mutex held. */
static void kvio_blk_reset_owner(struct kvio_dev *dev)
{
	struct kvio_blk *blk = container_of(dev, struct kvio_blk, dev);

	kvio_blk_detach(blk);
	kvio_blk_config_init(&blk->cfg);
	kvio_blk_update_params(blk);
}

/*
 * GET_VRING_BASE stopped the ring: the requests it took are answered before
 * the index goes back to the VMM, so used and avail indices agree once it
 * returns (what a VMM saving the ring for migration needs).
 */
static void kvio_blk_vring_stopped(struct kvio_vq *vq)
{
	kvio_blk_vq_drain(to_blk_vq(vq));
}

static const struct kvio_dev_ops kvio_blk_ops = {
	.features = KVIO_BLK_FEATURES,
	.reset_owner = kvio_blk_reset_owner,
	.vring_stopped = kvio_blk_vring_stopped,
	.sync_translation = kvio_blk_sync_translation,
};

static long kvio_blk_ioctl(struct kvio_dev *dev, unsigned int cmd,
			   void __user *argp)
{
	struct kvio_blk *blk = container_of(dev, struct kvio_blk, dev);
	struct vhost_vring_file backend;

	switch (cmd) {
	case KVIO_BLK_SET_BACKEND:
		if (copy_from_user(&backend, argp, sizeof(backend)))
			return -EFAULT;
		return kvio_blk_set_backend(blk, backend.index, backend.fd);
	case KVIO_BLK_SET_CONFIG:
		return kvio_blk_set_config(blk, argp);
	case KVIO_BLK_GET_CONFIG:
		return kvio_blk_get_config(blk, argp);
	default:
		return -ENOIOCTLCMD;
	}
}

static struct kvio_dev *kvio_blk_open(void)
{
	struct kvio_blk *blk;
	int i, r;

	blk = kvzalloc(sizeof(*blk), GFP_KERNEL_ACCOUNT);
	if (!blk)
		return ERR_PTR(-ENOMEM);

	for (i = 0; i < KVIO_BLK_VQ_MAX; i++) {
		struct kvio_blk_vq *bvq = &blk->vqs[i];

		blk->vq_ptrs[i] = &bvq->vq;
		bvq->vq.handle_kick = kvio_blk_handle_kick;
		init_llist_head(&bvq->done);
		kvio_work_init(&bvq->done_work, kvio_blk_done_work);
		atomic_set(&bvq->inflight, 0);
		atomic_set(&bvq->epoch_reqs[0], 0);
		atomic_set(&bvq->epoch_reqs[1], 0);
	}
	init_waitqueue_head(&blk->idle);
	mutex_init(&blk->sync_mutex);
	kvio_blk_config_init(&blk->cfg);
	kvio_blk_resolve(&blk->cfg, NULL, &blk->params);

	r = kvio_dev_init(&blk->dev, blk->vq_ptrs, KVIO_BLK_VQ_MAX,
			  &kvio_blk_ops, KVIO_BLK_IOV_LIMIT, KVIO_BLK_WEIGHT,
			  KVIO_BLK_BYTE_WEIGHT);
	if (r) {
		kvfree(blk);
		return ERR_PTR(r);
	}
	return &blk->dev;
}

static void kvio_blk_release(struct kvio_dev *dev)
{
	struct kvio_blk *blk = container_of(dev, struct kvio_blk, dev);

	mutex_lock(&blk->dev.mutex);
	kvio_blk_detach(blk);
	mutex_unlock(&blk->dev.mutex);
	kvio_dev_cleanup(&blk->dev);
	kvfree(blk);
}

static struct kvio_driver kvio_blk_driver = {
	.name		= "kvio-blk",
	.open		= kvio_blk_open,
	.release	= kvio_blk_release,
	.ioctl		= kvio_blk_ioctl,
};

static int __init kvio_blk_init(void)
{
	return kvio_driver_register(&kvio_blk_driver);
}
module_init(kvio_blk_init);

static void __exit kvio_blk_exit(void)
{
	kvio_driver_unregister(&kvio_blk_driver);
}
module_exit(kvio_blk_exit);

MODULE_LICENSE("GPL");
MODULE_VERSION(KVIO_VERSION);
MODULE_DESCRIPTION("kvio: virtio-blk server in the host kernel");
