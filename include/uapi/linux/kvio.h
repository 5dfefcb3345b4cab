/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * kvio: ioctls that are not part of the upstream vhost ABI of the kernel the
 * VMM was built against.
 *
 * Everything the upstream <linux/vhost.h> of a 6.1 kernel already defines is
 * used from there.  Ioctls that upstream added after 6.1 are defined here with
 * the upstream numbers and structures, guarded so a newer header wins.
 */
#ifndef _UAPI_LINUX_KVIO_H
#define _UAPI_LINUX_KVIO_H

#include <linux/types.h>
#include <linux/vhost.h>

/* Worker ioctls, upstream since 6.5. */
#ifndef VHOST_NEW_WORKER
struct vhost_worker_state {
	/*
	 * For VHOST_NEW_WORKER the kernel returns the new worker's id.
	 * For VHOST_FREE_WORKER this must be set to the id to free.
	 */
	unsigned int worker_id;
};

struct vhost_vring_worker {
	/* vring index */
	unsigned int index;
	/* The id of the worker the vring is, or is to be, attached to. */
	unsigned int worker_id;
};

#define VHOST_NEW_WORKER _IOR(VHOST_VIRTIO, 0x8, struct vhost_worker_state)
#define VHOST_FREE_WORKER _IOW(VHOST_VIRTIO, 0x9, struct vhost_worker_state)
#define VHOST_ATTACH_VRING_WORKER _IOW(VHOST_VIRTIO, 0x15,	\
				       struct vhost_vring_worker)
#define VHOST_GET_VRING_WORKER _IOWR(VHOST_VIRTIO, 0x16,	\
				     struct vhost_vring_worker)
#endif /* VHOST_NEW_WORKER */

/*
 * vhost-blk backend: fd of a block device or regular file; fd -1 detaches.
 * 0x50 is the number kvmtool and the never-merged vhost-blk series used.
 */
#ifndef VHOST_BLK_SET_BACKEND
#define VHOST_BLK_SET_BACKEND _IOW(VHOST_VIRTIO, 0x50, struct vhost_vring_file)
#endif

#endif /* _UAPI_LINUX_KVIO_H */
