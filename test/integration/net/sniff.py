"""Counts frames arriving on IFACE that carry MARKER (hex) anywhere in them, for SECONDS; prints the count.
Usage: sniff.py IFACE MARKER SECONDS. Prints "ready" once listening."""
import select
import socket
import sys
import time

iface, marker, seconds = sys.argv[1], bytes.fromhex(sys.argv[2]), float(sys.argv[3])
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
sock.bind((iface, 0))
print("ready", flush=True)
count = 0
end = time.monotonic() + seconds
while (left := end - time.monotonic()) > 0:
    if select.select([sock], [], [], left)[0]:
        data, addr = sock.recvfrom(65536)
        if addr[2] != 4 and marker in data:
            count += 1
print(count, flush=True)
