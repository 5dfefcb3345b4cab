/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * kvio: ioctls that are not part of the upstream vhost ABI of the kernel the
 * VMM was built against.
 *
 * Everything the upstream <linux/vhost.h> of a 6.1 kernel already defines is
 * used from there.  Ioctls that upstream added after 6.1 are defined here with
 * the upstream numbers, names and structures, guarded so a newer header wins.
 * kvio's own ioctls and structures carry kvio names (KVIO_*, struct kvio_*),
 * so that none can clash with what a future upstream header defines (a
 * vhost-blk of its own, say); they live in the vhost ioctl space (type
 * VHOST_VIRTIO) at numbers upstream does not use.
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
#define KVIO_BLK_SET_BACKEND _IOW(VHOST_VIRTIO, 0x50, struct vhost_vring_file)

/*
 * vhost-blk device configuration: what the VMM serves in the virtio-blk
 * config space that the backend must know to validate and answer requests.
 * Every field but version and flags may be 0, which selects the default
 * named in its comment.  kvio's own numbers (0x51, 0x52: unused upstream);
 * Documentation/blk.rst has the rules.
 */
#define KVIO_BLK_CONFIG_VERSION	1

/* Refuse writes, discard and write zeroes (VIRTIO_BLK_F_RO). */
#define KVIO_BLK_CONFIG_F_RO		(1U << 0)
/*
 * Writethrough: a write is stable when it completes.  Set it when the guest
 * clears "writeback" in the config space (VIRTIO_BLK_F_CONFIG_WCE) or the
 * host wants no volatile cache; without VIRTIO_BLK_F_FLUSH acked the device
 * is writethrough anyway.
 */
#define KVIO_BLK_CONFIG_F_WRITETHROUGH	(1U << 1)

struct kvio_blk_config {
	__u32 version;			/* KVIO_BLK_CONFIG_VERSION */
	__u32 flags;			/* KVIO_BLK_CONFIG_F_* */
	__u64 capacity;			/* 512-byte sectors; 0: the backend's */
	__u32 blk_size;			/* logical block size; 0: 512 */
	__u32 seg_max;			/* data segments per request; 0: 254 */
	__u32 size_max;			/* bytes per segment; 0: no limit */
	__u32 max_discard_sectors;	/* per segment; 0: 256 MiB / seg */
	__u32 max_discard_seg;		/* segments per request; 0: 1 */
	__u32 max_write_zeroes_sectors;	/* per segment; 0: 256 MiB / seg */
	__u32 max_write_zeroes_seg;	/* segments per request; 0: 1 */
	__u8 serial[20];		/* GET_ID answer, NUL padded */
	__u32 reserved[8];		/* must be 0 */
};

/*
 * SET takes effect for requests read from the rings after it returns; GET
 * returns the values in force, for the config space: defaults resolved,
 * capacity and block size as limited by the backend attached, RO set for a
 * read-only backend.  To change a setting, SET the VMM's own copy again, not
 * a GET result (that would pin capacity, block size and RO to the backend
 * of the moment).  One DISCARD or WRITE_ZEROES request covers at most
 * 256 MiB: max_*_sectors * max_*_seg above that is EINVAL.
 */
#define KVIO_BLK_SET_CONFIG _IOW(VHOST_VIRTIO, 0x51, struct kvio_blk_config)
#define KVIO_BLK_GET_CONFIG _IOR(VHOST_VIRTIO, 0x52, struct kvio_blk_config)

#endif /* _UAPI_LINUX_KVIO_H */
