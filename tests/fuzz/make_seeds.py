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

# --- device scripts for fuzz_driver.c (fuzz_blk, fuzz_net, fuzz_console, fuzz_rng) ---
ALL = 0xffffffffffffffff
DATA = 0x20000
R, W, N, IND = 0, 2, 1, 4          # descriptor flags: readable, writable, next, indirect

def script(features, size_log2):
    return struct.pack('<QB', features, size_log2)

def s_ram(gpa, data):
    out = b''
    for k in range(0, len(data), 255):
        chunk = data[k:k + 255]
        g = gpa + k
        out += bytes([0, g & 0xff, g >> 8 & 0xff, g >> 16 & 0xff, len(chunk)]) + chunk
    return out

def s_desc(q, i, addr, ln, flags, nxt=0):
    return struct.pack('<BBHIIHH', 1, q, i, addr, ln, flags, nxt)

def s_post(q, head):
    return struct.pack('<BBH', 2, q, head)

def s_idx(q, v):
    return struct.pack('<BBH', 3, q, v)

def s_reg(off, v, size=4):
    return struct.pack('<BHBI', 4, off, {1: 0, 2: 1, 4: 2, 8: 3}[size], v)

def s_read(off, size=4):
    return struct.pack('<BHB', 5, off, {1: 0, 2: 1, 4: 2, 8: 3}[size])

S_SETUP, S_PAUSE, S_RUN = bytes([6]), bytes([7]), bytes([9])

def s_device(data):
    return bytes([8, len(data)]) + data

def chain(q, first, bufs):
    """bufs: (addr, len, flags) — linked as descriptors first, first+1, ..."""
    out = b''
    for k, (addr, ln, fl) in enumerate(bufs):
        last = k == len(bufs) - 1
        out += s_desc(q, first + k, addr, ln, fl | (0 if last else N), 0 if last else first + k + 1)
    return out

def itable(gpa, bufs):
    """an indirect table at gpa (RAM records)"""
    raw = b''
    for k, (addr, ln, fl) in enumerate(bufs):
        last = k == len(bufs) - 1
        raw += struct.pack('<QIHH', addr, ln, fl | (0 if last else N), 0 if last else k + 1)
    return s_ram(gpa, raw)

def seeds(name, files):
    d = os.path.join(here, 'seeds-' + name)
    os.makedirs(d, exist_ok=True)
    for fname, data in files.items():
        open(os.path.join(d, fname), 'wb').write(data)

def blk_req(t, sector, q=0, first=0, data_len=512, data_flags=W, extra=b''):
    hdr = struct.pack('<IIQ', t, 0, sector) + extra
    bufs = [(DATA, len(hdr), R)]
    if data_len:
        bufs.append((DATA + 0x1000, data_len, data_flags))
    bufs.append((DATA + 0x8000, 1, W))
    return s_ram(DATA, hdr) + chain(q, first, bufs) + s_post(q, first)

blk = {
    'read': script(ALL, 3) + blk_req(0, 1),
    'write': script(ALL, 3) + s_ram(DATA + 0x1000, b'\xab' * 1024) +
             blk_req(1, 2, data_len=1024, data_flags=R),
    'flush-getid': script(ALL, 3) + blk_req(4, 0, data_len=0) +
                   blk_req(8, 0, first=4, data_len=20),
    'discard': script(ALL, 3) + blk_req(11, 0, data_len=0, extra=struct.pack('<QII', 8, 8, 0) +
                                         struct.pack('<QII', 64, 16, 0)),
    'write-zeroes': script(ALL, 3) + blk_req(13, 0, data_len=0,
                                             extra=struct.pack('<QII', 16, 8, 1)),
    'unknown-type': script(ALL, 3) + blk_req(99, 0),
    'read-only-write': script(ALL, 0x83) + blk_req(1, 0, data_len=512, data_flags=R),
    'queue1': script(ALL, 4) + blk_req(0, 3, q=1),
    'reset-midway': script(ALL, 3) + blk_req(0, 1) + s_reg(0x70, 0) + S_SETUP + blk_req(1, 1, data_flags=R)
                    + S_PAUSE + blk_req(0, 2, first=3),
    'no-event-idx': script(ALL & ~(1 << 29), 3) + blk_req(0, 1),
}
# indirect: one descriptor pointing at a table of header, data, status
blk['indirect'] = (script(ALL, 3) + s_ram(DATA, struct.pack('<IIQ', 0, 0, 4)) +
                   itable(DATA + 0x10000, [(DATA, 16, R), (DATA + 0x1000, 4096, W),
                                           (DATA + 0x8000, 1, W)]) +
                   s_desc(0, 0, DATA + 0x10000, 48, IND) + s_post(0, 0))
