#!/usr/bin/python3
# bench/report.py - turn bench/run's results.tsv into results.md (a markdown
# table: certpin/plain ratios plus absolute numbers) and ratios.png (gnuplot).
#
# usage: report.py RESULTS.TSV OUTDIR yes|no(chart)
#        report.py --peer OUTDIR RESULTS.TSV [RESULTS.TSV ...]   (bench/peer)
#
# results.tsv lines, tab separated: TYPE KEY SERVER ROUND VALUE, with TYPE
#   meta  run facts (users, rounds, date, commit, machine)
#   m     one measurement (SERVER certpin or plain; ROUND a number or -)
#   na    a figure that could not be measured; VALUE says what is missing
import os
import statistics
import subprocess
import sys


# ---- bench/peer: certpin, plain slapd and 389 Directory Server ----------------
# usage: report.py --peer OUTDIR RESULTS.TSV [RESULTS.TSV ...]
#   one file: OUTDIR/peer.md (the figures of one directory size)
#   several (one per size): OUTDIR/growth.md (a line per size and figure) and
#   OUTDIR/growth.png (certpin/389-DS ratios and server CPU per operation
#   against the number of users)
SERVERS = ("certpin", "plain", "389ds")


def peer_load(path):
    meta, meas = {}, {}
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if len(f) != 5:
            continue
        typ, key, srv, rnd, val = f
        if typ == "meta":
            meta[key] = val
        elif typ == "m" and val not in ("", "nan", "-nan"):
            try:
                meas.setdefault((key, srv), []).append(float(val))
            except ValueError:
                pass
    return meta, meas


def peer_figures(meas):
    """[(figure, unit, {server: value}, ratio certpin/389, range, ratio certpin/plain,
    higher_is_better)] of one run."""
    def m(key, srv):
        v = meas.get((key, srv))
        return statistics.median(v) if v else None

    def rr(key):
        v = meas.get((key, "certpin"))
        return (statistics.median(v), min(v), max(v), len(v)) if v else None

    figs = []
    for fig, name, unit in (("logon", "Full logon (new TLS connection + EXTERNAL + unbind)", "logons/s"),
                            ("rebind", "Re-bind (SASL EXTERNAL on an open TLS connection)", "binds/s")):
        vals = {s: m(f"{fig}_rate", s) for s in SERVERS}
        r389, rpl = rr(f"{fig}_ratio_389ds"), rr(f"{fig}_ratio_plain")
        figs.append((name, unit, vals, r389, rpl, True))
        cpu = {s: m(f"{fig}_cpu_us", s) for s in SERVERS}
        figs.append((f"Server CPU per {'logon' if fig == 'logon' else 're-bind'}", "µs", cpu,
                     inv_ratio(cpu, "389ds"), inv_ratio(cpu, "plain"), False))
    vals = {s: m("del_rate", s) for s in SERVERS}
    figs.append(("Revocation throughput: delete of one stored certificate, one modify each",
                 "deletes/s", vals, fwd_ratio(vals, "389ds"), fwd_ratio(vals, "plain"), True))
    cpu = {s: m("del_cpu_us", s) for s in SERVERS}
    figs.append(("Server CPU per delete", "µs", cpu, inv_ratio(cpu, "389ds"),
                 inv_ratio(cpu, "plain"), False))
    d = {s: m("rv_delay_p50_ms", s) for s in SERVERS}
    figs.append(("Revocation to refusal: delete's result to the first refused new logon, p50",
                 "ms", d, inv_ratio(d, "389ds"), inv_ratio(d, "plain"), False))
    d = {s: m("rv_delay_p99_ms", s) for s in SERVERS}
    figs.append(("Revocation to refusal, p99", "ms", d, inv_ratio(d, "389ds"),
                 inv_ratio(d, "plain"), False))
    for key, name, unit in (("logon_instr", "Server instructions per logon (callgrind)", "instr."),
                            ("rebind_instr", "Server instructions per re-bind (callgrind)", "instr.")):
        v = {s: m(key, s) for s in SERVERS}
        if any(v.values()):
            figs.append((name, unit, v, inv_ratio(v, "389ds"), inv_ratio(v, "plain"), False))
    return figs


