#!/bin/sh
# Builds a busybox root filesystem from the host's static busybox into DEST
# (which must not exist yet, or be empty). One recipe for every subject of the
# bench, so raw LXC and the real LXD boot exactly the same tree; it follows
# docs/notes/lxc-host.md §1 (see there for the traps it avoids).
#
# Usage: bench/busybox-rootfs.sh DEST [HOSTNAME]
set -eu

DEST=${1:?usage: busybox-rootfs.sh DEST [HOSTNAME]}
HOST_NAME=${2:-busybox}
BUSYBOX=$(command -v busybox) || { echo "busybox not found (apt-get install -y busybox-static)" >&2; exit 1; }

# A dynamically linked busybox would not run inside the container.
if command -v file >/dev/null 2>&1 && ! file -L "$BUSYBOX" | grep -q 'statically linked'; then
  echo "$BUSYBOX is not statically linked (apt-get install -y busybox-static)" >&2
  exit 1
fi

mkdir -p "$DEST"
cd "$DEST"
# Every applet directory must exist before --install -s, or it fails for them.
mkdir -p bin sbin usr/bin usr/sbin etc/init.d root home proc sys dev tmp run var/log mnt usr/share/udhcpc
chmod 1777 tmp
chmod 700 root
cp "$BUSYBOX" bin/busybox
chroot "$DEST" /bin/busybox --install -s
rm -f linuxrc

# Keep "x" in passwd and the empty password in shadow: an empty passwd field
# breaks name lookup in Debian's static busybox.
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > etc/group
echo 'root::19000:0:99999:7:::' > etc/shadow
chmod 600 etc/shadow
: > etc/fstab
echo "127.0.0.1 localhost" > etc/hosts
echo "$HOST_NAME" > etc/hostname

cat > etc/inittab <<'INITTAB'
::sysinit:/etc/init.d/rcS
::respawn:/sbin/getty -L 115200 console vt100
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
INITTAB

# udhcpc only talks to the bridge's own dnsmasq (NAT is off everywhere in
# the bench), and it runs in the background so it never delays "Running".
cat > etc/init.d/rcS <<'RCS'
#!/bin/sh
mount -t tmpfs tmpfs /run 2>/dev/null
hostname -F /etc/hostname 2>/dev/null
ip link set lo up
[ -e /sys/class/net/eth0 ] && udhcpc -b -S -i eth0 -s /usr/share/udhcpc/default.script -p /run/udhcpc.eth0.pid >/dev/null 2>&1 &
RCS
chmod 755 etc/init.d/rcS

cat > usr/share/udhcpc/default.script <<'SCRIPT'
#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  renew|bound)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast $broadcast} dev "$interface"
    [ -n "${router:-}" ] && ip route replace default via "${router%% *}" dev "$interface"
    : > /etc/resolv.conf
    for i in ${dns:-}; do echo "nameserver $i" >> /etc/resolv.conf; done ;;
esac
exit 0
SCRIPT
chmod 755 usr/share/udhcpc/default.script
