"""Stands in for a VM's NIC: holds a job tap open (as QEMU does) and relays its frames to a veth whose peer
is the "VM" network namespace. Usage: tap-endpoint.py TAP VETH. Prints "ready" once attached."""
import fcntl
import os
import select
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
PACKET_OUTGOING = 4

tap, veth = sys.argv[1], sys.argv[2]
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", tap.encode(), IFF_TAP | IFF_NO_PI))
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
sock.bind((veth, 0))
print("ready", flush=True)
while True:
    ready, _, _ = select.select([fd, sock], [], [])
    if fd in ready:
        sock.send(os.read(fd, 65536))
    if sock in ready:
        data, addr = sock.recvfrom(65536)
        if addr[2] != PACKET_OUTGOING:
            os.write(fd, data)
