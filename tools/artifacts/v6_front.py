#!/usr/bin/env python3
"""v6_front.py IN OUT: VXLAN capture; front-end packets (inner TCP port 80/443 on ALB_IP) become
IPv6: client CLIENT4 -> fd00::2:10 (same text length, so X-Forwarded-For keeps its length),
ALB ALB4 -> fd00::99:1; XFF text rewritten in back-end requests."""
import struct,sys,socket
src,dst=sys.argv[1],sys.argv[2]
C4,A4=socket.inet_aton('10.99.2.10'),socket.inet_aton('10.99.0.1')
C6,A6=socket.inet_pton(socket.AF_INET6,'fd00::2:10'),socket.inet_pton(socket.AF_INET6,'fd00::99:1')
d=open(src,'rb').read(); e='<'
def csum(b):
    if len(b)%2: b+=b'\0'
    s=sum(struct.unpack('!%dH'%(len(b)//2),b)); s=(s>>16)+(s&0xffff); s+=s>>16; return (~s)&0xffff
off=24; out=[d[:24]]
while off+16<=len(d):
    s,u,cl,ol=struct.unpack(e+'IIII',d[off:off+16]); b=bytearray(d[off+16:off+16+cl]); off+=16+cl
    ihl=(b[14]&15)*4; inner=14+ihl+16; iip=inner+14
    if b[inner+12:inner+14]==b'\x08\x00' and b[iip+9]==6:
        iihl=(b[iip]&15)*4; tot=struct.unpack('!H',b[iip+2:iip+4])[0]
        sip,dip=bytes(b[iip+12:iip+16]),bytes(b[iip+16:iip+20])
        tcp=bytearray(b[iip+iihl:iip+tot]); sp,dp=struct.unpack('!HH',tcp[:4])
        front=(sip==C4 and dip==A4) or (sip==A4 and dip==C4)
        if front:
            s6=C6 if sip==C4 else A6; d6=C6 if dip==C4 else A6
            tcp[16:18]=b'\0\0'
            ph=s6+d6+struct.pack('!IxxxB',len(tcp),6)
            tcp[16:18]=struct.pack('!H',csum(ph+bytes(tcp)))
            ip6=struct.pack('!IHBB',6<<28,len(tcp),6,64)+s6+d6
            newinner=bytes(b[inner:inner+12])+b'\x86\xdd'+ip6+bytes(tcp)
            b=b[:inner]+bytearray(newinner)
        else:
            # back-end: X-Forwarded-For: 10.99.2.10 -> fd00::2:10 (same length)
            pl=bytes(tcp[(tcp[12]>>4)*4:])
            if b'X-Forwarded-For: 10.99.2.10' in pl:
                i=bytes(b).find(b'X-Forwarded-For: 10.99.2.10')
                b[i:i+27]=b'X-Forwarded-For: fd00::2:10'
                t0=iip+iihl; tl=tot-iihl
                b[t0+16:t0+18]=b'\0\0'
                ph=sip+dip+struct.pack('!xBH',6,tl)
                b[t0+16:t0+18]=struct.pack('!H',csum(ph+bytes(b[t0:t0+tl])))
        # outer lengths
        olen=len(b)-14
        b[16:18]=struct.pack('!H',olen); b[24:26]=b'\0\0'; b[24:26]=struct.pack('!H',csum(bytes(b[14:14+ihl])))
        b[14+ihl+4:14+ihl+6]=struct.pack('!H',olen-ihl); b[14+ihl+6:14+ihl+8]=b'\0\0'
    ol=len(b) if ol==cl else ol+(len(b)-cl)
    out.append(struct.pack(e+'IIII',s,u,len(b),ol)+bytes(b))
open(dst,'wb').write(b''.join(out))
