/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kt_vfio: QEMU's edu device (the test VM's assigned device, behind an
 * emulated VT-d: scripts/vm/run-vm --iommu) through VFIO, for programs that
 * play a VMM with a device assigned to its guest.
 */
#ifndef KT_VFIO_H
#define KT_VFIO_H

#include <stdbool.h>
#include <stdint.h>

#include "kt.h"

#define KT_EDU_VENDOR	0x1234
#define KT_EDU_DEVICE	0x11e8
/* edu's registers (BAR 0) and its buffer in its own DMA space. */
#define KT_EDU_ID		0x00
#define KT_EDU_DMA_SRC	0x80
#define KT_EDU_DMA_DST	0x88
#define KT_EDU_DMA_CNT	0x90
#define KT_EDU_DMA_CMD	0x98
#define KT_EDU_CMD_RUN	0x1
#define KT_EDU_CMD_TO_RAM	0x2
#define KT_EDU_BUF		0x40000

/* edu bound to vfio-pci: its group, container and device fds. */
struct kt_edu {
	char bdf[32];
	int container, group, dev;
	uint64_t bar0, config;		/* region offsets in the device fd */
};

/*
 * Binds edu to vfio-pci, puts its group in a new container with IOMMU
 * @type (VFIO_SET_IOMMU), opens the device, turns bus mastering on.
 * KT_PASS, KT_SKIP (no edu, no VFIO, no such IOMMU type) or KT_FAIL.
 */
int kt_edu_open(struct kt_edu *e, unsigned long type);
void kt_edu_close(struct kt_edu *e);
/* A register of BAR 0: 0 or -1. */
int kt_edu_rd32(struct kt_edu *e, unsigned int reg, uint32_t *val);
int kt_edu_wr32(struct kt_edu *e, unsigned int reg, uint32_t val);
/*
 * One DMA of @len bytes between edu's buffer and @iova, waited for (edu
 * finishes on a 100 ms timer).  Whether it reached memory is the caller's
 * to check: a DMA the IOMMU blocks completes all the same.
 */
int kt_edu_dma(struct kt_edu *e, uint64_t iova, bool to_ram, uint32_t len);

#endif /* KT_VFIO_H */
