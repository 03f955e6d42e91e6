"""python-fido2 (Debian's python3-fido2) reads getInfo from `keytap simulate --trace ... --udp`.

Usage: /usr/bin/python3 trace-udp-python.py HOST PORT
Prints the authenticator info as JSON on stdout. Written for keytap's tests (H6); a small UDP
CtapHidConnection so python-fido2 talks CTAPHID over UDP datagrams.
"""
import json
import socket
import sys

from fido2.ctap2 import Ctap2
from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor


class UdpConnection(CtapHidConnection):
    def __init__(self, host, port):
        self.addr = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(5)

    def write_packet(self, data):
        self.sock.sendto(bytes(data), self.addr)

    def read_packet(self):
        data, _ = self.sock.recvfrom(64)
        return data

    def close(self):
        self.sock.close()


host, port = sys.argv[1], int(sys.argv[2])
desc = HidDescriptor("udp://%s:%d" % (host, port), 0x1209, 0x000A, 64, 64)
dev = CtapHidDevice(desc, UdpConnection(host, port))
info = Ctap2(dev).info
print(json.dumps({
    "versions": info.versions,
    "aaguid": bytes(info.aaguid).hex(),
    "options": info.options,
    "max_msg_size": info.max_msg_size,
    "pin_uv_protocols": info.pin_uv_protocols,
    "device_version": list(dev.device_version),
}))
