// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device nodes: what every kvio device's file does the same way (open,
 * release, ioctl dispatch, the IOTLB message read/write/poll, the misc
 * device), so a device module only says how to make, tear down and
 * address its own device.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>

#include "core.h"

static int kvio_driver_open(struct inode *inode, struct file *f)
{
	/* misc_open() left our miscdevice here, and holds misc_mtx. */
	struct kvio_driver *drv = container_of(f->private_data,
					       struct kvio_driver, misc);
	struct kvio_dev *dev;

	/*
	 * The file holds the device's module as well as kvio_core (the
	 * owner of these file operations); a module on its way out is gone.
	 */
	if (!try_module_get(drv->owner))
		return -ENODEV;
	dev = drv->open();
	if (IS_ERR(dev)) {
		module_put(drv->owner);
		return PTR_ERR(dev);
	}
	dev->driver = drv;
	f->private_data = dev;
	return 0;
}

static int kvio_driver_release(struct inode *inode, struct file *f)
{
	struct kvio_dev *dev = f->private_data;
	const struct kvio_driver *drv = dev->driver;

	drv->release(dev);
	module_put(drv->owner);
	return 0;
}

static long kvio_driver_ioctl(struct file *f, unsigned int cmd,
			      unsigned long arg)
{
	struct kvio_dev *dev = f->private_data;
	void __user *argp = (void __user *)arg;
	long ret = -ENOIOCTLCMD;

	if (dev->driver->ioctl)
		ret = dev->driver->ioctl(dev, cmd, argp);
	if (ret == -ENOIOCTLCMD)
		ret = kvio_dev_ioctl(dev, cmd, argp);
	return ret;
}

static const struct file_operations kvio_driver_fops = {
	.owner		= THIS_MODULE,
	.open		= kvio_driver_open,
	.release	= kvio_driver_release,
	.unlocked_ioctl	= kvio_driver_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.read_iter	= kvio_dev_read_iter,
	.write_iter	= kvio_dev_write_iter,
	.poll		= kvio_dev_poll,
	.llseek		= noop_llseek,
};

/**
 * __kvio_driver_register() - create the device node of a kvio device type
 * @drv: the device type: @drv->name, @drv->open and @drv->release set,
 *	@drv->ioctl optional; it must stay in place until
 *	kvio_driver_unregister()
 * @owner: the module that serves the node; each open file holds it
 *
 * Use kvio_driver_register(), which passes THIS_MODULE.
 *
 * Return: 0, -EINVAL for an incomplete @drv, or misc_register()'s error.
 */
int __kvio_driver_register(struct kvio_driver *drv, struct module *owner)
{
	if (!drv->name || !drv->open || !drv->release)
		return -EINVAL;
	drv->owner = owner;
	drv->misc = (struct miscdevice) {
		.minor	= MISC_DYNAMIC_MINOR,
		.name	= drv->name,
		.fops	= &kvio_driver_fops,
	};
	return misc_register(&drv->misc);
}
EXPORT_SYMBOL_GPL(__kvio_driver_register);

/**
 * kvio_driver_unregister() - remove the device node kvio_driver_register()
 *	made
 * @drv: the device type
 *
 * Files already open keep working: each holds the module that serves it.
 */
void kvio_driver_unregister(struct kvio_driver *drv)
{
	misc_deregister(&drv->misc);
}
EXPORT_SYMBOL_GPL(kvio_driver_unregister);

/**
 * kvio_dev_from_file() - the kvio device behind an open file
 * @file: any file (a VMM hands us an fd)
 *
 * For a device that refers to another (a vIOMMU endpoint bound to a
 * kvio-net fd).  The caller holds a reference on @file for as long as it
 * uses the device.
 *
 * Return: the device, or NULL if @file is not a kvio device node.
 */
struct kvio_dev *kvio_dev_from_file(struct file *file)
{
	return file->f_op == &kvio_driver_fops ? file->private_data : NULL;
}
EXPORT_SYMBOL_GPL(kvio_dev_from_file);
