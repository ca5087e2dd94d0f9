# roofline.py: per-layer-type FLOPs and activation bytes per second of audio for SNAC 24/32/44 kHz (tables of bench/ROOFLINE.md).
# per second of audio: FLOPs and fp32 activation bytes (each layer reads its input and writes its output once;
# weights are read once per call and amortized, not counted) per layer type, SNAC enc/dec.
A={"24khz":(24000,48,[2,4,8,8],1024,[8,8,4,2],0,4096,8,[4,2,1]),
   "32khz":(32000,64,[2,3,8,8],1536,[8,8,3,2],32,4096,8,[8,4,2,1]),
   "44khz":(44100,64,[2,3,8,8],1536,[8,8,3,2],32,4096,8,[8,4,2,1])}
def run(name):
    sr,ed,er,dd,dr,win,ncb,cbd,vqs=A[name]
    enc={};dec={}
    def add(d,k,f,b):
        d.setdefault(k,[0,0]); d[k][0]+=f; d[k][1]+=b
    L=sr; d=ed
    add(enc,"conv k7 dense (first/last)",2*d*1*7*L,4*(L+d*L))
    for r in er:
        for dil in (1,3,9):
            add(enc,"snake",5*d*L,8*d*L)  # fused into the conv input read on GPU (bytes shown if unfused)
            add(enc,"depthwise k7",2*d*7*L,8*d*L)
            add(enc,"snake",5*d*L,8*d*L)
            add(enc,"conv 1x1",2*d*d*L,8*d*L)
        add(enc,"snake",5*d*L,8*d*L)
        Lo=L//r
        add(enc,"strided/transposed",2*(2*d)*d*2*r*Lo,4*(d*L+2*d*Lo))
        L=Lo; d*=2
    T=L; lat=d
    if win:
        add(enc,"attention (qkv/out proj + local)",2*T*d*3*d+2*T*d*d+4*T*win*d,4*T*d*6)
    add(enc,"depthwise k7",2*d*7*T,8*d*T)
    for s in vqs:
        Tl=T/s
        add(enc,"VQ (proj 1x1 + search)",2*lat*cbd*Tl*2+2*Tl*ncb*cbd,4*(lat*Tl*2+lat*T*2))
    for s in vqs:
        add(dec,"VQ (proj 1x1 + search)",2*cbd*lat*T/s,4*(cbd*T/s+lat*T*2))
    add(dec,"depthwise k7",2*lat*7*T,8*lat*T)
    add(dec,"conv 1x1",2*lat*dd*T,4*(lat+dd)*T)
    c=dd; L=T
    if win:
        add(dec,"attention (qkv/out proj + local)",2*T*c*3*c+2*T*c*c+4*T*win*c,4*T*c*6)
    for s in dr:
        o=c//2
        add(dec,"snake",5*c*L,8*c*L)
        add(dec,"strided/transposed",2*c*o*2*s*L,4*(c*L+o*L*s))
        L*=s
        add(dec,"conv 1x1",2*o*o*L,8*o*L)  # noise linear
        for dil in (1,3,9):
            add(dec,"snake",5*o*L,8*o*L)
            add(dec,"depthwise k7",2*o*7*L,8*o*L)
            add(dec,"snake",5*o*L,8*o*L)
            add(dec,"conv 1x1",2*o*o*L,8*o*L)
        c=o
    add(dec,"snake",5*c*L,8*c*L)
    add(dec,"conv k7 dense (first/last)",2*c*7*L,4*(c*L+L))
    return enc,dec
for n in A:
    enc,dec=run(n)
    for tag,d in (("encode",enc),("decode",dec)):
        tf=sum(v[0] for v in d.values()); tb=sum(v[1] for v in d.values())
        print(f"\n### snac_{n} {tag}: {tf/1e9:.2f} GFLOP, {tb/1e9:.2f} GB per second of audio (fp32, unfused)")
        print("| layer type | GFLOP/s-audio | GB/s-audio | FLOP/byte | H100 fp32 bound (x real time) | TF32 bound | HBM bound |")
        print("|---|---|---|---|---|---|---|")
        for k,(f,b) in sorted(d.items(), key=lambda kv:-kv[1][0]):
            print(f"| {k} | {f/1e9:.3f} | {b/1e9:.3f} | {f/b:.1f} | {67e12/f:,.0f} | {495e12/f:,.0f} | {3.35e12/b:,.0f} |")
        print(f"| **total** | **{tf/1e9:.2f}** | **{tb/1e9:.2f}** | {tf/tb:.1f} | {67e12/tf:,.0f} | {495e12/tf:,.0f} | {3.35e12/tb:,.0f} |")