def peer_context(meas):
    """(name, unit, {server: value}) rows that are context, not goals."""
    def m(key, srv):
        v = meas.get((key, srv))
        return statistics.median(v) if v else None
    rows = [("Loading the users (slapadd -q; 389: dsctl ldif2db)", "s",
             {s: m("load", s) for s in SERVERS})]
    for key, when in (("rss_start", "after start"), ("rss_end", "at the end of the run")):
        rows.append((f"Resident memory (VmRSS) {when}", "MB",
                     {s: (m(key, s) / 1024 if m(key, s) else None) for s in SERVERS}))
    return rows


def fwd_ratio(v, other):
    a, b = v.get("certpin"), v.get(other)
    return (a / b, None, None, 1) if a and b else None


def inv_ratio(v, other):
    a, b = v.get("certpin"), v.get(other)
    return (b / a, None, None, 1) if a and b else None


def pfmt(x, unit):
    if x is None:
        return "—"
    if unit in ("ms",) or abs(x) < 100:
        return f"{x:.2f}"
    return f"{x:,.0f}"


def rfmt(r):
    if r is None:
        return "—"
    s = f"**{r[0]:.2f}**"
    if r[3] > 1:
        s += f" ({r[1]:.2f}–{r[2]:.2f}, {r[3]} rounds)"
    return s


def peer_one(outdir, path):
    meta, meas = peer_load(path)
    users = int(meta.get("users", "0"))
    L = [f"Peer run: {users:,} users, {meta.get('rounds')} rounds of {meta.get('secs')} s "
         f"(each server a third of each round); {meta.get('date')}, commit {meta.get('commit')}; "
         f"389-ds-base {meta.get('ds389')}"
         + ("; index_hash64 on (BENCH_HASH64)" if meta.get("hash64") else ""), "",
         f"Machine: {meta.get('machine')}; load average at the end "
         f"{meta.get('loadavg_end', '?')}", "",
         "| Figure | certpin | plain slapd | 389-DS | certpin vs 389-DS | certpin vs plain | goal | verdict |",
         "|---|---:|---:|---:|---:|---:|---|---|"]
    for name, unit, vals, r389, rpl, hib in peer_figures(meas):
        verdict = "n/a" if r389 is None else "meets" if r389[0] >= 1.0 else "misses"
        L.append(f"| {name} ({unit}) | " + " | ".join(pfmt(vals[s], unit) for s in SERVERS)
                 + f" | {rfmt(r389)} | {rfmt(rpl)} | ≥ 1.0 of 389-DS | {verdict} |")

    for name, unit, vals in peer_context(meas):
        L.append(f"| {name} ({unit}) | " + " | ".join(pfmt(vals[s], unit) for s in SERVERS)
                 + " | | | (context) | — |")

    def one(key, srv):
        v = meas.get((key, srv))
        return int(v[0]) if v else None
    for s, label in (("certpin", "certpin"), ("389ds", "389-DS")):
        t, ref, op = one("rv_trials", s), one("rv_refused", s), one("rv_open_refused", s)
        if t is not None:
            L.append(f"| Revocation trials, {label}: first new logon after the delete refused; "
                     f"re-bind on a connection bound before the delete refused | "
                     f"{ref} of {t}; open: {op} of {t} | | | | | every trial | "
                     f"{'meets' if ref == t else 'misses'} |")
    L.append("| Revocation trials, plain slapd | n/a: it checks nothing beyond the CA, "
             "a deleted certificate still logs on | | | | | | — |")
    L.append("")
    L.append("Ratios \"certpin vs X\" are oriented so that above 1 is better for certpin: "
             "rates certpin/X, CPU and delays X/certpin. Rates and the ratios of the first "
             "two figures: medians over the rounds of the per-group ratios (ABCCBA slices "
             "of 200 ms); deletes: chunks of 250 modifies alternating between the servers; "
             "CPU from /proc/PID/stat of each server over its own slices or chunks.")
    open(os.path.join(outdir, "peer.md"), "w").write("\n".join(L) + "\n")


