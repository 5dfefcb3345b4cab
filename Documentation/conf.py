# SPDX-License-Identifier: GPL-2.0-only
#
# Sphinx configuration for kvio's documentation: `make htmldocs`
# (scripts/build-docs), which also provides the kernel's kernel-doc
# extension and script from linux-source-6.1 through KVIO_KERNEL_DOC_DIR.

import os
import sys

srctree = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
kdoc = os.environ.get('KVIO_KERNEL_DOC_DIR')
if not kdoc:
    sys.exit('conf.py: KVIO_KERNEL_DOC_DIR is not set; build with '
             '`make htmldocs` (scripts/build-docs)')

# The kernel's own extension runs scripts/kernel-doc on kvio's sources for
# the ``.. kernel-doc::`` directives, as the kernel's documentation does.
sys.path.insert(0, os.path.join(kdoc, 'Documentation', 'sphinx'))
extensions = ['kerneldoc']
kerneldoc_bin = os.path.join(kdoc, 'scripts', 'kernel-doc')
kerneldoc_srctree = srctree

project = 'kvio'
copyright = 'the kvio authors; GPL-2.0-only'
with open(os.path.join(srctree, 'VERSION')) as f:
    version = release = f.read().strip()

master_doc = 'index'
exclude_patterns = ['output']
primary_domain = 'c'
highlight_language = 'none'
html_theme = 'alabaster'
html_static_path = []

# Annotations the C domain must read as attributes, not types (as the
# kernel's own Documentation/conf.py lists them).
c_id_attributes = ['__user', '__rcu', '__iomem', '__force', '__must_check',
                   '__always_inline', '__init', '__exit']

# `make htmldocs` also writes the man page of kvio's VMM (sphinx-build -b
# man, into OUTPUT/man).
man_pages = [
    ('kvio-vmm', 'kvio-vmm', "a thin KVM VMM on kvio's in-kernel virtio backends",
     ['the kvio authors'], 1),
]
