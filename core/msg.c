// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device IOTLB messages (VIRTIO_F_ACCESS_PLATFORM).  Not implemented yet.
 */
#include "core.h"

void kvio_msg_clear(struct kvio_dev *dev)
{
}

int kvio_iotlb_miss(struct kvio_vq *vq, u64 iova, u32 perm)
{
	return -EFAULT;
}

ssize_t kvio_dev_read_iter(struct kvio_dev *dev, struct iov_iter *to,
			   int noblock)
{
	return -EINVAL;
}
EXPORT_SYMBOL_GPL(kvio_dev_read_iter);

ssize_t kvio_dev_write_iter(struct kvio_dev *dev, struct iov_iter *from)
{
	return -EINVAL;
}
EXPORT_SYMBOL_GPL(kvio_dev_write_iter);

__poll_t kvio_dev_poll(struct kvio_dev *dev, struct file *file,
		       poll_table *wait)
{
	return 0;
}
EXPORT_SYMBOL_GPL(kvio_dev_poll);