def peer_growth(outdir, paths):
    runs = []
    for p in paths:
        meta, meas = peer_load(p)
        runs.append((int(meta.get("users", "0")), meta, peer_figures(meas)))
    runs.sort(key=lambda r: r[0])
    L = ["| Figure | users | certpin | plain slapd | 389-DS | certpin vs 389-DS | certpin vs plain |",
         "|---|---:|---:|---:|---:|---:|---:|"]
    names = []
    for users, meta, figs in runs:
        for f in figs:
            if f[0] not in names:
                names.append(f[0])
    for nm in names:
        for users, meta, figs in runs:
            got = [f for f in figs if f[0] == nm]
            if not got:
                continue
            name, unit, vals, r389, rpl, hib = got[0]
            L.append(f"| {name} ({unit}) | {users:,} | "
                     + " | ".join(pfmt(vals[s], unit) for s in SERVERS)
                     + f" | {rfmt(r389)} | {rfmt(rpl)} |")
    L.append("")
    for users, meta, figs in runs:
        L.append(f"- {users:,} users: {meta.get('date')}, commit {meta.get('commit')}, "
                 f"load average at start {meta.get('machine', '').rsplit('load average at start ', 1)[-1]}, "
                 f"at the end {meta.get('loadavg_end', '?')}")
    open(os.path.join(outdir, "growth.md"), "w").write("\n".join(L) + "\n")
    # chart: left, certpin/389-DS ratios; right, server CPU per operation
    dat = os.path.join(outdir, "growth.dat")
    keys = [(0, "logon rate"), (2, "re-bind rate"), (4, "delete rate"), (1, "CPU/logon"),
            (3, "CPU/re-bind"), (5, "CPU/delete"), (6, "revoke-to-refusal")]
    with open(dat, "w") as f:
        for users, meta, figs in runs:
            row = [str(users)]
            for i, _ in keys:
                r = figs[i][3]
                row.append(f"{r[0]:.4f}" if r else "NaN")
            for i in (1, 3, 5):
                for s in SERVERS:
                    v = figs[i][2][s]
                    row.append(f"{v:.2f}" if v else "NaN")
            f.write(" ".join(row) + "\n")
    png = os.path.join(outdir, "growth.png")
    ratio_plots = ", ".join(f'"{dat}" using 1:{2 + j} with linespoints lw 2 title "{t}"'
                            for j, (_, t) in enumerate(keys))
    cpu_plots = []
    col = 2 + len(keys)
    colors = {"certpin": "#1f5fa8", "plain": "#7f7f7f", "389ds": "#c0392b"}
    for op, pt in (("logon", 7), ("re-bind", 5), ("delete", 9)):
        for s in SERVERS:
            cpu_plots.append(f'"{dat}" using 1:{col} with linespoints pt {pt} ps 1.3 lw 2 '
                             f'lc rgb "{colors[s]}" title "{s} {op}"')
            col += 1
    gp = f"""
set terminal pngcairo size 1300,600 noenhanced font ",10"
set output "{png}"
set multiplot layout 1,2 title "certpin vs 389 Directory Server as the directory grows (x: users, log scale; this machine, one interleaved run per size)"
set logscale x
set xtics ({", ".join(f'"{u:,}" {u}' for u, _, _ in runs)})
unset xlabel
set grid
set key outside bottom center horizontal maxrows 3
set title "certpin relative to 389-DS (above 1: certpin better; dashed: goal 1.0)"
set yrange [0:*]
plot {ratio_plots}, 1 with lines dt 2 lc rgb "gray" notitle
set title "server CPU per operation (µs, log scale)"
set logscale y
set yrange [*:*]
set key outside bottom center horizontal maxrows 3
plot {", ".join(cpu_plots)}
unset multiplot
"""
    try:
        subprocess.run(["gnuplot"], input=gp, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"report.py: gnuplot failed: {e}", file=sys.stderr)
        sys.exit(1)


if len(sys.argv) > 1 and sys.argv[1] == "--peer":
    if len(sys.argv) == 4:
        peer_one(sys.argv[2], sys.argv[3])
    else:
        peer_growth(sys.argv[2], sys.argv[3:])
    sys.exit(0)

tsv, outdir, chart = sys.argv[1], sys.argv[2], sys.argv[3] == "yes"
meta, meas, na = {}, {}, {}
for line in open(tsv):
    f = line.rstrip("\n").split("\t")
    if len(f) != 5:
        continue
    typ, key, srv, rnd, val = f
    if typ == "meta":
        meta[key] = val
    elif typ == "na":
        na[key] = val
    elif typ == "m" and val != "":
        meas.setdefault((key, srv), []).append((rnd, val))


