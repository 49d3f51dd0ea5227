#!/usr/bin/env python3
"""N time-shifted copies of a classic pcap, one after another, to stdout (streaming).

    python3 benches/support/tshift.py 70 5000 /tmp/perf/base.pcap | albscope analyze --threads 1 -

Copy k's packet timestamps get + k * SHIFT seconds; nothing else changes (addresses and ports
stay, checksums stay valid). With SHIFT above albscope's idle expiry (4,100 s) every connection
of a copy has ended before the next copy starts, so a run over N copies shows whether memory
stays flat with the capture's length (amplify.py also shifts addresses, but rewrites every
packet and runs at a few MB/s, too slow for ~20 GB).
"""
import struct
import sys


def main() -> int:
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    n, shift, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    out = sys.stdout.buffer
    for k in range(n):
        with open(path, "rb", buffering=1 << 20) as f:
            head = f.read(24)
            magic = head[:4]
            if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
                endian = "<"
            elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
                endian = ">"
            else:
                sys.stderr.write(f"{path}: not a classic pcap\n")
                return 1
            rec = struct.Struct(endian + "IIII")
            if k == 0:
                out.write(head)
            add = k * shift
            while True:
                h = f.read(16)
                if len(h) < 16:
                    break
                sec, frac, cap, orig = rec.unpack(h)
                data = f.read(cap)
                if len(data) < cap:
                    break
                out.write(rec.pack((sec + add) & 0xFFFFFFFF, frac, cap, orig))
                out.write(data)
        sys.stderr.write(f"copy {k + 1}/{n}\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
