#!/usr/bin/env python3
# tests/fuzz/make_seeds.py — writes the seed inputs in tests/fuzz/seeds-*/ (checked in;
# rerun only if the input formats of fuzz_mmio.c / fuzz_virtq.c change).
import os, struct

here = os.path.dirname(os.path.abspath(__file__))

def reg_write(off, v):
    return struct.pack('<BHBI', 0, off, 0, v)

def ram_write(gpa, v):
    return struct.pack('<BHBI', 3, gpa & 0xffff, gpa >> 16, v)

def work(q):
    return struct.pack('<BHBI', 4, q, 0, 0)

# fuzz_mmio: a driver that brings the device up with EVENT_IDX and INDIRECT_DESC, sets up
# queue 0 (8 entries), posts a direct chain and an indirect one, and lets the device run.
ops = [reg_write(0x70, 1), reg_write(0x70, 3),
       reg_write(0x24, 0), reg_write(0x20, 1 | (1 << 28) | (1 << 29)),
       reg_write(0x24, 1), reg_write(0x20, 1),
       reg_write(0x70, 11),
       reg_write(0x30, 0), reg_write(0x38, 8),
       reg_write(0x80, 0x1000), reg_write(0x84, 0),
       reg_write(0x90, 0x2000), reg_write(0x94, 0),
       reg_write(0xa0, 0x3000), reg_write(0xa4, 0),
       reg_write(0x44, 1), reg_write(0x70, 15)]
# desc 0: readable 16 bytes at 0x4000, next 1; desc 1: writable 32 bytes at 0x5000
ops += [ram_write(0x1000, 0x4000), ram_write(0x1008, 16), ram_write(0x100c, 1 | (1 << 16)),
        ram_write(0x1010, 0x5000), ram_write(0x1018, 32), ram_write(0x101c, 2)]
# desc 2: indirect table at 0x6000 of 2 entries
ops += [ram_write(0x1020, 0x6000), ram_write(0x1028, 32), ram_write(0x102c, 4)]
ops += [ram_write(0x6000, 0x4000), ram_write(0x6008, 8), ram_write(0x600c, 1 | (1 << 16)),
        ram_write(0x6010, 0x5000), ram_write(0x6018, 8), ram_write(0x601c, 2)]
# avail ring: [0, 2], idx 2
ops += [ram_write(0x2004, 0 | (2 << 16)), ram_write(0x2000, 2 << 16), work(0),
        reg_write(0x50, 0), reg_write(0x64, 1), reg_write(0x70, 0)]
open(os.path.join(here, 'seeds-mmio', 'init-and-two-chains'), 'wb').write(b''.join(ops))

# fuzz_virtq: header (size log2 3 = 8 entries, EVENT_IDX|INDIRECT, indices 0) + RAM image
ram = bytearray(4096)
def desc(i, addr, ln, flags, nxt, base=0):
    struct.pack_into('<QIHH', ram, base + 16 * i, addr, ln, flags, nxt)
desc(0, 0x800, 16, 1, 1)
desc(1, 0x10000, 64, 2, 0)          # in the second region
desc(2, 0x900, 32, 4, 0)            # indirect table at 0x900
desc(0, 0xa00, 8, 1, 1, base=0x900)
desc(1, 0xa80, 8, 2, 0, base=0x900)
struct.pack_into('<HHHH', ram, 0x400, 0, 2, 0, 2)   # avail flags, idx 2, ring [0, 2]
hdr = bytes([3, 3, 0, 0, 0, 0])
open(os.path.join(here, 'seeds-virtq', 'two-chains'), 'wb').write(hdr + bytes(ram))