def vals(key, srv):
    out = []
    for _, v in meas.get((key, srv), []):
        try:
            out.append(float(v))
        except ValueError:
            pass
    return out


def med(key, srv):
    v = vals(key, srv)
    return statistics.median(v) if v else None


def round_ratios(key, inverse=False):
    """certpin/plain per round (plain/certpin when inverse: for times)."""
    p = {r: float(v) for r, v in meas.get((key, "plain"), [])}
    c = {r: float(v) for r, v in meas.get((key, "certpin"), [])}
    out = []
    for r in sorted(set(p) & set(c)):
        a, b = (p[r], c[r]) if inverse else (c[r], p[r])
        if b > 0:
            out.append(a / b)
    return out


def fmt(x, unit="", nd=1):
    if x is None:
        return "—"
    if abs(x) >= 1000:
        s = f"{x:,.0f}"
    else:
        s = f"{x:.{nd}f}"
    return s + (" " + unit if unit else "")


rows = []      # (figure, plain, certpin, ratio, target, verdict)
chartrows = []  # (label, ratio, lo, hi, target)


def ratio_row(fig, key, unit, target, label, inverse=False, higher_is_better=True,
              scale=1.0, nd=1, ratio_key=None):
    rr = vals(ratio_key, "certpin") if ratio_key else round_ratios(key, inverse)
    p, c = med(key, "plain"), med(key, "certpin")
    if not rr:
        reason = na.get(key, "not measured")
        rows.append((fig, "n/a", "n/a", f"n/a ({reason})", target[0], "n/a"))
        return
    r = statistics.median(rr)
    ok = r >= target[1] if higher_is_better else r <= target[1]
    rng = f" ({min(rr):.3f}–{max(rr):.3f}, {len(rr)} rounds)" if len(rr) > 1 else ""
    rows.append((fig, fmt(p * scale if p is not None else None, unit, nd),
                 fmt(c * scale if c is not None else None, unit, nd),
                 f"**{r:.3f}**{rng}", target[0], "meets" if ok else "misses"))
    chartrows.append((label, r, min(rr), max(rr), target[1]))


def abs_row(fig, key, unit, target, test, nd=1, agg=med):
    v = agg(key, "certpin") if callable(agg) else agg
    if v is None:
        reason = na.get(key, "not measured")
        rows.append((fig, "—", f"n/a ({reason})", "—", target, "n/a"))
        return
    rows.append((fig, "—", fmt(v, unit, nd), "—", target,
                 "—" if target == "reported" else "meets" if test(v) else "misses"))


users = int(meta.get("users", "0"))
ratio_row(f"1. SASL EXTERNAL re-bind on an open TLS connection, {meta.get('rebind_threads')} client threads",
          "rebind_rate", "binds/s", ("≥ 0.95", 0.95), "1 re-bind",
          ratio_key="rebind_ratio")
ratio_row(f"2. Full device logon (new TLS connection + EXTERNAL bind + unbind), {meta.get('logon_threads')} client threads",
          "logon_rate", "logons/s", ("≥ 0.98", 0.98), "2 logon",
          ratio_key="logon_ratio")

for key, what in (("aa_rebind_ratio", "1"), ("aa_logon_ratio", "2")):
    v = vals(key, "certpin")
    if v:
        m = statistics.median(v)
        rows.append((f"{what}a. Calibration (A/A): the same measurement between two plain "
                     f"servers, second/first", "—", "—",
                     f"{m:.3f} ({min(v):.3f}–{max(v):.3f}, {len(v)} rounds)",
                     "(noise floor)", "—"))
for key, what in (("rebind_instr", "1"), ("logon_instr", "2")):
    p, c = med(key, "plain"), med(key, "certpin")
    if p and c:
        r = p / c
        tgt = 0.95 if what == "1" else 0.98
        rows.append((f"{what}x. Same, exact: slapd instructions per "
                     f"{'re-bind' if what == '1' else 'logon'} (callgrind; ratio plain/certpin)",
                     f"{p:,.0f}", f"{c:,.0f}", f"**{r:.3f}**", f"≥ {tgt}",
                     "meets" if r >= tgt else "misses"))
        chartrows.append((f"{what}x {'re-bind' if what == '1' else 'logon'} instr.", r, r, r, tgt))

