// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_core: the shared virtqueue engine of the kvio backends.  This file
 * holds the module's parameters; everything else is in the files named for
 * their concern (dev.c, vring.c, vq.c, worker.c, log.c, msg.c, as.c).
 */
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "core.h"

/*
 * Both limits bound memory the owner of a device can make the kernel
 * allocate, so both refuse 0 ("no limit") and absurd values at load time.
 */
unsigned int kvio_max_mem_regions = 64;
unsigned int kvio_max_iotlb_entries = 2048;

static int kvio_set_mem_regions(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, USHRT_MAX);
}

static int kvio_set_iotlb_entries(const char *val,
				  const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 1U << 20);
}

static const struct kernel_param_ops kvio_mem_regions_ops = {
	.set = kvio_set_mem_regions,
	.get = param_get_uint,
};

static const struct kernel_param_ops kvio_iotlb_entries_ops = {
	.set = kvio_set_iotlb_entries,
	.get = param_get_uint,
};

/* Same names as upstream vhost's, so a VMM can read ours the same way. */
module_param_cb(max_mem_regions, &kvio_mem_regions_ops,
		&kvio_max_mem_regions, 0444);
MODULE_PARM_DESC(max_mem_regions,
		 "Maximum number of memory regions in the memory table (1-65535, default 64)");
module_param_cb(max_iotlb_entries, &kvio_iotlb_entries_ops,
		&kvio_max_iotlb_entries, 0444);
MODULE_PARM_DESC(max_iotlb_entries,
		 "Maximum number of device IOTLB entries (1-1048576, default 2048)");

MODULE_LICENSE("GPL");
MODULE_VERSION(KVIO_VERSION);
MODULE_DESCRIPTION("kvio shared virtqueue engine for in-kernel virtio backends");
