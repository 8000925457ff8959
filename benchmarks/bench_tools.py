"""Benchmark: every registered tool's answer time on a workspace of a given size.

Each tool in the registry is called through ``tools.registry.call_tool`` (as the assistant calls it,
role manager) with realistic arguments picked from the data (`ARGS`: a repeat customer, the largest
RFM segment, a best-selling product, a metric question …): one warm-up call (timed: "first"), then
``--repeat`` timed calls (p50, p95). Tools that write to the event log (campaigns, notes, sent
messages) write to the benchmark workspace's log. A tool that declines (no feedback index: the
complaint search and topics) is reported as declined, with its message.

    .venv/bin/python benchmarks/bench_tools.py --customers 100000 --lines 1000000 --before /tmp/before
    .venv/bin/python benchmarks/bench_tools.py --root /work/b10m --shadow /tmp/b10m-shadow   # a built workspace

The workspace is made once under --root (bench_engine's ``tables_ws`` + ``tools.precompute``,
then published). ``--before DIR`` measures another checkout (``git worktree add /tmp/before main``)
in a child process on the same workspace, so both columns come from one run; each checkout runs
in its own child (peak RSS = that checkout's). ``--shadow DIR``: a read-only built workspace is
used through DIR (symlinks to its tables and artefacts), so event writes and any missing analyses
go to DIR. ``--skip`` / ``--only``: tools left out / the only tools measured (comma-separated; in the
registry's order, so a tool reading the event log still sees the campaigns the tools before it wrote).
For the batch draft, each timed call is followed by a bare write of as many bytes as its file beside it
(not timed in the call): the disk's share of the call, from the same moment — once into new memory, and once
more right after that file is removed, into the pages it freed (on these VMs a page the guest has never
touched costs ~10x one it reuses).
Results: a markdown table on stdout and JSON in --out.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- arguments
def _picks(ws) -> dict:
    """Realistic values from the workspace: a repeat customer of the largest segment, a segment, an
    item with association rules, a complaint."""
    import pandas as pd
    rfm = ws.artefact("rfm")
    seg = rfm["segment"].value_counts().index[0]
    repeat = rfm[(rfm["segment"] == seg) & (rfm["frequency"] >= 2)]
    cid = str((repeat if len(repeat) else rfm).sort_values("customer_id").iloc[len(repeat) // 2]["customer_id"])
    rules = ws.artefact("rules_product")
    item = (str(rules.sort_values("lift", ascending=False).iloc[0]["antecedents"][0])
            if isinstance(rules, pd.DataFrame) and len(rules) else str(ws.table("products")["name"].iloc[0]))
    fb = ws.table("feedback")
    comp = fb[fb["kind"] == "complaint"] if "kind" in fb.columns else fb
    fid = str(comp["feedback_id"].iloc[len(comp) // 2])
    text = str(comp["text"].iloc[len(comp) // 2])[:60]
    prov = str(ws.table("customers")["province"].dropna().iloc[0])
    return {"cid": cid, "segment": str(seg), "item": item, "feedback_id": fid, "text": text, "province": prov}


#: tool name → its benchmark arguments from the picks (every registered tool must have one)
ARGS = {
    "customer_profile": lambda p: {"customer_id": p["cid"]},
    "rfm_lookup": lambda p: {"customer_id": p["cid"]},
    "segment_summary": lambda p: {},
    "segment_members": lambda p: {"segment": p["segment"], "top": 20},
    "cluster_lookup": lambda p: {"customer_id": p["cid"]},
    "churn_risk": lambda p: {"customer_id": p["cid"]},
    "at_risk_customers": lambda p: {"top": 20},
    "clv_estimate": lambda p: {"customer_id": p["cid"]},
    "bought_together": lambda p: {"item": p["item"]},
    "recommend_products": lambda p: {"customer_id": p["cid"]},
    "query_metrics": lambda p: dict(METRIC_QUESTIONS[0]),
    "similar_complaints": lambda p: {"text": p["text"]},
    "complaint_topics": lambda p: {},
    "care_calendar": lambda p: {"days": 7},
    "draft_care_message": lambda p: {"customer_id": p["cid"], "occasion": "recommendation"},
    "draft_care_batch": lambda p: {"segment": "Champions", "occasion": "vip_thanks"},
    "campaign_effect": lambda p: {},
    "create_campaign": lambda p: {"target": "auto", "segment": p["segment"], "top": 50},
    "compare_campaigns": lambda p: {},
    "list_campaigns": lambda p: {},
    "show_campaign": lambda p: {},
    "update_complaint": lambda p: {"feedback_id": p["feedback_id"], "status": "in_progress"},
    "add_customer_note": lambda p: {"customer_id": p["cid"], "text": "prefers calls after 6pm"},
    "mark_message_sent": lambda p: {"customer_id": p["cid"], "occasion": "regular"},
    "contact_history": lambda p: {"mode": "not_contacted", "days": 90},
}
#: more metric questions (query_metrics is timed on each; the tool's row is their pooled times)
METRIC_QUESTIONS = (
    {"metric": "sales", "by": "province"},
    {"metric": "repurchase_rate", "by": "month"},
    {"metric": "aov", "segment": "Champions"},
    {"metric": "sales", "compare": "previous_period", "explain_by": ["category"]},
    {"metric": "customers", "by": "city", "top": 10},
)


def _ms(xs: list[float]) -> float:
    return round(1000 * xs[0], 1)


def _p(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return round(1000 * s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))], 1)


# --------------------------------------------------------------------------- the child
def _hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _write_baseline(answer) -> tuple[int, float, float] | None:
    """(bytes, seconds, seconds again) of writing the batch file's size by a bare loop of 45 MB writes beside
    it, then once more after removing that (into the pages it freed): what the disk alone costs the call, in
    the same process and the same moment."""
    path = Path(answer.get("path") or "") if isinstance(answer, dict) else None
    if not path or not path.is_file():
        return None
    size, block = path.stat().st_size, memoryview(b"\0" * (45 << 20))
    bare, took = path.with_name("bare-write.bin"), []
    for _ in range(2):
        t0 = time.perf_counter()
        with open(bare, "wb") as f:
            for start in range(0, size, len(block)):
                f.write(block[: min(len(block), size - start)])
        took.append(time.perf_counter() - t0)
        bare.unlink()
    return size, took[0], took[1]


def run_child(root: Path, repeat: int, out: Path) -> None:
    """In the child (this checkout on PYTHONPATH): every tool, timed; JSON to ``out``."""
    import duckdb  # noqa: F401  (libraries imported before the measurement starts)
    import pandas as pd  # noqa: F401
    from knowledge.settings import Settings
    from tools.context import ToolContext, workspace_for
    from tools.registry import call_tool, tool_names
    settings = Settings.load(env={}, config_file=root / "none.toml", workspace=root)
    ctx = ToolContext(settings, role="manager")
    picks = _picks(workspace_for(root))
    results: dict = {}
    skip = set(filter(None, os.environ.get("BENCH_TOOLS_SKIP", "").split(",")))
    only = set(filter(None, os.environ.get("BENCH_TOOLS_ONLY", "").split(",")))
    for name in tool_names():
        if name in skip or (only and name not in only):
            results[name] = {"skipped": "--skip"}
            continue
        if name not in ARGS:
            results[name] = {"error": "no benchmark arguments"}
            continue
        questions = ([dict(q) for q in METRIC_QUESTIONS] if name == "query_metrics" else [ARGS[name](picks)])
        first, times, declined, disk = [], [], None, []
        for args in questions:
            try:
                t0 = time.perf_counter()
                call_tool(name, args, ctx=ctx)
                first.append(time.perf_counter() - t0)
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    got = call_tool(name, args, ctx=ctx)
                    times.append(time.perf_counter() - t0)
                    if name == "draft_care_batch":
                        disk.append(_write_baseline(got))
            except Exception as e:  # noqa: BLE001 - a tool that declines is reported, not fatal
                declined = f"{type(e).__name__}: {str(e)[:160]}"
                break
        if declined and not times:
            results[name] = {"declined": declined}
        else:
            results[name] = {"first_ms": round(1000 * max(first), 1), "p50_ms": _p(times, 0.5),
                             "p95_ms": _p(times, 0.95), "calls": len(times)}
            if [d for d in disk if d]:   # the disk's share: the same bytes written by a bare loop, same folder
                sizes = [d[0] for d in disk if d]
                results[name].update({"file_mb": round(max(sizes) / 2**20, 1),
                                      "bare_write_p50_ms": _p([d[1] for d in disk if d], 0.5),
                                      "bare_write_p95_ms": _p([d[1] for d in disk if d], 0.95),
                                      "bare_rewrite_p50_ms": _p([d[2] for d in disk if d], 0.5),
                                      "bare_rewrite_p95_ms": _p([d[2] for d in disk if d], 0.95)})
        print(json.dumps({name: results[name]}, ensure_ascii=False), file=sys.stderr, flush=True)
    out.write_text(json.dumps({"tools": results, "peak_mb": round(_hwm_mb()), "picks": picks},
                              ensure_ascii=False, indent=1))


def child(root: Path, repeat: int, code: Path, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    r = subprocess.run([sys.executable, __file__, "--root", str(root), "--repeat", str(repeat), "--child", str(out)],
                       capture_output=True, text=True, env=env, cwd=code)
    if r.returncode:
        sys.exit(f"tools on {code} failed:\n{r.stderr[-3000:]}")
    return json.loads(out.read_text())


# --------------------------------------------------------------------------- the workspace
def shadow_of(built: Path, shadow: Path) -> Path:
    """A workspace folder at ``shadow`` serving ``built``'s current build through symlinks (tables
    and artefact files), so that writes (event log, exports, missing artefacts) stay out of ``built``."""
    from knowledge.workspace import read_current
    info = read_current(built)
    if not info:
        sys.exit(f"{built} has no published build (current.json)")
    gen = info["generation"]
    src, dst = built / "builds" / gen, shadow / "builds" / gen
    (dst / "artefacts").mkdir(parents=True, exist_ok=True)
    for name in ("tables", "quarantine", "quality_report.json", "build.json"):
        if (src / name).exists() and not (dst / name).exists():
            (dst / name).symlink_to(src / name)
    for f in (src / "artefacts").iterdir():   # json files are copied: meta.json may be rewritten here
        if not (dst / "artefacts" / f.name).exists():
            if f.suffix == ".json":
                shutil.copyfile(f, dst / "artefacts" / f.name)
            else:
                (dst / "artefacts" / f.name).symlink_to(f)
    (shadow / "current.json").write_text(json.dumps(info))
    return shadow


def ensure_workspace(root: Path, customers: int, lines: int) -> None:
    """Tables, analyses and a published build at ``root`` (each made once)."""
    sys.path.insert(0, str(HERE / "benchmarks"))
    sys.path.insert(0, str(HERE))
    from knowledge.settings import Settings
    from knowledge.workspace import Workspace, read_current
    if read_current(root):
        return
    from bench_engine import tables_ws
    from tools.precompute import precompute
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ws = tables_ws(root, customers, lines)
    if not ws.artefact_path("meta", ".json").is_file():
        precompute(ws, Settings.load(env={}, config_file=root / "none.toml", workspace=root), log=print)
    ws.publish()
    print(f"workspace ready in {time.perf_counter() - t0:.0f} s", flush=True)


def log_sent_campaign(root: Path) -> None:
    """A win-back campaign marked sent 60 days before the as-of date (2,000 at-risk customers, half
    held out) in the workspace's event log, once: what campaign_effect and compare_campaigns measure."""
    marker = root / "bench-campaign.json"
    if marker.is_file():
        return
    import pandas as pd
    from knowledge.events import EventLog
    from knowledge.workspace import Workspace
    ws = Workspace(root)
    churn = ws.artefact("churn").sort_values(["churn_probability", "customer_id"], ascending=[False, True])
    ids = churn["customer_id"].astype(str).head(2000).tolist()
    treated, control = ids[0::2], ids[1::2]
    sent = (ws.as_of() - pd.Timedelta(days=60)).strftime("%Y-%m-%d")
    cid = f"cmp-{sent.replace('-', '')}-bench"
    log = EventLog.of(ws)
    log.append("campaign_created", "bench", cid, {"name": "bench win-back", "occasion": "winback", "channel": "sms",
                                                  "target": {"kind": "at_risk", "spec": {}}, "treated": treated,
                                                  "control": control, "as_of": sent, "segment_of": {},
                                                  "holdout_share": 0.5}, at=f"{sent} 08:00:00")
    log.append_many([("campaign_sent", "bench", cid, {"sent_at": sent, "customers": treated})]
                    + [("contact", "bench", c, {"campaign_id": cid, "channel": "sms", "occasion": "winback",
                                                "marketing": True, "sent_at": sent}) for c in treated],
                    at=f"{sent} 09:00:00")
    marker.write_text(json.dumps({"campaign": cid, "sent_at": sent}))


