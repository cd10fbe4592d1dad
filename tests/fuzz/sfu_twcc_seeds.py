#!/usr/bin/env python3
"""sfu_twcc_seeds.py — writes the hand-made seeds of tests/fuzz/sfu_twcc.c into
tests/fuzz/corpus/sfu_twcc/: transport-cc FCIs (after the SSRCs) of the shapes Chromium sends (run
length, one- and two-bit status vectors, small and large deltas, losses) and malformed ones."""
import os, struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'sfu_twcc')


def fci(base, count, ref, fb, chunks, deltas):
    head = struct.pack('!HH', base, count) + struct.pack('!i', ref)[1:] + bytes([fb])
    body = b''.join(struct.pack('!H', c) for c in chunks) + deltas
    return head + body + b'\0' * (-len(body) % 4)


SEEDS = {
    'run_small': fci(100, 20, 4000, 1, [0x2000 | 20], bytes([4] * 20)),
    'vector_1bit': fci(65530, 14, 1, 2, [0xa000 | 0x1fff], bytes([8] * 14)),
    'vector_2bit_large': fci(7, 7, -3, 3, [0xe000 | 0x1555], struct.pack('!h', -40) + bytes([1, 2, 3, 4, 5, 6])),
    'losses': fci(500, 30, 77, 4, [0x0000 | 10, 0x2000 | 10, 0x4000 | 10], bytes([1] * 10) + struct.pack('!h', 300) * 10),
    'short_chunks': fci(0, 40, 0, 0, [0x2000 | 5], b''),
    'short_deltas': fci(0, 5, 0, 0, [0x2000 | 5], b'\x01'),
    'reserved_symbol': fci(0, 3, 0, 0, [0x6000 | 3], b''),
    'huge_count': fci(0, 65535, 0, 0, [0x1fff] * 9, b''),
}

if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, 'seed_' + name), 'wb') as f:
            f.write(data)
    print(f'{len(SEEDS)} seeds in {OUT}')