# 3. revocation to refusal
t, ref = med("revoke_trials", "certpin"), med("revoke_refused", "certpin")
if t is None:
    rows.append(("3a. Revocation to refusal, same server: first bind after the delete refused",
                 "—", f"n/a ({na.get('revoke_refused', 'not measured')})", "—",
                 "every trial", "n/a"))
else:
    rows.append(("3a. Revocation to refusal, same server: first bind after the delete refused",
                 "—", f"{int(ref or 0)} of {int(t)} trials", "—", "every trial",
                 "meets" if ref == t else "misses"))
p50, p99 = med("revoke2_p50", "certpin"), med("revoke2_p99", "certpin")
if p50 is None:
    rows.append(("3b. Revocation to refusal across two providers (p50 / p99)", "—",
                 f"n/a ({na.get('revoke2_p50', 'not measured')})", "—", "< 1 s", "n/a"))
else:
    n2, to = med("revoke2_trials", "certpin"), med("revoke2_timeouts", "certpin") or 0
    rows.append((f"3b. Revocation to refusal across two providers (p50 / p99, {int(n2)} trials"
                 + (f", {int(to)} never refused within 10 s" if to else "") + ")", "—",
                 f"{p50:.0f} ms / {p99:.0f} ms", "—", "< 1 s",
                 "meets" if p99 < 1000 and not to else "misses"))

ratio_row(f"4a. `certpin-get --all -o json` over all {users:,} users (same tool on both; "
          "time, ratio plain/certpin)", "getall", "s", ("< 60 s", 0.0), "4a get --all", inverse=True, nd=1)
g = med("getall", "certpin")
if g is not None:
    r = rows[-1]
    rows[-1] = r[:5] + ("meets" if g < 60 else "misses",)
k, sc, sp = med("revoke_users", "certpin"), med("revoke_secs", "certpin"), med("revoke_secs", "plain")
if k and sc:
    proj = users / (k / sc)
    left, want = med("revoke_left", "certpin"), med("revoke_expected_left", "certpin")
    tail = "" if left == want else f"; {int(left)} users still hold certificates, {int(want)} expected"
    label = (f"4b. `ldapsearch … dn \\| certpin-revoke` over {int(k):,} users"
             + ("" if k >= users else f", projected to all {users:,}") + tail)
    pl = f"{sp:.1f} s ({k / sp:,.0f} users/s)" if sp else "—"
    cl = f"{sc:.1f} s ({k / sc:,.0f} users/s)" + ("" if k >= users else f"; all: {proj:,.0f} s projected")
    p100k = 100000 / (k / sc)
    if users != 100000:
        cl += f"; 100,000 users: {p100k:,.0f} s projected"
    rows.append((label, pl, cl, f"**{sp / sc:.3f}**" if sp else "—",
                 "< 60 s for 100,000 users", "meets" if p100k < 60 else "misses"))
    if sp:
        chartrows.append(("4b revoke", sp / sc, sp / sc, sp / sc, None))
else:
    rows.append(("4b. `ldapsearch … dn \\| certpin-revoke` over the users", "—",
                 f"n/a ({na.get('revokeall', 'not measured')})", "—", "< 60 s", "n/a"))
abs_row("5a. Issuance through the provisioning operation, ECDSA P-256 CSR", "issue_ec",
        "certs/s", "≥ 1,000/s", lambda v: v >= 1000)
abs_row("5b. Issuance, RSA-2048 CSR", "issue_rsa", "certs/s", "reported", lambda v: True)

for key, when in (("rss_start", "after start"), ("rss_loaded", "after the load and a full read")):
    p, c = med(key, "plain"), med(key, "certpin")
    if p and c:
        r = c / p
        rows.append((f"6. slapd resident memory (VmRSS) {when}", fmt(p / 1024, "MB"),
                     fmt(c / 1024, "MB"), f"**{r:.3f}**", "≤ 1.05",
                     "meets" if r <= 1.05 else "misses"))
        chartrows.append(("6 RSS " + ("start" if key == "rss_start" else "loaded"),
                          r, r, r, 1.05))

