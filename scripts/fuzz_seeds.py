#!/usr/bin/env python3
"""fuzz_seeds.py — writes the hand-made seed inputs of the relay fuzzers into tests/fuzz/corpus/.

Seeds: the RFC 5769 vectors, real TURN messages (Allocate, CreatePermission, ChannelBind, Send,
Data, Refresh, ChannelData), truncated variants, and for the state machine whole conversations in
the record format of tests/fuzz/relay_turn_machine.c. Run from the repository root."""
import hashlib, hmac, os, struct, zlib

ROOT = os.path.join(os.path.dirname(__file__), '..', 'tests', 'fuzz', 'corpus')
MAGIC = 0x2112A442

def mtype(method, cls):
    return (method & 0xf) | ((method & 0x70) << 1) | ((method & 0xf80) << 2) | ((cls & 1) << 4) | ((cls & 2) << 7)

def attr(t, v):
    return struct.pack('!HH', t, len(v)) + v + b'\0' * (-len(v) % 4)

def xaddr(ip, port, tid):
    if ':' in ip:
        import ipaddress
        raw = ipaddress.IPv6Address(ip).packed
        mask = struct.pack('!I', MAGIC) + tid
        return struct.pack('!BBH', 0, 2, port ^ (MAGIC >> 16)) + bytes(a ^ b for a, b in zip(raw, mask))
    raw = bytes(int(x) for x in ip.split('.'))
    return struct.pack('!BBH', 0, 1, port ^ (MAGIC >> 16)) + bytes(a ^ b for a, b in zip(raw, struct.pack('!I', MAGIC)))

def msg(method, cls, attrs, tid=b'\x11' * 12, key=None, fp=True):
    body = b''.join(attr(t, v) for t, v in attrs)
    if key is not None:
        hdr = struct.pack('!HHI', mtype(method, cls), len(body) + 24, MAGIC) + tid
        body += attr(0x0008, hmac.new(key, hdr + body, hashlib.sha1).digest())
    if fp:
        hdr = struct.pack('!HHI', mtype(method, cls), len(body) + 8, MAGIC) + tid
        body += attr(0x8028, struct.pack('!I', (zlib.crc32(hdr + body) ^ 0x5354554e) & 0xffffffff))
    return struct.pack('!HHI', mtype(method, cls), len(body), MAGIC) + tid + body

def chan(num, data, pad=False):
    return struct.pack('!HH', num, len(data)) + data + (b'\0' * (-len(data) % 4) if pad else b'')

RFC5769 = {
 'rfc5769_request': bytes.fromhex('000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74002400046e0001ff80290008932ff9b151263b36000600096576746a3a6836765920202000080014'
                                  '9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf'),
 'rfc5769_ipv4': bytes.fromhex('0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000080001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96'),
 'rfc5769_ipv6': bytes.fromhex('010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf11784c97c8292c275bfe3ed4180280004c8fb0b4c'),
 'rfc5769_long_term': bytes.fromhex('000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383aae38383e382afe382b90000001500'
                                    '1c662f2f3439396b3935346436'
                                    '4f4c33346f4c394653547679'
                                    '3634734100140'
                                    '00b6578616d706c652e6f726700000800'
                                    '14f67024656dd64a3e02b8e0712e85c9a28ca89666'),
}