# the chain limit: an indirect table of 1024 entries (header, 1022 one-sector pieces, status)
big = [(DATA, 16, R)] + [(DATA + 0x40000 + 512 * k, 512, W) for k in range(1022)] + [(DATA + 0x8000, 1, W)]
blk['indirect-1024'] = (script(ALL, 8) + s_ram(DATA, struct.pack('<IIQ', 0, 0, 0)) +
                        itable(DATA + 0x10000, big) + s_desc(0, 0, DATA + 0x10000, 16 * 1024, IND) +
                        s_post(0, 0))
seeds('blk', blk)

# fuzz_net: queue 0 RX, 1 TX; FZ_OP_DEVICE commands: 1 RX frame (+ bits 4..7 KiB of
# zeros), 2 backend full, 4 backend writable again, 8 refuse the next frame
def eth(n):
    return bytes.fromhex('525400123456525400abcdef0800') + bytes((k * 7) & 0xff for k in range(n - 14))

def net_hdr(flags=0, gso=0, hdr_len=0, gso_size=0, cs=0, co=0, nb=0):
    return struct.pack('<BBHHHHH', flags, gso, hdr_len, gso_size, cs, co, nb)

def tx(frame, first=0, hdr=None, split=False):
    h = hdr if hdr is not None else net_hdr()
    if split:
        return (s_ram(DATA, h) + s_ram(DATA + 0x100, frame) +
                chain(1, first, [(DATA, len(h), R), (DATA + 0x100, len(frame), R)]) + s_post(1, first))
    return s_ram(DATA, h + frame) + chain(1, first, [(DATA, len(h) + len(frame), R)]) + s_post(1, first)

def rx_bufs(n, size, first=0):
    out = b''
    for k in range(n):
        out += s_desc(0, first + k, DATA + 0x10000 + k * 0x1000, size, W) + s_post(0, first + k)
    return out

MRG = 1 << 15
net = {
    'tx': script(ALL, 3) + tx(eth(60)),
    'tx-split': script(ALL, 3) + tx(eth(100), split=True),
    'tx-csum-tso': script(ALL, 0x83) + tx(eth(200), hdr=net_hdr(1, 1, 54, 1448, 34, 16)),
    'tx-bad-hdr': script(ALL, 0x83) + tx(eth(80), hdr=net_hdr(1, 3, 0, 0, 70, 16)),
    'tx-backpressure': script(ALL, 3) + s_device(b'\x02') + tx(eth(60)) + tx(eth(64), first=2) +
                       s_device(b'\x04'),
    'tx-refused': script(ALL, 3) + s_device(b'\x08') + tx(eth(60)),
    'rx': script(ALL, 3) + rx_bufs(2, 2048) + s_device(b'\x01' + eth(60)),
    'rx-mergeable': script(ALL, 4) + rx_bufs(6, 512) + s_device(b'\x11' + eth(200)),
    'rx-vnet': script(ALL & ~(3 << 7), 0x83) + rx_bufs(2, 2048) + s_device(b'\x01' + net_hdr(2) + eth(60)),
    'rx-vnet-gso': script(ALL, 0x86) + rx_bufs(34, 2048) +
                   s_device(b'\x21' + net_hdr(1, 1, 54, 1448, 34, 16) + eth(200)),
    'rx-oversize': script(ALL & ~MRG, 3) + rx_bufs(2, 1024) + s_device(b'\x21' + eth(100)),
    'rx-before-buffers': script(ALL, 3) + s_device(b'\x01' + eth(60)) + rx_bufs(1, 2048),
    'reset-with-frames': script(ALL, 3) + s_device(b'\x01' + eth(60)) + rx_bufs(1, 64) +
                         s_reg(0x70, 0) + S_SETUP + rx_bufs(1, 2048) + s_device(b'\x01' + eth(70)) + S_PAUSE,
}
seeds('net', net)

