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

/*
 * kvio_iommu (/dev/kvio-iommu): the virtio-iommu device (ID 23) served in
 * the kernel.  Rings, memory table, kicks and calls use the shared vhost
 * ioctls (ring 0 the request queue, ring 1 the event queue); the VMM serves
 * the config space and tells the device what it holds with SET_CONFIG.
 * Numbers 0xa0-0xa6, unused upstream.  Documentation/iommu.rst has the
 * rules.
 */
#define KVIO_IOMMU_CONFIG_VERSION	1

struct kvio_iommu_config {
	__u32 version;			/* KVIO_IOMMU_CONFIG_VERSION */
	__u32 flags;			/* none yet: 0 */
	__u64 page_size_mask;		/* 0: 4 KiB pages only */
	__u64 input_start;		/* IOVA range; both 0: all 64 bits */
	__u64 input_end;		/* inclusive */
	__u32 domain_start;		/* domain IDs; both 0: all 32 bits */
	__u32 domain_end;		/* inclusive */
	__u32 probe_size;		/* PROBE buffer bytes; 0: 512 */
	__u32 max_mappings;		/* per domain, past it NOMEM; 0: 65536 */
	__u8 bypass;			/* config bypass (BYPASS_CONFIG) */
	__u8 reserved[7];		/* must be 0 */
};

#define KVIO_IOMMU_SET_CONFIG _IOW(VHOST_VIRTIO, 0xa0, struct kvio_iommu_config)
#define KVIO_IOMMU_GET_CONFIG _IOR(VHOST_VIRTIO, 0xa1, struct kvio_iommu_config)

/*
 * A reserved region PROBE reports for every endpoint and MAP refuses:
 * subtype VIRTIO_IOMMU_RESV_MEM_T_RESERVED or _T_MSI, [start, end]
 * inclusive.  The x86 MSI window 0xfee00000-0xfeefffff is always there.
 */
struct kvio_iommu_resv {
	__u64 start;
	__u64 end;
	__u8 subtype;
	__u8 reserved[7];		/* must be 0 */
};

#define KVIO_IOMMU_ADD_RESV _IOW(VHOST_VIRTIO, 0xa2, struct kvio_iommu_resv)

/*
 * Endpoints: @endpoint is the ID the guest names in requests (the VIOT's
 * endpoint ID); @fd an open kvio device (kvio-net, kvio-blk) whose DMA the
 * endpoint's domain translates, or -1 for an endpoint with no kvio device.
 * Binding another kvio device under the ID of an endpoint that has kvio
 * devices adds it (a function served by several, as a multiqueue NIC with
 * a kvio-net per queue pair); UNBIND removes the endpoint with all of them.
 * A kvio device is behind one endpoint of one vIOMMU at a time (EBUSY).
 */
struct kvio_iommu_endpoint {
	__u32 endpoint;
	__s32 fd;
};

#define KVIO_IOMMU_BIND _IOW(VHOST_VIRTIO, 0xa3, struct kvio_iommu_endpoint)
#define KVIO_IOMMU_UNBIND _IOW(VHOST_VIRTIO, 0xa4, struct kvio_iommu_endpoint)

/*
 * Device reset (the guest reset the virtio device): every endpoint leaves
 * its domain and the domains, with their mappings, are gone.  Endpoints,
 * reserved regions and the configuration stay.  RESET_OWNER does the same.
 */
#define KVIO_IOMMU_RESET _IO(VHOST_VIRTIO, 0xa5)

/*
 * Fault events since open: every translation fault of a bound device's
 * rings or buffers (no mapping, a mapping without the permission, an
 * endpoint neither attached nor in bypass), and those of them dropped
 * because the guest had no event buffer posted and KVIO_IOMMU_FAULTS_MAX
 * were already waiting.
 */
struct kvio_iommu_stats {
	__u64 faults;
	__u64 faults_dropped;
};

#define KVIO_IOMMU_GET_STATS _IOR(VHOST_VIRTIO, 0xa6, struct kvio_iommu_stats)

/*
 * What the guest physical address behind an endpoint's IOVA is now, for a
 * VMM that serves a queue of that function itself (virtio-net's control
 * queue).  In: @endpoint, @flags (KVIO_IOMMU_TRANSLATE_WRITE for a write
 * access; else a read), @iova, @size (bytes wanted, at least 1).  Out:
 * @gpa, and @size cut to the bytes from @iova that one mapping holds.
 * ENOENT: no such endpoint; ENXIO: nothing there (no mapping, or the
 * endpoint neither attached nor in bypass); EACCES: the mapping does not
 * allow the access.  No fault event reaches the guest: the VMM decides
 * what its device does.
 */
#define KVIO_IOMMU_TRANSLATE_WRITE	(1U << 0)

struct kvio_iommu_translate {
	__u32 endpoint;
	__u32 flags;
	__u64 iova;
	__u64 size;
	__u64 gpa;
};

#define KVIO_IOMMU_TRANSLATE _IOWR(VHOST_VIRTIO, 0xa7, struct kvio_iommu_translate)

/*
 * kvio_vfio: a VFIO IOMMU backend whose host IOMMU domain mirrors a
 * kvio_iommu domain.  A VMM puts an assigned device's group in a VFIO
 * container and selects it with VFIO_SET_IOMMU(KVIO_VFIO_IOMMU)
 * (VFIO_CHECK_EXTENSION answers 1 when kvio_vfio is loaded), then binds the
 * group's fd to a vIOMMU endpoint with KVIO_IOMMU_BIND.  From then on the
 * guest's MAP and UNMAP for that endpoint are written into the host IOMMU
 * by the kernel; the container takes no MAP_DMA of its own.  The value is
 * far above VFIO's own IOMMU types (1-10 in 6.12).
 */
#define KVIO_VFIO_IOMMU		0x6b76

#endif /* _UAPI_LINUX_KVIO_H */
