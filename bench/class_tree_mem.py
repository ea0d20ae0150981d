#!/usr/bin/python3
"""class_tree_mem.py PIDFILE OUT: samples, every 20 ms until the process in
PIDFILE exits, the memory of that process and all its descendants (RSS
summed, and PSS summed from /proc/PID/smaps_rollup, which counts shared
pages once), and writes the peaks to OUT as "rss_kb N pss_kb N procs N".
Used by bench/class.sh."""
import os, sys, time

def children():
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(p))
    return kids

def field(path, name):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

pidfile, out = sys.argv[1], sys.argv[2]
while not os.path.exists(pidfile) or not open(pidfile).read().strip():
    time.sleep(0.01)
root = int(open(pidfile).read())
peak_rss = peak_pss = peak_procs = 0
while os.path.exists("/proc/%d" % root):
    kids = children()
    tree, todo = [], [root]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(kids.get(p, []))
    rss = sum(field("/proc/%d/status" % p, "VmRSS") for p in tree)
    pss = sum(field("/proc/%d/smaps_rollup" % p, "Pss") for p in tree)
    peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
    peak_procs = max(peak_procs, len(tree))
    time.sleep(0.02)
with open(out, "w") as f:
    f.write("rss_kb %d pss_kb %d procs %d\n" % (peak_rss, peak_pss, peak_procs))
