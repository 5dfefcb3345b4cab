cmd_/work/main/vhost_net/kvio_net.o := ld -m elf_x86_64 -z noexecstack --no-warn-rwx-segments   -r -o /work/main/vhost_net/kvio_net.o @/work/main/vhost_net/kvio_net.mod 