def stun_seeds():
    tid = bytes(range(12))
    key = hashlib.md5(b'1900000000:alice:staffroom:pw').digest()
    s = dict(RFC5769)
    s['binding'] = msg(0x001, 0, [])
    s['allocate_noauth'] = msg(0x003, 0, [(0x0019, b'\x11\0\0\0')])
    s['allocate_auth'] = msg(0x003, 0, [(0x0019, b'\x11\0\0\0'), (0x0006, b'1900000000:alice'), (0x0014, b'staffroom'),
                                        (0x0015, b'0000000069000000aabbccddeeff0011'), (0x000d, struct.pack('!I', 600)),
                                        (0x001a, b''), (0x0018, b'\x80')], tid, key)
    s['allocate_v6'] = msg(0x003, 0, [(0x0019, b'\x11\0\0\0'), (0x0017, b'\x02\0\0\0')])
    s['allocate_dual'] = msg(0x003, 0, [(0x0019, b'\x11\0\0\0'), (0x8000, b'\x02\0\0\0')])
    s['create_permission'] = msg(0x008, 0, [(0x0012, xaddr('127.0.0.1', 6000, tid)), (0x0012, xaddr('127.0.0.2', 6001, tid))], tid)
    s['channel_bind'] = msg(0x009, 0, [(0x000c, b'\x40\x00\0\0'), (0x0012, xaddr('127.0.0.1', 6000, tid))], tid)
    s['send'] = msg(0x006, 1, [(0x0012, xaddr('::1', 6000, tid)), (0x0013, b'hello world')], tid, fp=False)
    s['data'] = msg(0x007, 1, [(0x0012, xaddr('127.0.0.1', 6000, tid)), (0x0013, b'x' * 100)], tid, fp=False)
    s['refresh0'] = msg(0x004, 0, [(0x000d, b'\0\0\0\0')])
    s['error401'] = msg(0x003, 3, [(0x0009, b'\0\0\x04\x01Unauthorized'), (0x0014, b'staffroom'), (0x0015, b'n' * 32)])
    s['channeldata'] = chan(0x4000, b'abcde')
    s['channeldata_padded'] = chan(0x7fff, b'abcde', True)
    s['stream_two_frames'] = s['allocate_noauth'] + chan(0x4001, b'xyz', True) + s['binding']
    for name in ['rfc5769_request', 'allocate_auth', 'channel_bind']:
        for cut in (1, 19, 20, 23, 30, len(s[name]) - 1):
            s[f'{name}_cut{cut}'] = s[name][:cut]
    return s

def rec(op, data):
    return bytes([op]) + struct.pack('!H', len(data)) + data

def machine_seeds():
    tid = bytes(range(12))
    alloc = msg(0x003, 0, [(0x0019, b'\x11\0\0\0')], tid)
    perm = msg(0x008, 0, [(0x0012, xaddr('127.0.0.1', 6000, tid))], tid)
    bind = msg(0x009, 0, [(0x000c, b'\x40\x00\0\0'), (0x0012, xaddr('127.0.0.1', 6000, tid))], tid)
    send = msg(0x006, 1, [(0x0012, xaddr('127.0.0.1', 6000, tid)), (0x0013, b'hello')], tid, fp=False)
    refresh0 = msg(0x004, 0, [(0x000d, b'\0\0\0\0')], tid)
    even = msg(0x003, 0, [(0x0019, b'\x11\0\0\0'), (0x0018, b'\x80')], tid)
    v6 = msg(0x003, 0, [(0x0019, b'\x11\0\0\0'), (0x0017, b'\x02\0\0\0')], tid)
    s = {}
    s['udp_full'] = b''.join([rec(0, alloc), rec(0, perm), rec(0, send), rec(4, b'\0peer data'), rec(0, bind),
                              rec(0, chan(0x4000, b'abc')), rec(4, b'\0more'), rec(0, refresh0)])
    s['tcp_full'] = b''.join([rec(3, alloc), rec(3, bind), rec(4, b'\0x'), rec(3, chan(0x4000, b'abcd', True)), rec(6, b'')])
    s['expire'] = b''.join([rec(0, alloc), rec(0, perm), rec(5, b'\x4c'), rec(7, b''), rec(4, b'\0late'),
                            rec(5, b'\xff'), rec(7, b'')])
    s['even_port'] = b''.join([rec(0, even), rec(1, alloc), rec(2, v6)])
    s['quota'] = b''.join([rec(0, alloc), rec(1, alloc), rec(2, alloc), rec(3, alloc), rec(1, alloc)])
    s['garbage'] = rec(0, b'\x00\x01\x00\x04\x21\x12\xa4\x42' + b'\0' * 12 + b'\x00\x06\x00\x08')
    auth = b''.join([rec(0, alloc), rec(0, perm)])
    while (len(auth) & 0x1c) != 0x1c:  # this size switches authentication on in the target
        auth += b'\0'
    s['auth_mode_401'] = auth
    return s

for target, seeds in (('relay_stun_parse', stun_seeds()), ('relay_turn_machine', machine_seeds())):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, 'seed_' + name), 'wb') as f:
            f.write(data)
    print(target, len(seeds), 'seeds')
