/* SPDX-License-Identifier: GPL-2.0-only */
/* Stand-in for the kernel-only <linux/sizes.h>: see ../kvio_shim.h. */
#include "../kvio_shim.h"