# fuzz_rng: one queue of writable buffers
seeds('rng', {
    'one': script(ALL, 3) + s_desc(0, 0, DATA, 64, W) + s_post(0, 0),
    'chain': script(ALL, 3) + chain(0, 0, [(DATA, 16, W), (DATA + 0x100, 4096, W), (DATA + 0x2000, 1, W)]) + s_post(0, 0),
    'readable': script(ALL, 3) + s_desc(0, 0, DATA, 64, R) + s_post(0, 0),
    'indirect-1024': script(ALL, 3) + itable(DATA + 0x10000, [(DATA + 64 * k, 64, W) for k in range(1024)]) +
                     s_desc(0, 0, DATA + 0x10000, 16 * 1024, IND) + s_post(0, 0),
    'reset': script(ALL, 3) + s_desc(0, 0, DATA, 64, W) + s_post(0, 0) + s_reg(0x70, 0) + S_SETUP +
             s_desc(0, 1, DATA, 8, W) + s_post(0, 1) + S_PAUSE,
})

# fuzz_console: queue 0 receive (host -> guest), 1 transmit; FZ_OP_DEVICE: 1 input, 2 drain
def con_tx(data, first=0):
    return s_ram(DATA + 0x100 * first, data) + s_desc(1, first, DATA + 0x100 * first, len(data), R) + s_post(1, first)

seeds('console', {
    'output': script(ALL, 3) + con_tx(b'hello\n') + s_device(b'\x02'),
    'input': script(ALL, 3) + s_desc(0, 0, DATA + 0x8000, 64, W) + s_post(0, 0) + s_device(b'\x01abc\n'),
    'input-first': script(ALL, 3) + s_device(b'\x01early') + s_desc(0, 0, DATA + 0x8000, 3, W) + s_post(0, 0) +
                   s_desc(0, 1, DATA + 0x9000, 64, W) + s_post(0, 1),
    'output-full': script(ALL, 5) + b''.join(s_desc(1, k, DATA, 4000, R) + s_post(1, k) for k in range(20)) +
                   s_reg(0x70, 0) + S_SETUP + s_device(b'\x02') + con_tx(b'again\n'),
    'wrong-direction': script(ALL, 3) + s_desc(0, 0, DATA, 64, R) + s_post(0, 0) + s_desc(1, 0, DATA, 64, W) + s_post(1, 0),
})

# fuzz_serial: (selector, value) pairs; selector bit 4 = write, bits 5..7 = kind
def uart_w(off, v):
    return bytes([0x10 | off, v])

def uart_r(off):
    return bytes([off, 0])

linux_init = (uart_w(3, 0x80) + uart_w(0, 1) + uart_w(1, 0) + uart_w(3, 0x03) + uart_w(2, 0xc7) +
              uart_w(4, 0x0b) + uart_w(1, 0x05) + uart_r(2) + uart_r(5) + uart_r(6))
seeds('serial', {
    'linux-init-print': linux_init + b''.join(uart_w(0, c) for c in b'hello\n') + bytes([0xa0, 0]) + bytes([0xc0, 0]),
    'input': linux_init + bytes([0x80, ord('x'), 0x80, ord('\r')]) + uart_r(5) + uart_r(0) + uart_r(0) + uart_r(2),
    'loopback': linux_init + uart_w(4, 0x1f) + uart_w(0, 0x55) + uart_r(5) + uart_r(0) + uart_r(6),
    'panic': linux_init + b''.join(uart_w(0, c) for c in b'Kernel panic - not syncing: VFS\n') + bytes([0xc0, 0]),
    'close': linux_init + bytes([0xe0, 0]) + b''.join(uart_w(0, c) for c in b'late\n'),
})

