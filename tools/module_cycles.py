"""Module dependency cycles of a Rust crate.

An edge A -> B when code in A (its `use` lines and paths in its code, tests excluded) names an
item *defined* in B, re-exports followed; `mod` declarations and `pub use` re-exports are not
edges. Prints every strongly connected component of more than one module, with its edges,
and the counts. A textual approximation of Rust's name resolution (no macros expanded), good
enough for this project's code.

    python3 tools/module_cycles.py nn-runtime/src [crate::module]   # the second: its uses
"""
import os, re, sys
from collections import defaultdict

root = sys.argv[1]  # crate's src dir
mods = {}  # module path tuple -> file
def walk(path, mod):
    mods[mod] = path
    src = open(path).read()
    src = re.sub(r'#\[cfg\(test\)\]\s*mod\s+\w+\s*\{', 'mod __test_inline {', src)
    base = os.path.dirname(path) if os.path.basename(path) in ('lib.rs','mod.rs') else os.path.splitext(path)[0]
    for m in re.finditer(r'^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;', src, re.M):
        name = m.group(1)
        # skip test modules declared under cfg(test)
        before = src[:m.start()].rstrip().split('\n')[-1]
        if 'cfg(test)' in before: continue
        for cand in (os.path.join(base, name + '.rs'), os.path.join(base, name, 'mod.rs')):
            if os.path.exists(cand):
                walk(cand, mod + (name,)); break
walk(os.path.join(root, 'lib.rs'), ())

def strip_tests(src):
    i = src.find('#[cfg(test)]\nmod tests')
    return src if i < 0 else src[:i]

defined = defaultdict(set); reexports = defaultdict(dict); globs = defaultdict(list)
def expand_use(tree):
    tree = re.sub(r'\s+', '', tree)
    out = []
    def rec(prefix, t):
        if '{' not in t:
            for part in t.split(','):
                if part: out.append(prefix + part)
            return
        i = t.index('{'); head = t[:i]; depth=0; items=[]; cur=''
        body = t[i+1:t.rindex('}')]
        for ch in body:
            if ch == '{': depth += 1
            if ch == '}': depth -= 1
            if ch == ',' and depth == 0: items.append(cur); cur=''
            else: cur += ch
        if cur: items.append(cur)
        for it in items: rec(prefix + head, it)
    rec('', tree)
    return out
uses = {}
for mod, path in mods.items():
    src = strip_tests(open(path).read())
    for m in re.finditer(r'^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+|unsafe\s+|async\s+)*(?:fn|struct|enum|trait|type|const|static|union)\s+(\w+)', src, re.M):
        defined[mod].add(m.group(1))
    for m in re.finditer(r'^macro_rules!\s*(\w+)', src, re.M):
        defined[mod].add(m.group(1))
    us = []
    for m in re.finditer(r'^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);', src, re.M):
        public = bool(m.group(1))
        for p in expand_use(m.group(2)):
            if public:
                name = p.split('::')[-1]
                if name == '*': globs[mod].append(p[:-3])
                else: reexports[mod][name] = p
            if not public:
                us.append(p)
    # inline paths in code (not use lines)
    code = re.sub(r'^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+[^;]+;', '', src, flags=re.M)
    code = re.sub(r'//.*', '', code)
    for m in re.finditer(r'(?<![\w:])(\w+(?:::\w+)+)', code):
        first = m.group(1).split('::')[0]
        if first in ('crate', 'super', 'self') or mod + (first,) in mods:
            us.append(m.group(1))
    uses[mod] = us

def absolute(mod, p):
    segs = p.split('::')
    if segs[0] == 'crate': cur = (); segs = segs[1:]
    elif segs[0] == 'self': cur = mod; segs = segs[1:]
    elif segs[0] == 'super':
        cur = mod
        while segs and segs[0] == 'super':
            cur = cur[:-1]; segs = segs[1:]
    else:
        # first segment: a child module or an item of this module, or an external crate
        if mod + (segs[0],) in mods: cur = mod
        else: return None
    return cur, segs

def resolve(mod, p, depth=0):
    if depth > 20: return None
    r = absolute(mod, p)
    if r is None: return None
    cur, segs = r
    for i, s in enumerate(segs):
        if s in ('*', 'self', ''): return cur
        if cur + (s,) in mods:
            cur = cur + (s,); continue
        # item in cur
        if s in defined[cur]: return cur
        if s in reexports[cur]:
            return resolve(cur, reexports[cur][s], depth + 1)
        for g in globs[cur]:
            target = resolve(cur, g + '::' + s, depth + 1)
            if target is not None: return target
        return cur
    return cur

edges = defaultdict(set)
for mod, us in uses.items():
    for p in us:
        t = resolve(mod, p)
        if t is None or t == mod: continue
        # an ancestor naming a descendant's item through its own re-export is still an edge
        edges[mod].add(t)

# Tarjan
index = {}; low = {}; stack = []; on = set(); sccs = []; counter = [0]
sys.setrecursionlimit(10000)
def strong(v):
    index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            strong(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        sccs.append(comp)
for v in list(mods):
    if v not in index: strong(v)
name = lambda m: '::'.join(('crate',) + m)
cycles = [c for c in sccs if len(c) > 1]
for c in cycles:
    print('cycle:', ', '.join(sorted(name(m) for m in c)))
    for a in c:
        for b in edges[a]:
            if b in c: print('   ', name(a), '->', name(b))
print(f'{len(mods)} modules, {sum(len(e) for e in edges.values())} edges, {len(cycles)} cycles')
if len(sys.argv) > 2:
    want = tuple(sys.argv[2].split('::')[1:])
    for p in uses[want]:
        t = resolve(want, p)
        if t and t != want: print('  use', p, '->', name(t))
