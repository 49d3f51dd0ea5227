#!/usr/bin/env python3
"""Second mirror session on the targets' ENIs: every VXLAN packet whose inner IPv4 src or dst
is in TARGETS is copied with outer src = that target's address and VNI = NEWVNI, DELAY us later.
usage: mirror2.py IN OUT TARGET_IP[,..] NEWVNI DELAY_US [mode]  mode: both|only (only: drop ALB-session copies of backend pkts)"""
import struct,sys,socket
sys.path.insert(0,'/tmp/ar')
src,dst,tg,vni,delay=sys.argv[1],sys.argv[2],sys.argv[3].split(','),int(sys.argv[4]),int(sys.argv[5])
mode=sys.argv[6] if len(sys.argv)>6 else 'both'
tg=[socket.inet_aton(x) for x in tg]
d=open(src,'rb').read(); e='<' if d[:4] in (b'\xd4\xc3\xb2\xa1',b'\x4d\x3c\xb2\xa1') else '>'
ns=d[:4] in (b'\x4d\x3c\xb2\xa1',b'\xa1\xb2\x3c\x4d'); unit=1000 if ns else 1
off=24; out=[]
def csum(b):
    if len(b)%2: b+=b'\0'
    s=sum(struct.unpack('!%dH'%(len(b)//2),b)); s=(s>>16)+(s&0xffff); s+=s>>16; return (~s)&0xffff
while off+16<=len(d):
    s,u,cl,ol=struct.unpack(e+'IIII',d[off:off+16]); b=d[off+16:off+16+cl]; off+=16+cl
    t=s*1000000*unit+u
    out.append((t,b,ol,0))
    try:
        ihl=(b[14]&15)*4; udp=14+ihl; vx=udp+8; inner=vx+8; iip=inner+14
        if struct.unpack('!H',b[udp+2:udp+4])[0]!=4789: continue
        isrc,idst=b[iip+12:iip+16],b[iip+16:iip+20]
        hit=[x for x in (isrc,idst) if x in tg]
        if not hit: continue
        nb=bytearray(b); nb[14+12:14+16]=hit[0]; nb[14+10:14+12]=b'\0\0'; nb[14+10:14+12]=struct.pack('!H',csum(bytes(nb[14:14+ihl])))
        nb[vx+4:vx+7]=struct.pack('!I',vni)[1:]
        # target ENI sees the frame with different MACs
        nb[inner:inner+12]=bytes(reversed(nb[inner:inner+12]))
        out.append((t+delay*unit,bytes(nb),ol,1))
        if mode=='only': out[-2]=None
    except Exception as ex: pass
out=[x for x in out if x]
out.sort(key=lambda x:x[0])
with open(dst,'wb') as f:
    f.write(d[:24])
    for t,b,ol,_ in out:
        f.write(struct.pack(e+'IIII',t//(1000000*unit),t%(1000000*unit),len(b),ol)); f.write(b)