# fuzz_cli_spec: selector (0 disk, 1 net, 2 vsock, 3 balloon, 4 reclaim, 5 MAC, 6 hostfwd,
# 7 size, 8 bucket), then the text
cli = {
    'disk': (0, '/var/tmp/a.img,ro,id=root,queues=4,bw=10M,ops=1000:100:50'),
    'disk-direct': (0, 'disk.raw,direct,queues=16'),
    'net-tap': (1, 'tap=tap0,mac=52:54:00:12:34:56,rx-bw=1M,tx-ops=100'),
    'net-user': (1, 'user,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp::5353-10.0.2.15:53,hostname=vm1'),
    'net-fd': (1, 'fd=3,mac=02:00:00:00:00:01'),
    'net-none': (1, 'none'),
    'vsock': (2, 'cid=3,uds=/tmp/v.sock'),
    'balloon': (3, 'target=256M,deflate_on_oom,stats=5,free_page_reporting'),
    'reclaim': (4, 'auto,floor=256M,step=64M,interval=5,pressure=10:5,guest-low=128M'),
    'mac': (5, '52:54:00:AB:cd:ef'),
    'hostfwd': (6, 'tcp:0.0.0.0:8080-10.0.2.15:80'),
    'size': (7, '65536K'),
    'bucket': (8, '10M:100:1G'),
}
seeds('cli_spec', {k: bytes([sel]) + t.encode() for k, (sel, t) in cli.items()})

# fuzz_fs_state: FUSE snapshot blobs (fs/fuse_state.c). ino 0 lets the target fill in the
# identity of what the path (node) or the node (handle) names in its share: d/, d/e/, f,
# d/g, abs -> /etc, rel -> ../outside, fifo.
S_IFDIR, S_IFREG, S_IFLNK, S_IFIFO = 0o040000, 0o100000, 0o120000, 0o010000
O_RDWR, O_APPEND, O_DIRECTORY = 2, 0o2000, 0o200000

def fs_hdr(nodes, fhs, node_slots=16, fh_slots=8, init=1, minor=38):
    return struct.pack('<IIIBBBBIIIIQQ', 0x54534653, 1, minor, init, 0, 1, 0,
                       node_slots, fh_slots, nodes, fhs, 0, 0)

def fs_node(slot, path, typ, gen=0, nlookup=1, ino=0):
    p = path.encode()
    return struct.pack('<IIQQQII', slot, gen, nlookup, 0, ino, typ, len(p)) + p

def fs_fh(slot, nodeid, flags, is_dir=0, gen=0):
    return struct.pack('<IIQQQiB3x', slot, gen, nodeid, 0, 0, flags, is_dir)

tree = [fs_node(1, 'd', S_IFDIR, nlookup=3), fs_node(2, 'd/e', S_IFDIR), fs_node(3, 'f', S_IFREG, gen=2),
        fs_node(4, 'd/g', S_IFREG), fs_node(5, 'abs', S_IFLNK), fs_node(6, 'rel', S_IFLNK),
        fs_node(7, 'fifo', S_IFIFO), fs_node(9, '', S_IFREG, nlookup=5)]
handles = [fs_fh(0, 2 | (2 << 32), O_RDWR), fs_fh(1, 2, O_DIRECTORY, 1), fs_fh(3, 1, O_DIRECTORY, 1),
           fs_fh(4, 5, O_APPEND | 1), fs_fh(5, 10, 0)]
seeds('fs_state', {
    'root-only': fs_hdr(0, 0, 1, 0),
    'uninitialised': fs_hdr(0, 0, 1, 0, init=0, minor=0),
    'tree': fs_hdr(len(tree), 0) + b''.join(tree),
    'tree-handles': fs_hdr(len(tree), len(handles)) + b''.join(tree) + b''.join(handles),
    'dead-only': fs_hdr(2, 1) + fs_node(1, '', S_IFDIR) + fs_node(2, 'nope/x', S_IFREG) +
                 fs_fh(0, 3, 0),
    'escape-paths': fs_hdr(2, 0) + fs_node(1, 'abs/passwd', S_IFREG) + fs_node(2, 'rel', S_IFREG),
})
