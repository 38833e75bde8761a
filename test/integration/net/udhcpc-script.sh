#!/bin/sh
# busybox udhcpc hook for the test endpoints: apply the lease as a VM's DHCP client would.
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    [ -n "$router" ] && ip route replace default via "$router" dev "$interface"
    echo "lease ip=$ip router=$router dns=$dns domain=$domain mtu=$mtu"
    ;;
esac
exit 0
