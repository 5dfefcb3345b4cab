# SPDX-License-Identifier: GPL-2.0-only
#
# kvio: build the modules against a kbuild tree (KDIR), and the entry points
# for the VM test rig.  See README.

# The running kernel's tree if there is one, else the newest Debian
# linux-headers-*-amd64 tree installed.
KDIR ?= $(or $(wildcard /lib/modules/$(shell uname -r)/build),\
	$(shell ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1))

PWD := $(CURDIR)
VERSION := $(shell cat $(CURDIR)/VERSION)
PREFIX ?= /usr
DKMSDIR ?= $(PREFIX)/src/kvio-$(VERSION)
# What DKMS needs to build the modules: the kbuild files and the sources.
DKMS_SOURCES := Kbuild VERSION $(wildcard include/kvio/*.h) \
	include/uapi/linux/kvio.h \
	$(foreach d,core vhost_net vhost_blk viommu vfio_helper,$(d)/Kbuild \
		$(filter-out %.mod.c,$(wildcard $(d)/*.[ch] $(d)/kunit/*.[ch])))

all: modules

modules:
	@test -n "$(KDIR)" || { echo "no kernel tree: install linux-headers-amd64 or set KDIR" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(PWD) modules

clean:
	$(MAKE) -C $(KDIR) M=$(PWD) clean
	$(MAKE) -C selftests clean

# The modules into the kernel's module tree (updates/), as any kbuild
# external module: `make install KDIR=...` for another kernel.
install: modules
	$(MAKE) -C $(KDIR) M=$(PWD) INSTALL_MOD_DIR=updates modules_install

# The sources where DKMS looks for them, with dkms.conf's version filled in:
# then `dkms install kvio/$(VERSION)` builds and installs for a kernel.
dkms-install:
	install -d $(DESTDIR)$(DKMSDIR)
	tar -cf - $(DKMS_SOURCES) | tar -xf - -C $(DESTDIR)$(DKMSDIR)
	sed 's/#MODULE_VERSION#/$(VERSION)/' dkms.conf > $(DESTDIR)$(DKMSDIR)/dkms.conf

selftests:
	$(MAKE) -C selftests

# Install packages, build, boot the test VM and show real traffic.
demo:
	scripts/kvio-demo

# Install packages, build, run every test in the VM(s); ends with
# "N passed, N failed".
check:
	scripts/kvio-test

# Benchmarks (not tests): kvio against upstream, in the same VM run.
bench:
	scripts/kvio-bench

checkpatch:
	scripts/checkpatch.sh

# Documentation/ as HTML (Sphinx, kernel-doc), warnings are errors.
htmldocs:
	scripts/build-docs

print-kdir:
	@echo $(KDIR)

.PHONY: all modules clean install dkms-install selftests demo check bench \
	checkpatch htmldocs print-kdir
