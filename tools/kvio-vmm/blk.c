// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio-vmm: virtio-blk devices served by kvio_blk (/dev/kvio-blk,
 * Documentation/blk.rst).  The VMM offers what kvio_blk offers and the VMM
 * can present, serves the config space from KVIO_BLK_GET_CONFIG, and on
 * DRIVER_OK hands the rings and the disk's fd to the kernel.
 *
 *   --disk PATH[,ro][,queues=N][,poll=US]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* O_DIRECT */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <linux/pci_regs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>

#include <linux/kvio.h>
#include "vhost.h"

#define BLK_MAX_DISKS		8
#define BLK_MAX_QUEUES		16
#define BLK_QUEUE_SIZE		256
#define BLK_DEV			"/dev/kvio-blk"

/* What the VMM knows how to present (config fields it serves). */
#define BLK_FEATURES	((1ULL << VIRTIO_BLK_F_SIZE_MAX) |	\
			 (1ULL << VIRTIO_BLK_F_SEG_MAX) |	\
			 (1ULL << VIRTIO_BLK_F_RO) |		\
			 (1ULL << VIRTIO_BLK_F_BLK_SIZE) |	\
			 (1ULL << VIRTIO_BLK_F_FLUSH) |		\
			 (1ULL << VIRTIO_BLK_F_CONFIG_WCE) |	\
			 (1ULL << VIRTIO_BLK_F_MQ) |		\
			 (1ULL << VIRTIO_BLK_F_DISCARD) |	\
			 (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) |	\
			 VHOST_VMM_RING_FEATURES)

struct blk_disk {
	char *spec;
	char *path;
	bool ro;
	unsigned int nq;
	unsigned int poll_us;		/* busy-loop timeout of each ring */
	int file_fd;			/* the backing file or block device */
	int fd;				/* /dev/kvio-blk */
	uint64_t backend_features;	/* VHOST_GET_FEATURES */
	struct kvio_blk_config set;	/* what we SET (never a GET result) */
	struct virtio_blk_config cfg;	/* the config space, from GET_CONFIG */
	uint32_t rings;			/* started rings, bit per ring */
	bool attached;
	bool created;
	struct virtio_dev vdev;
};

static struct blk_disk disks[BLK_MAX_DISKS];
static unsigned int ndisks;

static int blk_parse_err(const char *spec, const char *why)
{
	fprintf(stderr, "kvio-vmm: --disk %s: %s\n", spec, why);
	return -1;
}

