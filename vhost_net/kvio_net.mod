/work/main/vhost_net/net.o
/work/main/vhost_net/socket.o
/work/main/vhost_net/tx.o
/work/main/vhost_net/rx.o
/work/main/vhost_net/busypoll.o
