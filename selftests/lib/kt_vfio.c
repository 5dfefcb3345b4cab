// SPDX-License-Identifier: GPL-2.0-only
/*
 * kt_vfio: edu through VFIO (kt_vfio.h).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kt_vfio.h"

/* A sysfs attribute holding a hex number (0x1234), or -1. */
static long sysfs_hex(const char *dir, const char *file)
{
	char path[256], buf[32];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (kt_read_file(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 16);
}

/* edu's address, bound to vfio-pci; its IOMMU group number, or -1. */
static int kt_edu_bind_vfio(char bdf[32])
{
	const char *base = "/sys/bus/pci/devices";
	char dir[128], path[256], link[256];
	struct dirent *e;
	ssize_t n;
	DIR *d;

	bdf[0] = 0;
	d = opendir(base);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (strlen(e->d_name) >= 32)
			continue;
		snprintf(dir, sizeof(dir), "%s/%.31s", base, e->d_name);
		if (sysfs_hex(dir, "vendor") == KT_EDU_VENDOR &&
		    sysfs_hex(dir, "device") == KT_EDU_DEVICE) {
			snprintf(bdf, 32, "%.31s", e->d_name);
			break;
		}
	}
	closedir(d);
	if (!bdf[0])
		return -1;
	snprintf(dir, sizeof(dir), "%s/%.31s", base, bdf);
	snprintf(path, sizeof(path), "%s/driver", dir);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	if (!strstr(link, "vfio-pci")) {
		snprintf(path, sizeof(path), "%s/driver_override", dir);
		kt_write_file(path, "vfio-pci");
		if (n > 0) {
			snprintf(path, sizeof(path), "%s/driver/unbind", dir);
			kt_write_file(path, bdf);
		}
		kt_write_file("/sys/bus/pci/drivers_probe", bdf);
	}
	snprintf(path, sizeof(path), "%s/iommu_group", dir);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return -1;
	link[n] = 0;
	return atoi(strrchr(link, '/') + 1);
}

int kt_edu_rd32(struct kt_edu *e, unsigned int reg, uint32_t *val)
{
	return pread(e->dev, val, 4, e->bar0 + reg) == 4 ? 0 : -1;
}

int kt_edu_wr32(struct kt_edu *e, unsigned int reg, uint32_t val)
{
	return pwrite(e->dev, &val, 4, e->bar0 + reg) == 4 ? 0 : -1;
}

int kt_edu_open(struct kt_edu *e, unsigned long type)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	char path[64];
	uint16_t cmd;
	int grp;

	memset(e, 0, sizeof(*e));
	e->container = e->group = e->dev = -1;
	grp = kt_edu_bind_vfio(e->bdf);
	if (grp < 0)
		return kt_skip("no edu device behind an IOMMU (run-vm --iommu)");
	e->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (e->container < 0)
		return kt_skip("/dev/vfio/vfio: %s", kt_errname(errno));
	if (ioctl(e->container, VFIO_CHECK_EXTENSION, type) != 1)
		return kt_skip("no VFIO IOMMU type 0x%lx (kvio_vfio loaded?)",
			       type);
	snprintf(path, sizeof(path), "/dev/vfio/%d", grp);
	e->group = open(path, O_RDWR | O_CLOEXEC);
	KT_ASSERT(e->group >= 0, "%s: %s", path, kt_errname(errno));
	KT_ERRNO(0, ioctl(e->group, VFIO_GROUP_GET_STATUS, &st));
	KT_ASSERT(st.flags & VFIO_GROUP_FLAGS_VIABLE, "group %d not viable",
		  grp);
	KT_ERRNO(0, ioctl(e->group, VFIO_GROUP_SET_CONTAINER, &e->container));
	KT_ERRNO(0, ioctl(e->container, VFIO_SET_IOMMU, type));
	e->dev = ioctl(e->group, VFIO_GROUP_GET_DEVICE_FD, e->bdf);
	KT_ASSERT(e->dev >= 0, "GET_DEVICE_FD %s: %s", e->bdf,
		  kt_errname(errno));
	ri.index = VFIO_PCI_BAR0_REGION_INDEX;
	KT_ERRNO(0, ioctl(e->dev, VFIO_DEVICE_GET_REGION_INFO, &ri));
	e->bar0 = ri.offset;
	ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
	KT_ERRNO(0, ioctl(e->dev, VFIO_DEVICE_GET_REGION_INFO, &ri));
	e->config = ri.offset;
	KT_ASSERT(pread(e->dev, &cmd, 2, e->config + PCI_COMMAND) == 2);
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	KT_ASSERT(pwrite(e->dev, &cmd, 2, e->config + PCI_COMMAND) == 2);
	return KT_PASS;
}

void kt_edu_close(struct kt_edu *e)
{
	if (e->dev >= 0)
		close(e->dev);
	if (e->group >= 0)
		close(e->group);
	if (e->container >= 0)
		close(e->container);
	e->dev = e->group = e->container = -1;
}

int kt_edu_dma(struct kt_edu *e, uint64_t iova, bool to_ram, uint32_t len)
{
	long deadline = kt_deadline(5000);
	uint32_t cmd;

	KT_ASSERT(!kt_edu_wr32(e, KT_EDU_DMA_SRC, to_ram ? KT_EDU_BUF : iova) &&
		  !kt_edu_wr32(e, KT_EDU_DMA_DST, to_ram ? iova : KT_EDU_BUF) &&
		  !kt_edu_wr32(e, KT_EDU_DMA_CNT, len) &&
		  !kt_edu_wr32(e, KT_EDU_DMA_CMD,
			    KT_EDU_CMD_RUN | (to_ram ? KT_EDU_CMD_TO_RAM : 0)),
		  "edu registers: %s", kt_errname(errno));
	do {
		KT_ASSERT(!kt_edu_rd32(e, KT_EDU_DMA_CMD, &cmd));
		if (!(cmd & KT_EDU_CMD_RUN))
			return KT_PASS;
		kt_sleep_ms(10);
	} while (kt_now_ms() < deadline);
	return kt_fail("edu DMA to 0x%llx did not finish",
		       (unsigned long long)iova);
}