def reset_events(root: Path) -> None:
    """The event log as it was after `log_sent_campaign` (kept beside it), so that every checkout starts
    from the same log, however many campaigns an earlier run created."""
    log, snap = root / "events.sqlite", root / "bench-events.sqlite"
    for tail in ("-wal", "-shm"):
        Path(str(log) + tail).unlink(missing_ok=True)
    if snap.is_file():
        shutil.copyfile(snap, log)
    elif log.is_file():
        shutil.copyfile(log, snap)


def fill_analyses(root: Path, code: Path) -> None:
    """Analyses a checkout's precompute has and the workspace lacks (``tools.precompute.fill_missing``,
    where the checkout has it), written before that checkout is measured."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    script = ("import sys; from pathlib import Path; from knowledge.settings import Settings; "
              "from knowledge.workspace import Workspace; import tools.precompute as p; r = Path(sys.argv[1]); "
              "f = getattr(p, 'fill_missing', None); "
              "print(f(Workspace(r), Settings.load(env={}, config_file=r / 'none.toml', workspace=r)) if f else [])")
    r = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True, env=env, cwd=code)
    if r.returncode:
        sys.exit(f"filling the analyses of {code} failed:\n{r.stderr[-3000:]}")
    if r.stdout.strip() not in ("[]", ""):
        print(f"analyses added for {code}: {r.stdout.strip()}", flush=True)


# --------------------------------------------------------------------------- report
def table(runs: dict[str, dict]) -> str:
    labels = list(runs)
    head = "| tool | " + " | ".join(f"{lb} first | {lb} p50 | {lb} p95" for lb in labels) + " |"
    out = [head, "|---|" + "---:|" * (3 * len(labels))]
    names = list(dict.fromkeys(n for r in runs.values() for n in r["tools"]))
    for n in names:
        cells = []
        for lb in labels:
            r = runs[lb]["tools"].get(n) or {"declined": "not registered"}
            if "p95_ms" in r:
                cells += [f"{r['first_ms']:,.0f}", f"{r['p50_ms']:,.0f}", f"{r['p95_ms']:,.0f}"]
            else:
                cells += ["declined" if "declined" in r else ("skipped" if "skipped" in r else "—"), "", ""]
        out.append(f"| `{n}` | " + " | ".join(cells) + " |")
    out.append("| peak RSS MB | " + " | ".join(f"{runs[lb]['peak_mb']:,} | | " for lb in labels) + " |")
    for lb in labels:
        r = runs[lb]["tools"].get("draft_care_batch") or {}
        if "bare_write_p50_ms" in r:
            out.append(f"\n{lb}: the batch file is {r['file_mb']:,} MB; a bare "
                       f"write of as many bytes beside it took p50 {r['bare_write_p50_ms']:,.0f} ms, p95 "
                       f"{r['bare_write_p95_ms']:,.0f} ms; again into the pages it freed: p50 "
                       f"{r.get('bare_rewrite_p50_ms', 0):,.0f} ms, p95 {r.get('bare_rewrite_p95_ms', 0):,.0f} ms")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=5_000)
    p.add_argument("--lines", type=int, default=100_000)
    p.add_argument("--root", type=Path, default=None, help="workspace folder (made once; reused)")
    p.add_argument("--shadow", type=Path, default=None, help="use --root read-only through this folder")
    p.add_argument("--before", type=Path, default=None, help="another checkout measured too (today's figures)")
    p.add_argument("--repeat", type=int, default=10, help="timed calls per tool after the warm-up")
    p.add_argument("--out", type=Path, default=None, help="JSON results (default ROOT/bench-tools.json)")
    p.add_argument("--skip", default="", help="comma-separated tools not measured (e.g. draft_care_batch at 10M)")
    p.add_argument("--only", default="", help="comma-separated tools measured alone (the others are skipped)")
    p.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.skip:
        os.environ["BENCH_TOOLS_SKIP"] = a.skip
    if a.only:
        os.environ["BENCH_TOOLS_ONLY"] = a.only
    root = a.root or Path(f"/tmp/guanxi-bench-tools-{a.lines}")
    if a.child:
        run_child(root, a.repeat, a.child)
        return
    if a.shadow:
        root = shadow_of(root, a.shadow)
    else:
        ensure_workspace(root, a.customers, a.lines)
    log_sent_campaign(root)
    import pyarrow.parquet as pq
    sys.path.insert(0, str(HERE))
    from knowledge.workspace import Workspace
    ws = Workspace(root)
    n_lines, n_cust = (pq.read_metadata(ws.table_path(t)).num_rows for t in ("orders", "customers"))
    print(f"{n_lines:,} order lines, {n_cust:,} customers; {a.repeat} timed calls per tool after one warm-up "
          f"(query_metrics: {len(METRIC_QUESTIONS)} questions pooled); role manager", flush=True)
    runs: dict[str, dict] = {}
    for label, code in (("before", a.before), ("after", HERE)):
        if code is None:
            continue
        code = Path(code).resolve()
        fill_analyses(root, code)
        reset_events(root)
        runs[label] = child(root, a.repeat, code, root / f"bench-tools-{label}.json")
        print(f"{label}: done (peak {runs[label]['peak_mb']:,} MB)", flush=True)
    md = table(runs)
    print(md)
    out = a.out or root / "bench-tools.json"
    out.write_text(json.dumps({"lines": n_lines, "customers": n_cust, "repeat": a.repeat, "runs": runs,
                               "markdown": md}, ensure_ascii=False, indent=1))
    print(f"JSON: {out}")


if __name__ == "__main__":
    main()