for key, what in (("ctest_cert", "existing certificate (--cert/--key)"),
                  ("ctest_full", "full test: provisioning, logon, revocation")):
    v = vals(key, "certpin")
    vt = vals(key + "_tool", "certpin")
    if v:
        m = statistics.median(v)
        mt = statistics.median(vt) if vt else None
        rows.append((f"7. `certpin-test` latency, {what}: p50 of {len(v)} runs, as the tool "
                     "reports it (Latency) / wall clock of the whole command", "—",
                     (f"{mt:.1f} ms / " if mt is not None else "") + f"{m:.1f} ms",
                     "—", "< 50 ms",
                     "meets" if ( mt if mt is not None else m ) < 50 else "misses"))
    else:
        rows.append((f"7. `certpin-test` latency, {what}", "—",
                     f"n/a ({na.get(key, 'not measured')})", "—", "< 50 ms", "n/a"))

# context, not targets
ratio_row("Read every user entry (ldapsearch over ldapi; throughput ratio)", "readall", "s",
          ("(context)", 0.0), "read all", inverse=True, nd=2)
ratio_row("Latency p50 of a re-bind (ms; ratio plain/certpin)", "rebind_p50", "ms",
          ("(context)", 0.0), "", inverse=True, nd=3)
ratio_row("Latency p50 of a full logon (ms; ratio plain/certpin)", "logon_p50", "ms",
          ("(context)", 0.0), "", inverse=True, nd=2)
p, c = med("slapadd", "plain"), med("slapadd", "certpin")
if p and c:
    rows.append((f"slapadd of {users:,} users (s)", fmt(p, "s", 1), fmt(c, "s", 1),
                 f"{p / c:.3f}", "(context)", "—"))
for r in rows:
    if r[4] == "(context)":
        rows[rows.index(r)] = r[:5] + ("—",)
chartrows = [c for c in chartrows if c[0]]

lines = []
lines.append(f"certpin benchmark: {users:,} users, {meta.get('rounds')} alternating rounds "
             f"of {meta.get('secs')} s per server and figure; {meta.get('date')}, "
             f"commit {meta.get('commit')}")
lines.append("")
lines.append(f"Machine: {meta.get('machine')}")
lines.append("")
lines.append("| Figure | plain slapd | certpin | certpin/plain | target | verdict |")
lines.append("|---|---:|---:|---:|---|---|")
for r in rows:
    lines.append("| " + " | ".join(r) + " |")
lines.append("")
lines.append("Figures 1 and 2: in each round one load generator drives both servers, "
             "alternating 200 ms slices between them (ABBA order), so that the load of "
             "the shared machine falls on both alike; each group of 4 slices gives a "
             "ratio, a round's ratio is the median of its groups, and the table shows the "
             "median of the rounds (range and number of rounds in parentheses). Absolute "
             "numbers are medians over the rounds of each server's operations per second "
             "of its own slices. Other ratios: one measurement per server, back "
             "to back. Throughput ratios: higher is better for certpin; memory: lower is "
             "better.")
md = "\n".join(lines) + "\n"
open(os.path.join(outdir, "results.md"), "w").write(md)

if chart and chartrows:
    dat = os.path.join(outdir, "ratios.dat")
    with open(dat, "w") as f:
        for i, (label, r, lo, hi, tgt) in enumerate(chartrows):
            f.write(f'{i} "{label}" {r:.4f} {lo:.4f} {hi:.4f} {tgt if tgt else "NaN"}\n')
    png = os.path.join(outdir, "ratios.png")
    gp = f"""
set terminal pngcairo size 1000,560 noenhanced font ",10"
set xtics rotate by -30
set output "{png}"
set title "certpin relative to plain slapd, {users:,} users (throughput and instruction ratios: higher is better; RSS: lower is better)\\nmedian of rounds; whiskers: range of rounds; x: target"
set style fill solid 0.6 border -1
set boxwidth 0.6
set yrange [0:*]
set ytics 0.1
set grid ytics
set key off
set xrange [-0.6:{len(chartrows) - 0.4}]
plot "{dat}" using 1:3:xtic(2) with boxes lc rgb "#4a7ebb", \\
     "" using 1:3:4:5 with yerrorbars lc rgb "black" pt 0, \\
     "" using 1:6 with points pt 2 ps 2 lc rgb "red", \\
     1 with lines dt 2 lc rgb "gray"
"""
    try:
        subprocess.run(["gnuplot"], input=gp, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"report.py: gnuplot failed: {e}", file=sys.stderr)
        sys.exit(1)