int vmm_disk_parse(const char *spec)
{
	struct blk_disk *d = &disks[ndisks];
	char *copy, *tok, *save = NULL;
	struct stat st;
	char why[160];
	int flags;

	if (ndisks == BLK_MAX_DISKS)
		return blk_parse_err(spec, "too many disks");
	copy = strdup(spec);
	if (!copy)
		return blk_parse_err(spec, "out of memory");
	memset(d, 0, sizeof(*d));
	d->nq = 1;
	d->file_fd = -1;
	d->fd = -1;

	tok = strtok_r(copy, ",", &save);
	if (!tok || spec[0] == ',') {
		free(copy);
		return blk_parse_err(spec, "no PATH");
	}
	d->path = tok;
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "ro")) {
			d->ro = true;
		} else if (!strncmp(tok, "queues=", 7)) {
			if (vmm_spec_queues(tok + 7, BLK_MAX_QUEUES, &d->nq,
					    why, sizeof(why))) {
				free(copy);
				return blk_parse_err(spec, why);
			}
		} else if (!strncmp(tok, "poll=", 5)) {
			if (vmm_spec_uint(tok + 5, "poll", 0, VMM_POLL_MAX_US,
					  &d->poll_us, why, sizeof(why))) {
				free(copy);
				return blk_parse_err(spec, why);
			}
		} else {
			snprintf(why, sizeof(why),
				 "unknown option '%.40s' (PATH[,ro][,queues=N][,poll=US])",
				 tok);
			free(copy);
			return blk_parse_err(spec, why);
		}
	}

	flags = (d->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	/*
	 * O_DIRECT makes kvio_blk's I/O asynchronous; filesystems without it
	 * (tmpfs) are served through the page cache.
	 */
	d->file_fd = open(d->path, flags | O_DIRECT);
	if (d->file_fd < 0 && errno == EINVAL)
		d->file_fd = open(d->path, flags);
	if (d->file_fd < 0) {
		snprintf(why, sizeof(why), "%s: %s", d->path, strerror(errno));
		free(copy);
		return blk_parse_err(spec, why);
	}
	if (fstat(d->file_fd, &st) ||
	    (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		close(d->file_fd);
		free(copy);
		return blk_parse_err(spec, "not a regular file or block device");
	}
	d->spec = strdup(spec);
	d->path = copy;		/* tok pointed into it, first token */
	ndisks++;
	return 0;
}

/* ------------------------------------------------------------ device */

static void blk_config_read(struct virtio_dev *vdev, uint32_t off, uint8_t *data,
			    uint32_t len)
{
	struct blk_disk *d = vdev->priv;

	memcpy(data, (uint8_t *)&d->cfg + off, len);
}

static int blk_set_config(struct blk_disk *d)
{
	if (ioctl(d->fd, KVIO_BLK_SET_CONFIG, &d->set) < 0) {
		vmm_guest_msg("kvio-vmm: %s: KVIO_BLK_SET_CONFIG: %s\n",
			      d->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The configuration, then the backing file: what the disk needs to serve. */
static int blk_attach(struct blk_disk *d)
{
	struct vhost_vring_file f = { .index = 0, .fd = d->file_fd };

	if (blk_set_config(d))
		return -1;
	if (ioctl(d->fd, KVIO_BLK_SET_BACKEND, &f) < 0) {
		vmm_guest_msg("kvio-vmm: %s: KVIO_BLK_SET_BACKEND: %s\n",
			      d->path, strerror(errno));
		return -1;
	}
	return 0;
}

static int blk_detach(struct blk_disk *d)
{
	struct vhost_vring_file f = { .index = 0, .fd = -1 };

	if (ioctl(d->fd, KVIO_BLK_SET_BACKEND, &f) < 0) {
		fprintf(stderr, "kvio-vmm: %s: KVIO_BLK_SET_BACKEND -1: %s\n",
			d->path, strerror(errno));
		return -1;
	}
	return 0;
}

static void blk_config_write(struct virtio_dev *vdev, uint32_t off,
			     const uint8_t *data, uint32_t len)
{
	struct blk_disk *d = vdev->priv;
	uint32_t wce = offsetof(struct virtio_blk_config, wce);

	/* writeback is the only field the driver may write (5.2.4). */
	if (off > wce || off + len <= wce ||
	    !(vdev->guest_features & (1ULL << VIRTIO_BLK_F_CONFIG_WCE)))
		return;
	d->cfg.wce = !!data[wce - off];
	if (d->cfg.wce)
		d->set.flags &= ~KVIO_BLK_CONFIG_F_WRITETHROUGH;
	else
		d->set.flags |= KVIO_BLK_CONFIG_F_WRITETHROUGH;
	if (d->attached)
		blk_set_config(d);
}

static void blk_reset(struct virtio_dev *vdev)
{
	struct blk_disk *d = vdev->priv;

	/* Detach first: it returns once every request taken is answered. */
	if (d->attached)
		blk_detach(d);
	d->attached = false;
	vhost_queues_stop(d->fd, &d->rings);
	/* The cache mode is writeback again until the driver says otherwise. */
	d->cfg.wce = 1;
	d->set.flags &= ~KVIO_BLK_CONFIG_F_WRITETHROUGH;
}

static int blk_activate(struct virtio_dev *vdev)
{
	struct blk_disk *d = vdev->priv;

	if (vhost_start(d->fd, vdev->vm,
			vdev->guest_features & d->backend_features) ||
	    vhost_queues_start(d->fd, vdev, 0, d->nq, d->poll_us,
			       &d->rings))
		return -1;
	if (blk_attach(d))
		return -1;
	d->attached = true;
	return 0;
}

static const struct virtio_dev_ops blk_ops = {
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.activate = blk_activate,
	.reset = blk_reset,
};

/*
 * What the config space says comes from the device: attach the disk once,
 * read the values in force (capacity, block size, read-only, limits
 * resolved), detach until the driver is ready.
 */
static int blk_probe_config(struct blk_disk *d, struct kvio_blk_config *cur)
{
	int ret = 0;

	if (blk_attach(d))
		return -1;
	if (ioctl(d->fd, KVIO_BLK_GET_CONFIG, cur) < 0) {
		fprintf(stderr, "kvio-vmm: %s: KVIO_BLK_GET_CONFIG: %s\n",
			d->path, strerror(errno));
		ret = -1;
	}
	if (blk_detach(d))
		ret = -1;
	return ret;
}

static int blk_create(struct vmm *vm, struct blk_disk *d, unsigned int idx)
{
	struct virtio_blk_config *c = &d->cfg;
	struct kvio_blk_config cur;
	uint64_t want, offer;

	d->fd = vhost_open(BLK_DEV, "kvio_blk", &d->backend_features);
	if (d->fd < 0)
		return -1;

	memset(&d->set, 0, sizeof(d->set));
	d->set.version = KVIO_BLK_CONFIG_VERSION;
	if (d->ro)
		d->set.flags |= KVIO_BLK_CONFIG_F_RO;
	snprintf((char *)d->set.serial, sizeof(d->set.serial), "kvio-vmm-disk%u", idx);
	memset(&cur, 0, sizeof(cur));
	if (blk_probe_config(d, &cur))
		return -1;
	if (!cur.capacity)
		fprintf(stderr, "kvio-vmm: %s: warning: the disk has no whole block (capacity 0)\n",
			d->path);

	want = BLK_FEATURES;
	if (!(cur.flags & KVIO_BLK_CONFIG_F_RO))
		want &= ~(1ULL << VIRTIO_BLK_F_RO);
	else
		want &= ~((1ULL << VIRTIO_BLK_F_DISCARD) |
			  (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
	if (d->nq == 1)
		want &= ~(1ULL << VIRTIO_BLK_F_MQ);
	if (!cur.size_max)
		want &= ~(1ULL << VIRTIO_BLK_F_SIZE_MAX);
	offer = want & d->backend_features;
	if (!(offer & (1ULL << VIRTIO_F_VERSION_1))) {
		fprintf(stderr, "kvio-vmm: %s: %s does not offer VIRTIO_F_VERSION_1\n",
			d->path, BLK_DEV);
		return -1;
	}
	if (d->nq > 1 && !(offer & (1ULL << VIRTIO_BLK_F_MQ))) {
		fprintf(stderr, "kvio-vmm: %s: %s does not offer VIRTIO_BLK_F_MQ (queues=%u)\n",
			d->path, BLK_DEV, d->nq);
		return -1;
	}

	memset(c, 0, sizeof(*c));
	c->capacity = cur.capacity;
	c->size_max = cur.size_max;
	c->seg_max = cur.seg_max;
	c->blk_size = cur.blk_size;
	c->wce = 1;
	c->num_queues = d->nq;
	c->max_discard_sectors = cur.max_discard_sectors;
	c->max_discard_seg = cur.max_discard_seg;
	c->discard_sector_alignment = cur.blk_size / 512;
	c->max_write_zeroes_sectors = cur.max_write_zeroes_sectors;
	c->max_write_zeroes_seg = cur.max_write_zeroes_seg;
	c->write_zeroes_may_unmap = 1;

	if (virtio_pci_init(&d->vdev, vm, VIRTIO_ID_BLOCK, PCI_CLASS_CODE_STORAGE_SCSI,
			    d->nq, BLK_QUEUE_SIZE, d->nq + 1, offer,
			    sizeof(*c), &blk_ops, d))
		return -1;
	d->created = true;
	if (vmm_iommu_bind(&d->vdev, d->fd, d->backend_features, d->path))
		return -1;
	fprintf(stderr, "kvio-vmm: disk %s: %llu sectors of %u bytes, %u queue%s%s at 00:%02x.0\n",
		d->path, (unsigned long long)cur.capacity, cur.blk_size, d->nq,
		d->nq > 1 ? "s" : "", (cur.flags & KVIO_BLK_CONFIG_F_RO) ? ", read-only" : "",
		d->vdev.pci.devfn >> 3);
	return 0;
}

int blk_devices_create(struct vmm *vm)
{
	unsigned int i;

	for (i = 0; i < ndisks; i++)
		if (blk_create(vm, &disks[i], i))
			return -1;
	return 0;
}

void blk_devices_destroy(struct vmm *vm)
{
	struct blk_disk *d;
	unsigned int i;

	(void)vm;
	for (i = 0; i < ndisks; i++) {
		d = &disks[i];
		if (d->created)
			virtio_pci_exit(&d->vdev);
		d->created = false;
		if (d->fd >= 0)
			close(d->fd);
		if (d->file_fd >= 0)
			close(d->file_fd);
		d->fd = -1;
		d->file_fd = -1;
	}
}
