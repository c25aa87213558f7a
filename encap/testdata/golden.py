# Independent oracle for golden bytes: builds packets field by field from the RFCs.
import struct, ipaddress
def csum(b):
    if len(b)%2: b+=b'\0'
    s=sum(struct.unpack('!%dH'%(len(b)//2),b))
    while s>>16: s=(s&0xffff)+(s>>16)
    return (~s)&0xffff
def ip4(src,dst,proto,payload,tos=0,ident=0,df=True,ttl=64):
    h=struct.pack('!BBHHHBBH4s4s',0x45,tos,20+len(payload),ident,0x4000 if df else 0,ttl,proto,0,
        ipaddress.IPv4Address(src).packed,ipaddress.IPv4Address(dst).packed)
    c=csum(h); return h[:10]+struct.pack('!H',c)+h[12:]+payload
def ip6(src,dst,nh,payload,tc=0,fl=0,hl=64):
    return struct.pack('!IHBB16s16s',(6<<28)|(tc<<20)|fl,len(payload),nh,hl,
        ipaddress.IPv6Address(src).packed,ipaddress.IPv6Address(dst).packed)+payload
def udp4(src,dst,sp,dp,payload):
    u=struct.pack('!HHHH',sp,dp,8+len(payload),0)+payload
    ph=ipaddress.IPv4Address(src).packed+ipaddress.IPv4Address(dst).packed+struct.pack('!BBH',0,17,len(u))
    c=csum(ph+u) or 0xffff
    return u[:6]+struct.pack('!H',c)+u[8:]
def udp6(src,dst,sp,dp,payload,zero=False):
    u=struct.pack('!HHHH',sp,dp,8+len(payload),0)+payload
    if zero: return u
    ph=ipaddress.IPv6Address(src).packed+ipaddress.IPv6Address(dst).packed+struct.pack('!IxxxB',len(u),17)
    c=csum(ph+u) or 0xffff
    return u[:6]+struct.pack('!H',c)+u[8:]
def udp_nock(sp,dp,payload): return struct.pack('!HHHH',sp,dp,8+len(payload),0)+payload
def eth(dst,src,et): return bytes(dst)+bytes(src)+struct.pack('!H',et)
def vxlan(vni): return struct.pack('!II',0x08000000,vni<<8)
def geneve(vni,proto,opts=b'',crit=False):
    return struct.pack('!BBHI',len(opts)//4,0x40 if crit else 0,proto,vni<<8)+opts
def srcport(h,lo=32768,hi=60999): return ((h*(hi-lo))>>32)+lo
def fl(h):
    l=(h^(h>>12))&0xfffff
    return l or 1

SRC_MAC=[0x02,0,0,0,0,0x01]; DST_MAC=[0x02,0,0,0,0,0x02]
inner4=ip4('10.244.1.2','10.244.2.3',17,udp4('10.244.1.2','10.244.2.3',1234,5678,b'hi!!'),tos=0xb8|0x01)
inner6=ip6('2001:db8:a::1','2001:db8:b::2',17,udp6('2001:db8:a::1','2001:db8:b::2',1234,5678,b'hi!!'),tc=0x2a)
H=0x12345678
out={}
# 1 VXLAN over IPv4, flannel port 8472, VNI 1, inner IPv4 (DF set, TOS 0xb9)
pl=vxlan(1)+eth(DST_MAC,SRC_MAC,0x0800)+inner4
out['vxlan4']=ip4('192.0.2.1','192.0.2.2',17,udp_nock(srcport(H),8472,pl),tos=0xb9,ident=H&0xffff,df=True)
# 2 Geneve over IPv6, Ethernet payload, one critical option class 0x0102 type 0x83 4 bytes data, VNI 0x123456, inner IPv6
opt=struct.pack('!HBB',0x0102,0x83,1)+b'\xde\xad\xbe\xef'
pl=geneve(0x123456,0x6558,opt,crit=True)+eth(DST_MAC,SRC_MAC,0x86dd)+inner6
out['geneve6']=ip6('2001:db8::1','2001:db8::2',17,udp6('2001:db8::1','2001:db8::2',srcport(H),6081,pl),tc=0x2a,fl=fl(H))
# 3 Geneve-IP over IPv4, no options, VNI 7, inner IPv4, DF policy clear, TTL 32
pl=geneve(7,0x0800)+inner4
out['geneveip4']=ip4('192.0.2.1','192.0.2.2',17,udp_nock(srcport(H),6081,pl),tos=0xb9,ident=1,df=False,ttl=32)
# IPv4 ID: the flow hash's low 16 bits when DF is set (RFC 6864 4.1), else the
# per-peer counter, which starts at 1.
# 4 IPIP v4-in-v4
out['ipip44']=ip4('192.0.2.1','192.0.2.2',4,inner4,tos=0xb9,ident=H&0xffff,df=True)
# 5 IPv6-in-IPv4 (proto 41)
out['ipip64']=ip4('192.0.2.1','192.0.2.2',41,inner6,tos=0x2a,ident=H&0xffff,df=True)
# 6 IPv4-in-IPv6 (nh 4) and 7 IPv6-in-IPv6 (41)
out['ipip46']=ip6('2001:db8::1','2001:db8::2',4,inner4,tc=0xb9,fl=fl(H))
out['ipip66']=ip6('2001:db8::1','2001:db8::2',41,inner6,tc=0x2a,fl=fl(H))
# 8 VXLAN over IPv6 with zero UDP checksum, default port
pl=vxlan(0xabcdef)+eth(DST_MAC,SRC_MAC,0x0800)+inner4
out['vxlan6zero']=ip6('2001:db8::1','2001:db8::2',17,udp6('2001:db8::1','2001:db8::2',srcport(H),4789,pl,zero=True),tc=0xb9,fl=fl(H))
print('inner4', inner4.hex()); print('inner6', inner6.hex())
for k,v in out.items(): print(k, v.hex())
