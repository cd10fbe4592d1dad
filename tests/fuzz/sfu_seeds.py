#!/usr/bin/env python3
"""sfu_seeds.py — writes the hand-made seed inputs of the staffroom-sfu media fuzzers
(tests/fuzz/sfu_rtp.c, sfu_rtcp.c, sfu_vp8.c) as tests/fuzz/corpus/sfu_<target>/seed_*.
Packets are shaped like those Chromium sends (VP8 with one-byte extensions, Opus with the audio level,
compound RR + REMB, NACK, PLI, FIR, transport-cc) plus malformed variants. Run from anywhere."""
import os, struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')


def rtp(pt, seq, ts, ssrc, payload=b'', marker=False, ext=None, csrc=(), pad=0):
    b0 = 0x80 | (0x10 if ext else 0) | (0x20 if pad else 0) | len(csrc)
    out = struct.pack('!BBHII', b0, (0x80 if marker else 0) | pt, seq & 0xffff, ts & 0xffffffff, ssrc)
    out += b''.join(struct.pack('!I', c) for c in csrc)
    if ext:
        profile, body = ext
        body += b'\0' * (-len(body) % 4)
        out += struct.pack('!HH', profile, len(body) // 4) + body
    out += payload
    if pad:
        out += b'\0' * (pad - 1) + bytes([pad])
    return out


def one_byte(*elems):
    return (0xBEDE, b''.join(bytes([(i << 4) | (len(v) - 1)]) + v for i, v in elems))


def two_byte(*elems):
    return (0x1000, b''.join(bytes([i, len(v)]) + v for i, v in elems))


def vp8(pid, tl0=None, tid=None, start=True, key=False, seven=False, partition=0):
    b0 = 0x80 | (0x10 if start else 0) | partition
    ext = 0x80 | (0x40 if tl0 is not None else 0) | (0x20 if tid is not None else 0)
    d = bytes([b0, ext])
    d += bytes([pid & 0x7f]) if seven else struct.pack('!H', 0x8000 | (pid & 0x7fff))
    if tl0 is not None:
        d += bytes([tl0])
    if tid is not None:
        d += bytes([(tid << 6) | 0x20])
    return d + (b'\x10\x02\x00\x9d\x01\x2a' if key else b'\x11\x22\x33')


def chrome_vp8(seq, ts, ssrc, pid, tl0, key=False):
    ext = one_byte((2, b'\x12\x34\x56'), (3, struct.pack('!H', seq)), (4, b'0'))
    return rtp(96, seq, ts, ssrc, vp8(pid, tl0, 0, key=key), marker=True, ext=ext)


def chrome_opus(seq, ts, ssrc, level, voice=True):
    ext = one_byte((1, bytes([(0x80 if voice else 0) | level])), (3, struct.pack('!H', seq)))
    return rtp(111, seq, ts, ssrc, b'\xfc\xff\xfe', ext=ext)


def records(pkts):
    return b''.join(bytes([len(p)]) + p for p in pkts)


def rtcp(pt, count, body, pad=0):
    body += b'\0' * (pad - 1) + bytes([pad]) if pad else b''
    return struct.pack('!BBH', 0x80 | (0x20 if pad else 0) | count, pt, len(body) // 4) + body


def report(ssrc, frac=0, lost=0, hi=0, jitter=0, lsr=0, dlsr=0):
    return struct.pack('!IB', ssrc, frac) + (lost & 0xffffff).to_bytes(3, 'big') + struct.pack('!IIII', hi, jitter, lsr, dlsr)


def rr(ssrc, *reports):
    return rtcp(201, len(reports), struct.pack('!I', ssrc) + b''.join(reports))


def sr(ssrc, *reports):
    return rtcp(200, len(reports), struct.pack('!IIIIII', ssrc, 0xe1234567, 0x89abcdef, 90000, 100, 12000) + b''.join(reports))


def fb(pt, fmt, sender, media, fci=b''):
    return rtcp(pt, fmt, struct.pack('!II', sender, media) + fci)


def nack(sender, media, *items):
    return fb(205, 1, sender, media, b''.join(struct.pack('!HH', p, b) for p, b in items))


def remb(sender, bitrate, *ssrcs):
    exp = 0
    while bitrate >> exp >= 1 << 18:
        exp += 1
    m = bitrate >> exp
    fci = b'REMB' + bytes([len(ssrcs), (exp << 2) | (m >> 16), (m >> 8) & 0xff, m & 0xff])
    return fb(206, 15, sender, 0, fci + b''.join(struct.pack('!I', s) for s in ssrcs))


def write(target, seeds):
    d = os.path.join(ROOT, 'sfu_' + target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, 'seed_' + name), 'wb') as f:
            f.write(data)


def main():
    A, B = 0x11111111, 0x22222222
    key = chrome_vp8(65534, 0xfffff000, A, 0x7ffe, 254, key=True)
    rtp_seeds = {
        'chrome_vp8_key': key,
        'chrome_vp8_delta': chrome_vp8(65535, 0xfffff000 + 3000, A, 0x7fff, 255),
        'chrome_opus_level': chrome_opus(7, 960, B, 30),
        'opus_padded': rtp(111, 1, 2, B, b'\xfc\x01', pad=4),
        'padding_only_probe': rtp(96, 9, 9, A, pad=200 & 0xfc),
        'two_byte_ext': rtp(96, 5, 5, A, vp8(3, seven=True), ext=two_byte((5, b''), (32, b'abcd'), (7, b'\x99'))),
        'csrcs': rtp(0, 1, 1, 1, b'\x00' * 8, csrc=(10, 11, 12)),
        'other_profile_ext': rtp(96, 1, 1, 1, b'\x10\x00', ext=(0x1234, b'\xff' * 8)),
        'ext_overrun': key[:16] + b'\x3f' + key[17:],
        'ext_len_past_end': key[:14] + b'\x00\x40' + key[16:],
        'bad_version': b'\x40' + key[1:],
        'pad_zero': bytes([0xa0]) + rtp(96, 1, 1, 1, b'\x01\x02\x03\x00')[1:],  # P set, count 0
        'truncated_header': key[:11],
        'truncated_ext': key[:20],
        'rtcp_in_rtp_port': rr(1, report(A)),
        'stun_binding': b'\x00\x01\x00\x00\x21\x12\xa4\x42' + b'\x07' * 12,
        'dtls_hello': b'\x16\xfe\xfd' + b'\x00' * 10,
        'stream_switch': records([chrome_vp8(100 + i, 3000 * i, A, 10 + i, 1, key=(i == 0)) for i in range(4)] +
                                 [chrome_vp8(9000 + i, 777 + 3000 * i, B, 500 + i, 9, key=(i == 0)) for i in range(3)] +
                                 [chrome_vp8(104, 12000, A, 14, 1, key=True)]),
        'stream_reorder_wrap': records([chrome_vp8(s, 3000 * k, A, k, 1) for k, s in enumerate([65533, 65535, 65534, 0, 2, 1, 65000])]),
        'stream_reconnect': records([chrome_vp8(0xdead, 5, A, 1, 1, key=True), chrome_vp8(0xdeae, 3005, A, 2, 1),
                                     chrome_vp8(0xdead, 5, A, 1, 1, key=True)]),
        'stream_audio': records([chrome_opus(i, 960 * i, B, 20 + i) for i in range(6)]),
    }
    write('rtp', rtp_seeds)

    rtcp_seeds = {
        'chrome_rr_remb': rr(1, report(A, 10, -2, 0x11234, 32, 0x12345678, 65536)) + remb(1, 1007120, A),
        'sr_two_reports': sr(A, report(B, 1, 5), report(A)),
        'sr_plain': sr(A),
        'rr_empty': rr(5),
        'bye_reason': rtcp(203, 2, struct.pack('!II', A, B) + b'\x02ok\x00'),
        'sdes': rtcp(202, 1, struct.pack('!I', A) + b'\x01\x04abcd\x00\x00'),
        'pli': fb(206, 1, 1, A),
        'fir_two': fb(206, 4, 1, 0, struct.pack('!IBxxxIBxxx', A, 3, B, 4)),
        'nack_items': nack(1, A, (100, 0x8005), (65530, 0xffff), (0, 0)),
        'nack_compound': rr(1) + nack(1, A, (65535, 0x0003)) + fb(206, 1, 1, A),
        'remb_three': remb(1, 2500000000, A, B, 3),
        'remb_huge_exp': fb(206, 15, 1, 0, b'REMB\x00\xff\xff\xff'),
        'afb_other': fb(206, 15, 1, 0, b'XYZW'),
        'twcc': fb(205, 15, 1, A, struct.pack('!HHBBBB', 0x102, 3, 0xff, 0xff, 0xff, 9) + b'\x20\x03\x04\x05\x06\x00\x00\x00'),
        'padded_last': rr(1) + rtcp(201, 0, struct.pack('!I', 2), pad=4),
        'pad_not_last': rtcp(201, 0, struct.pack('!I', 2), pad=4) + rr(1),
        'rc_over_length': rtcp(201, 3, struct.pack('!I', 2)),
        'length_past_end': rr(1, report(A))[:20],
        'bad_version': b'\x40' + rr(1)[1:],
        'fb_short': rtcp(205, 1, struct.pack('!I', 1)),
        'fir_bad_len': fb(206, 4, 1, 0, struct.pack('!I', A)),
        'remb_count_overrun': fb(206, 15, 1, 0, b'REMB\x05\x00\x00\x01' + struct.pack('!I', A)),
        'xr_app': rtcp(207, 0, struct.pack('!I', 1) + b'\x04\x00\x00\x02' + b'\x00' * 8) + rtcp(204, 1, struct.pack('!I', 1) + b'name'),
    }
    write('rtcp', rtcp_seeds)

    vp8_seeds = {
        'key_full': vp8(0x1234, 7, 0, key=True),
        'delta_full': vp8(0x1235, 7, 1),
        'seven_bit': vp8(0x55, seven=True),
        'no_ext': b'\x10\x00\x9d\x01\x2a',
        'continuation': vp8(0x1234, 7, 0, start=False),
        'partition_1': vp8(9, 2, 0, partition=1, key=True),
        'keyidx_only': b'\xa0\x90\x55\x1f\x01',
        'tid_only': b'\x80\x20\x80\x01',
        'truncated_pid': b'\x90\x80\x81',
        'descriptor_only': vp8(0x1234, 7, 0)[:6],
        'empty_after_x': b'\x80',
        'one_byte': b'\x10',
    }
    write('vp8', vp8_seeds)


if __name__ == '__main__':
    main()
