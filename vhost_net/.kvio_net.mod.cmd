cmd_/work/main/vhost_net/kvio_net.mod := printf '%s\n'   net.o socket.o tx.o rx.o busypoll.o | awk '!x[$$0]++ { print("/work/main/vhost_net/"$$0) }' > /work/main/vhost_net/kvio_net.mod
