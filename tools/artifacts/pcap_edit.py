#!/usr/bin/env python3
"""Edits a classic pcap record by record. usage: pcap_edit.py IN OUT "op;op..." (packet numbers from 1)
ops: drop:1,5,7  dup  dupd:DELTA_US  swap:i:j  from:N  until:N  tsback:N:US"""
import struct,sys
def read(p):
    d=open(p,'rb').read()
    m=d[:4]
    if m in (b'\xd4\xc3\xb2\xa1',b'\x4d\x3c\xb2\xa1'): e='<'
    else: e='>'
    ns = m in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    hdr=d[:24]; off=24; pk=[]
    while off+16<=len(d):
        s,u,cl,ol=struct.unpack(e+'IIII',d[off:off+16]); pk.append([s,u,ol,d[off+16:off+16+cl]]); off+=16+cl
    return e,ns,hdr,pk
def write(p,e,hdr,pk):
    with open(p,'wb') as f:
        f.write(hdr)
        for s,u,ol,b in pk: f.write(struct.pack(e+'IIII',s,u,len(b),ol)); f.write(b)
e,ns,hdr,pk=read(sys.argv[1]); unit=1000 if ns else 1
for op in sys.argv[3].split(';'):
    a=op.split(':')
    if a[0]=='drop':
        ds=set(int(x) for x in a[1].split(',')); pk=[x for i,x in enumerate(pk,1) if i not in ds]
    elif a[0]=='dup':
        pk=[y for x in pk for y in (x,list(x))]
    elif a[0]=='dupd':
        dl=int(a[1])*unit; out=[]
        for s,u,ol,b in pk:
            out.append([s,u,ol,b]); t=s*1000000*unit+u+dl; out.append([t//(1000000*unit),t%(1000000*unit),ol,b])
        pk=out
    elif a[0]=='swap':
        i,j=int(a[1])-1,int(a[2])-1; pk[i],pk[j]=pk[j],pk[i]
    elif a[0]=='from': pk=pk[int(a[1])-1:]
    elif a[0]=='until': pk=pk[:int(a[1])]
    elif a[0]=='tsback':
        i=int(a[1])-1; t=pk[i][0]*1000000*unit+pk[i][1]-int(a[2])*unit; pk[i][0]=t//(1000000*unit); pk[i][1]=t%(1000000*unit)
write(sys.argv[2],e,hdr,pk)
