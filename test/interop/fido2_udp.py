#!/usr/bin/python3
"""Drives keytap's virtual authenticator over UDP CTAPHID with Debian's python3-fido2 0.9.1
(an independent FIDO client nobody on the keytap team wrote).

Usage: fido2_udp.py HOST PORT scenario         -> JSON lines, one per step
       fido2_udp.py HOST PORT credential [PIN] -> JSON lines: 2 resident credentials + assertions, verified
       fido2_udp.py HOST PORT bench N          -> JSON line with per-iteration PIN-change ms

Run with /usr/bin/python3 (the pyenv python3 on PATH cannot see Debian's packages).
PINs used here are throwaway test values for a simulator.
"""
import json
import socket
import sys
import time

from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.pin import ClientPin


class UdpCtapHidConnection(CtapHidConnection):
    """python-fido2 0.9's connection seam (read_packet/write_packet) over 64-byte datagrams."""

    def __init__(self, host, port, timeout=10.0):
        self.addr = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)  # python-fido2 0.9.1 has no read timeout of its own

    def write_packet(self, data):
        assert len(data) == 64
        self.sock.sendto(bytes(data), self.addr)

    def read_packet(self):
        data, _ = self.sock.recvfrom(64)
        return data

    def close(self):
        self.sock.close()


def open_device(host, port):
    descriptor = HidDescriptor("udp://%s:%d" % (host, port), 0x1209, 0x000A, 64, 64)
    return CtapHidDevice(descriptor, UdpCtapHidConnection(host, port))


def emit(step, **kw):
    kw["step"] = step
    print(json.dumps(kw), flush=True)


def status_of(fn):
    try:
        fn()
        return 0
    except CtapError as e:
        return int(e.code)


def scenario(host, port):
    dev = open_device(host, port)
    ctap = Ctap2(dev)
    info = ctap.get_info()
    emit("getInfo", versions=info.versions, pinProtocols=info.pin_uv_protocols,
         clientPin=info.options.get("clientPin"), aaguid=info.aaguid.hex()
         if isinstance(info.aaguid, bytes) else str(info.aaguid))
    cp = ClientPin(ctap)
    emit("protocol", version=cp.protocol.VERSION)
    emit("getPINRetries-no-pin", status=status_of(cp.get_pin_retries))
    emit("setPIN", status=status_of(lambda: cp.set_pin("1234")))
    r, pcs = cp.get_pin_retries()
    emit("getPINRetries", retries=r, powerCycleState=pcs)
    emit("clientPin-after-set", clientPin=ctap.get_info().options.get("clientPin"))
    emit("changePIN", status=status_of(lambda: cp.change_pin("1234", "56789")))
    emit("token-new-pin", status=status_of(lambda: cp.get_pin_token("56789", ClientPin.PERMISSION.GET_ASSERTION, "example.com")))
    for i in range(3):
        st = status_of(lambda: cp.get_pin_token("0000", ClientPin.PERMISSION.GET_ASSERTION, "example.com"))
        r, pcs = cp.get_pin_retries()
        emit("wrong-pin-%d" % (i + 1), status=st, retries=r, powerCycleState=pcs)
    st = status_of(lambda: cp.get_pin_token("56789", ClientPin.PERMISSION.GET_ASSERTION, "example.com"))
    r, pcs = cp.get_pin_retries()
    emit("right-pin-while-soft-blocked", status=st, retries=r, powerCycleState=pcs)
    dev.close()


def credential(host, port, pin):
    """Two resident credentials with a PIN token, then getAssertion + getNextAssertion; the
    attestation (packed self) and every assertion signature are verified by python-fido2."""
    from hashlib import sha256
    from fido2.attestation import Attestation
    from fido2.cose import CoseKey

    dev = open_device(host, port)
    ctap = Ctap2(dev)
    cp = ClientPin(ctap)
    if not ctap.get_info().options.get("clientPin"):
        cp.set_pin(pin)
    perms = ClientPin.PERMISSION.MAKE_CREDENTIAL | ClientPin.PERMISSION.GET_ASSERTION
    token = cp.get_pin_token(pin, perms, "example.com")
    keys = {}
    for uid, name in ((b"user-1", "alice"), (b"user-2", "bob")):
        cdh = sha256(b"register " + uid).digest()
        att = ctap.make_credential(
            cdh, {"id": "example.com", "name": "Example"}, {"id": uid, "name": name, "displayName": name.title()},
            [{"type": "public-key", "alg": -7}], options={"rk": True},
            pin_uv_param=cp.protocol.authenticate(token, cdh), pin_uv_protocol=cp.protocol.VERSION)
        result = Attestation.for_type(att.fmt)().verify(att.att_statement, att.auth_data, cdh)
        cd = att.auth_data.credential_data
        keys[bytes(cd.credential_id)] = CoseKey.parse(cd.public_key)
        emit("makeCredential", fmt=att.fmt, attestationType=result.attestation_type.name,
             flags=att.auth_data.flags, aaguid=bytes(cd.aaguid).hex())
    cdh = sha256(b"login").digest()
    assertions = ctap.get_assertions("example.com", cdh, pin_uv_param=cp.protocol.authenticate(token, cdh),
                                     pin_uv_protocol=cp.protocol.VERSION)
    counters = []
    for a in assertions:
        a.verify(cdh, keys[bytes(a.credential["id"])])  # raises on a bad signature
        counters.append(a.auth_data.counter)
    emit("getAssertions", count=len(assertions), numberOfCredentials=assertions[0].number_of_credentials,
         users=sorted(a.user.get("name") for a in assertions), flags=[a.auth_data.flags for a in assertions],
         counters=counters)
    dev.close()


def bench(host, port, n, verified=False):
    """PIN changes; with verified=True each one also reads getInfo and retries before and
    after, the same work keytap's FidoClient.changePin does to confirm the change."""
    dev = open_device(host, port)
    ctap = Ctap2(dev)
    cp = ClientPin(ctap)
    pins = ["1234", "5678"]
    if not ctap.get_info().options.get("clientPin"):
        cp.set_pin(pins[0])
    times = []
    for i in range(n):
        old, new = pins[i % 2], pins[(i + 1) % 2]
        t0 = time.perf_counter()
        if verified:
            ctap.get_info()
            cp.get_pin_retries()
        cp.change_pin(old, new)
        if verified:
            ctap.get_info()
            cp.get_pin_retries()
        times.append((time.perf_counter() - t0) * 1000.0)
    if n % 2 == 1:
        cp.change_pin(pins[1], pins[0])  # leave the key at the first PIN
    dev.close()
    name = "python-fido2 0.9.1" + (" (same reads as keytap)" if verified else "")
    print(json.dumps({"client": name, "ms": times}), flush=True)


if __name__ == "__main__":
    host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode == "scenario":
        scenario(host, port)
    elif mode == "credential":
        credential(host, port, sys.argv[4] if len(sys.argv) > 4 else "1234")
    elif mode == "bench":
        bench(host, port, int(sys.argv[4]))
    elif mode == "bench-verified":
        bench(host, port, int(sys.argv[4]), verified=True)
    else:
        sys.exit("unknown mode " + mode)
