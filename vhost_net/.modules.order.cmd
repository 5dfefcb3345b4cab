cmd_/work/main/vhost_net/modules.order := {   echo /work/main/vhost_net/kvio_net.ko; :; } > /work/main/vhost_net/modules.order
