#!/usr/bin/env python3
"""relink.py IN OUT mode: be (big-endian pcap) | vlan (802.1Q tag 100 on plain ethernet) | sll (linux cooked v1 from ethernet)"""
import struct,sys
d=open(sys.argv[1],'rb').read(); mode=sys.argv[3]
e='<' if d[:4] in (b'\xd4\xc3\xb2\xa1',b'\x4d\x3c\xb2\xa1') else '>'
mag,vmaj,vmin,tz,sig,snap,lt=struct.unpack(e+'IHHiIII',d[:24])
off=24; pk=[]
while off+16<=len(d):
    s,u,cl,ol=struct.unpack(e+'IIII',d[off:off+16]); pk.append([s,u,ol,d[off+16:off+16+cl]]); off+=16+cl
o=e
if mode=='be': o='>'
if mode=='vlan':
    pk=[[s,u,ol+4,b[:12]+b'\x81\x00\x00\x64'+b[12:]] for s,u,ol,b in pk]
if mode=='sll':
    lt=113
    pk=[[s,u,ol+2,struct.pack('>HHH',0,1,6)+b[6:12]+b'\0\0'+b[12:14]+b[14:]] for s,u,ol,b in pk]
with open(sys.argv[2],'wb') as f:
    f.write(struct.pack(o+'IHHiIII',mag,vmaj,vmin,tz,sig,snap,lt))
    for s,u,ol,b in pk: f.write(struct.pack(o+'IIII',s,u,len(b),ol)); f.write(b)
