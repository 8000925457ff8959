"""`guanxi eval assistant [--mode offline|llm] [--limit N]`: routing, argument and fact accuracy
and latency of the assistant on the bilingual question set.

The cases come from `evals.make_questions.build_cases` (templates in ``questions.jsonl`` filled
from the workspace; expected facts recomputed with plain pandas). Each expected turn is scored:

- **routing**: the tool called equals the expected tool (or no tool for help / out-of-scope
  questions; a clarifying question where one is expected);
- **arguments** (over correctly routed turns): every expected argument equals the one passed
  (dates exactly, numbers numerically); ``arg_contains`` words appear in free-text arguments;
- **facts**: every expected fact is in the answer text — a name or label as a substring, a number
  as written (thousands separators, percentages and rounding understood);
- **latency**: wall time of ``Assistant.ask`` after one warm-up question (models loaded).
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from knowledge.errors import GuanxiError
from knowledge.workspace import Workspace

_NUM = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?%?")


def fact_ok(fact: dict, answer: str) -> bool:
    """Whether the answer states this expected fact."""
    if fact.get("label", "").startswith("unavailable"):
        return False
    texts = fact.get("texts") or []
    if texts:
        low = answer.lower()
        return any(str(t).lower() in low for t in texts if str(t))
    v = fact.get("value")
    if v is None:
        return True
    for tok in _NUM.findall(answer):
        pct = tok.endswith("%")
        s = tok.rstrip("%").replace(",", "")
        try:
            a = float(s)
        except ValueError:
            continue
        nd = len(s.split(".")[1]) if "." in s else 0
        tol = 0.51 * 10 ** (-nd) + 1e-6 * abs(v)
        target = v * 100 if (fact.get("pct") or pct) else v
        if fact.get("pct") and not pct:
            if abs(a - v) <= tol:  # a share written as 0.35
                return True
            continue
        if abs(a - target) <= tol:
            return True
    return False


def _same(expected, actual) -> bool:
    if expected is None:
        return actual is None
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        try:
            return abs(float(actual) - float(expected)) < 1e-9
        except (TypeError, ValueError):
            return False
    return str(expected).strip().lower() == str(actual).strip().lower()


def score_turn(expect: dict, out: dict) -> dict:
    calls = out.get("tool_calls") or []
    call = calls[-1] if calls else None
    tool = call["tool"] if call else None
    want = expect.get("tool")
    if expect.get("clarify"):
        routed = bool(out.get("needs_clarification")) and not calls
    else:
        routed = tool == want and not (want is None and out.get("needs_clarification"))
    args_ok = None
    if routed and want is not None and not expect.get("clarify"):
        got = call["args"] if call else {}
        args_ok = all(_same(v, got.get(k)) for k, v in (expect.get("args") or {}).items())
        for k, words in (expect.get("arg_contains") or {}).items():
            val = str(got.get(k) or "").lower()
            args_ok = args_ok and any(w.lower() in val for w in words)
    facts = expect.get("facts") or []
    facts_ok = None
    missing = []
    if facts:
        missing = [f.get("label") for f in facts if not fact_ok(f, out.get("answer") or "")]
        facts_ok = routed and not missing
    return {"routed": routed, "args_ok": args_ok, "facts_ok": facts_ok, "tool": tool, "missing": missing,
            "args": call["args"] if call else None}


def run(settings, cases: list[dict], mode: str = "offline", role: str = "manager", llm=None) -> dict:
    """Run the cases through one `Assistant` (reset between cases) and score every expected turn."""
    from assistant import Assistant
    if mode == "offline":
        settings = settings.with_(llm_backend="none")
    elif settings.llm_backend == "none" and llm is None:
        raise GuanxiError("--mode llm needs an LLM: set llm_backend (ollama or openai), llm_model and llm_base_url")
    a = Assistant(settings=settings, role=role, llm=llm, entry="eval", audit=False)  # test questions: not audited
    t0 = time.perf_counter()
    a.ask("C00001 的 RFM 分群是什么?")  # warm-up: embedding model, exemplar vectors, tables
    warm = time.perf_counter() - t0
    a.reset()
    rows, lat = [], []
    for case in cases:
        a.reset()
        for turn in case["turns"]:
            t = time.perf_counter()
            try:
                out = a.ask(turn["question"])
            except Exception as e:  # noqa: BLE001 - an eval reports failures, it does not stop at one
                out = {"answer": f"ERROR {type(e).__name__}: {e}", "tool_calls": [], "needs_clarification": False}
            lat.append(time.perf_counter() - t)
            if turn.get("expect") is None:
                continue
            s = score_turn(turn["expect"], out)
            rows.append({"id": case["id"], "lang": case.get("lang"), "question": turn["question"],
                         "expected_tool": turn["expect"].get("tool"), "expected_args": turn["expect"].get("args"),
                         "clarify": turn["expect"].get("clarify"), **s, "answer": (out.get("answer") or "")[:300]})
    return summarise(rows, lat, warm, mode)


def summarise(rows: list[dict], lat: list[float], warm: float, mode: str) -> dict:
    def rate(key, subset=None):
        vals = [r[key] for r in (subset or rows) if r[key] is not None]
        return (sum(vals) / len(vals) if vals else float("nan")), sum(vals), len(vals)
    lat_ms = np.array(lat) * 1000 if lat else np.array([np.nan])
    by_tool = {}
    for r in rows:
        k = r["expected_tool"] or ("clarify" if r.get("clarify") else "none")
        d = by_tool.setdefault(k, {"n": 0, "routed": 0})
        d["n"] += 1
        d["routed"] += int(r["routed"])
    by_lang = {lg: rate("routed", [r for r in rows if r["lang"] == lg]) for lg in ("zh", "en")}
    return {"mode": mode, "turns": len(rows), "routing": rate("routed"), "arguments": rate("args_ok"),
            "facts": rate("facts_ok"), "latency_ms": {"p50": float(np.percentile(lat_ms, 50)),
                                                     "p95": float(np.percentile(lat_ms, 95)),
                                                     "mean": float(lat_ms.mean())},
            "warmup_s": warm, "by_tool": by_tool, "by_lang": by_lang, "rows": rows}


def print_report(rep: dict, ws_root, n_cases: int, show: int = 25) -> None:
    f = lambda t: f"{t[0]:.1%} ({t[1]}/{t[2]})"  # noqa: E731
    print(f"assistant eval ({rep['mode']}) on {ws_root}: {n_cases} cases, {rep['turns']} scored turns "
          f"(zh routing {f(rep['by_lang']['zh'])}, en routing {f(rep['by_lang']['en'])})")
    print(f"  routing accuracy   {f(rep['routing'])}")
    print(f"  argument accuracy  {f(rep['arguments'])}   (over correctly routed turns)")
    print(f"  fact accuracy      {f(rep['facts'])}")
    lm = rep["latency_ms"]
    print(f"  latency            p50 {lm['p50']:.0f} ms · p95 {lm['p95']:.0f} ms · mean {lm['mean']:.0f} ms "
          f"(after a {rep['warmup_s']:.1f} s warm-up)")
    print("  routing by expected tool: " + ", ".join(f"{k} {v['routed']}/{v['n']}" for k, v in sorted(rep["by_tool"].items())))
    bad = [r for r in rep["rows"] if not r["routed"] or r["args_ok"] is False or r["facts_ok"] is False]
    if bad:
        print(f"  failures ({len(bad)}; first {min(show, len(bad))}):")
        for r in bad[:show]:
            what = ("route" if not r["routed"] else "args" if r["args_ok"] is False else "facts")
            detail = (f"expected {r['expected_tool']}, got {r['tool']}" if what == "route" else
                      f"expected {r['expected_args']}, got {r['args']}" if what == "args" else f"missing {r['missing']}")
            print(f"    [{what}] {r['id']}: {r['question']} — {detail}")


def main(settings, args) -> int:
    from evals.make_questions import build_cases
    ws = Workspace(settings.workspace).require_built()
    cases = build_cases(ws)
    limit = getattr(args, "limit", None)
    if limit:
        cases = cases[: int(limit)]
    mode = getattr(args, "mode", "offline") or "offline"
    rep = run(settings, cases, mode=mode)
    print_report(rep, ws.root, len(cases))
    held = Path(__file__).with_name("questions_heldout.jsonl")
    if held.is_file():
        from evals.make_questions import load_templates
        hcases = build_cases(ws, load_templates(held))
        if limit:
            hcases = hcases[: int(limit)]
        hrep = run(settings, hcases, mode=mode)
        r = hrep["routing"]
        print(f"  held-out routing   {r[0]:.1%} ({r[1]}/{r[2]})   ({held.name}: phrasings never used as exemplars)")
        for row in hrep["rows"]:
            if not row["routed"]:
                print(f"    [route] {row['question']} — expected {row['expected_tool']}, got {row['tool']}")
        rep["heldout"] = {k: hrep[k] for k in ("routing", "latency_ms", "rows")}
    out = ws.root / "evals"
    try:
        out.mkdir(exist_ok=True)
        path = out / f"assistant-{rep['mode']}.json"
        path.write_text(json.dumps(rep, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        print(f"  details: {path}")
    except OSError:
        pass
    return 0
