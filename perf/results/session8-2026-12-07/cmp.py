import sys,re,collections,subprocess,json
# cmp.py name:iops ... : per-IO µs by symbol bucket from /tmp/prof-NAME/perf.data (2999 Hz, 10 s window)
def load(name,iops):
    out=subprocess.run(['perf','report','-i',f'/tmp/prof-{name}/perf.data','--no-children','--sort','dso,symbol','-g','none','--stdio','-F','sample,dso,symbol'],capture_output=True,text=True).stdout
    c=collections.Counter(); sym=collections.Counter()
    for l in out.splitlines():
        m=re.match(r'\s*(\d+)\s+(\[JIT\] tid \d+|\S+)\s+\[(.)\]\s+(.*)',l)
        if not m: continue
        n=int(m.group(1)); dso=m.group(2); k=m.group(3); s=m.group(4).strip()
        us=n/2999/(iops*10)*1e6
        if k=='k': cat='kernel'
        else:
            mm=re.search(r'\[(DataflowVdo\.\w+|System\.[\w.]+|K4os[\w.]*)\]\s+([\w.+`]+)::',s)
            if mm: cat=('DV:'+mm.group(2).split('.')[-1].split('+')[0]) if mm.group(1).startswith('DataflowVdo') else mm.group(1)
            else: cat=dso
        c[cat]+=us
        s=re.sub(r'\[Optimized\w*\]|valuetype |\[System[^\]]*\]|\[DataflowVdo[^\]]*\]|instance ','',s)
        sym[s[:110]]+=us
    return c,sym
res=[load(a.split(':')[0],float(a.split(':')[1])) for a in sys.argv[1:]]
keys=sorted(set().union(*[r[0].keys() for r in res]),key=lambda k:-max(r[0][k] for r in res))
print('total', ' '.join(f"{sum(r[0].values()):7.2f}" for r in res))
for k in keys[:25]: print(f"{k:40s}", ' '.join(f"{r[0][k]:7.3f}" for r in res))
print()
keys=sorted(set().union(*[r[1].keys() for r in res]),key=lambda k:-abs(res[0][1][k]-res[-1][1][k]))
for k in keys[:40]: print(' '.join(f"{r[1][k]:7.3f}" for r in res), k)
