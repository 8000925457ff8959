"""`guanxi eval assistant [--mode offline|llm] [--limit N]`: routing, argument and fact accuracy
and latency of the assistant on the bilingual question set.

The cases come from `evals.make_questions.build_cases` (templates in ``questions.jsonl`` filled
from the workspace; expected facts recomputed with plain pandas). Each expected turn is scored:

- **routing**: the tool called equals the expected tool (or no tool for help / out-of-scope
  questions; a clarifying question where one is expected);
- **arguments** (over correctly routed turns): every expected argument equals the one passed
  (dates exactly, numbers numerically); ``arg_contains`` words appear in free-text arguments and
  ``arg_lacks`` words do not;
- **facts**: every expected fact is in the answer text — a name or label as a substring (ahead of
  other labels where the fact says ``before``: a ranking's #1), a number as written (thousands
  separators, percentages and rounding understood);
- **latency**: wall time of ``Assistant.ask`` after one warm-up question (models loaded);
- **outcome** of each turn, worst last: *correct* (right tool, arguments and facts), *partial*
  (right tool and no wrong metric / period / filter, but a breakdown, comparison or fact is
  missing), *clarified* (a clarifying question), *declined* (no tool, a tool error, or a "can't"
  answer) and **WRONG CONFIDENT**: a tool answered, but the wrong tool, a wrong metric, period,
  customer or filter (an expected filter dropped or an unasked one added; a condition the tool
  cannot apply dropped without the answer saying so), a *critical* fact missing (another group
  crowned #1 of a ranking), or a should-decline question got an answer. A condition the answer
  says it did not apply (``unapplied``) makes the turn partial.

After the main set (its report unchanged) and the held-out routing set, ``guanxi eval assistant``
runs the sets in ``evals.make_questions.SETS`` — ``questions_semantic.jsonl`` and
``questions_decline.jsonl`` — and reports each per language with its outcome counts and the
wrong-confident turns. ``python -m evals.assistant --workspace DIR [--sets semantic,decline]``
runs only those sets (``--out FILE`` writes the rows as JSON).
"""
from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np

from knowledge.errors import GuanxiError
from knowledge.workspace import Workspace

_NUM = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?%?")


def _script_ok(lang: str, answer: str) -> bool:
    """Whether the answer is written in ``lang`` ("en" / "zh"), judged on its sentences: list items
    (data labels such as 广东省 stay as they are) and the provenance line are left out."""
    lines = [ln for ln in answer.splitlines() if ln.strip() and not re.match(r"\s*([-•*]|来源|Source)", ln)]
    text = " ".join(lines)
    cjk = len(re.findall(r"[\u4e00-\u9fff]", text))
    words = len(re.findall(r"[A-Za-z]{2,}", text))
    if lang == "en":
        return words >= 3 and 2 * words >= cjk
    return cjk >= 3 and cjk >= words


def _number_ok(v: float, answer: str, pct: bool = False, absolute: bool = False) -> bool:
    for tok in _NUM.findall(answer):
        tpct = tok.endswith("%")
        s = tok.rstrip("%").replace(",", "")
        try:
            a = float(s)
        except ValueError:
            continue
        nd = len(s.split(".")[1]) if "." in s else 0
        tol = 0.51 * 10 ** (-nd) + 1e-6 * abs(v)
        target = v * 100 if (pct or tpct) else v
        if absolute:  # a change: its size (−11.0% and "down 11.0%" alike; points without the % sign)
            a, target = abs(a), abs(target)
            if pct and not tpct and abs(a - abs(v) * 100) <= tol:
                return True
        if pct and not tpct:
            if nd and abs(a - (abs(v) if absolute else v)) <= tol:  # a share written as 0.35 (not the 0 of "0-34")
                return True
            continue
        if abs(a - target) <= tol:
            return True
    return False


def fact_ok(fact: dict, answer: str) -> bool:
    """Whether the answer states this expected fact."""
    if fact.get("label", "").startswith("unavailable"):
        return False
    if fact.get("script"):
        return _script_ok(fact["script"], answer)
    texts = fact.get("texts") or []
    if fact.get("absent"):
        low = answer.lower()
        return not any(str(t).lower() in low for t in texts if str(t))
    if texts:
        low = answer.lower()
        at = [low.find(str(t).lower()) for t in texts if str(t) and str(t).lower() in low]
        if not at:
            return False
        later = [low.find(str(t).lower()) for t in fact.get("before") or () if str(t) and str(t).lower() in low]
        return not later or min(at) < min(later)  # "before": named ahead of these (a ranking's #1)
    alts = list(fact.get("values") or [])
    v = fact.get("value")
    if v is None and not alts:
        return True
    if v is not None:
        alts.insert(0, v)
    return any(_number_ok(float(x), answer, bool(fact.get("pct")), bool(fact.get("absolute"))) for x in alts)


def _same(expected, actual) -> bool:
    if expected is None:
        return actual is None
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        try:
            return abs(float(actual) - float(expected)) < 1e-9
        except (TypeError, ValueError):
            return False
    return str(expected).strip().lower() == str(actual).strip().lower()


def _canonical(tool: str | None) -> str | None:
    """A tool's current name (question sets written before a rename say "kpi" for query_metrics)."""
    from tools.spec import RENAMED
    return RENAMED.get(tool, tool) if tool else tool


def score_turn(expect: dict, out: dict) -> dict:
    calls = out.get("tool_calls") or []
    call = calls[-1] if calls else None
    tool = call["tool"] if call else None
    want = _canonical(expect.get("tool"))
    if expect.get("clarify"):
        routed = bool(out.get("needs_clarification")) and not calls
    elif expect.get("decline"):  # no tool, or the tool whose decline is right
        routed = tool is None or tool == want
    elif expect.get("rerender") and not calls:  # the previous answer shown again
        routed = True
    else:
        routed = (tool == want or tool in [_canonical(t) for t in expect.get("tools") or ()]) and \
            not (want is None and out.get("needs_clarification"))
    args_ok = None
    if routed and want is not None and not expect.get("clarify") and not expect.get("decline") and call:
        got = call["args"] if call else {}
        args_ok = all(_same(v, got.get(k)) for k, v in (expect.get("args") or {}).items())
        for k, words in (expect.get("arg_contains") or {}).items():
            val = str(got.get(k) or "").lower()
            args_ok = args_ok and any(w.lower() in val for w in words)
        for k, words in (expect.get("arg_lacks") or {}).items():
            val = str(got.get(k) or "").lower()
            args_ok = args_ok and not any(w.lower() in val for w in words)
    facts = expect.get("facts") or []
    facts_ok = None
    missing = []
    if facts:
        missing = [f.get("label") for f in facts if not fact_ok(f, out.get("answer") or "")]
        facts_ok = routed and not missing
    return {"routed": routed, "args_ok": args_ok, "facts_ok": facts_ok, "tool": tool, "missing": missing,
            "args": call["args"] if call else None}


# ------------------------------------------------------------------ outcome of a turn
OUTCOMES = ("correct", "partial", "clarified", "declined", "wrong_confident")
KEY_ARGS = ("metric", "date_from", "date_to", "customer_id", "bought_from", "bought_to", "not_bought", "ordered_from",
            "ordered_to")
FILTER_ARGS = ("province", "city", "gender", "age_band", "channel", "segment", "order_channel", "category", "product",
               "bought_product", "bought_category")
_DECLINE = re.compile(
    r"无法|不能|没有.{0,10}(数据|字段|信息|记录|这(个|位|项)|该)|不支持|暂不支持|找不到|未找到|不存在|查无|没有这|抱歉|"
    r"can't|cannot|can not|unable|not available|no data|no such|not found|don't have|do not have|doesn't have|"
    r"does not have|not supported|isn't supported|is not supported|unknown (metric|customer)|no customer", re.I)
# an answer saying a condition of the question was not applied
_NOT_APPLIED = re.compile(r"未按|没有按|没按|无法按|不能按|未能按|未应用|未筛选|没有筛选|not (filtered|applied)|"
                          r"(couldn't|could not|can't|cannot|did not|didn't) (filter|apply)|ignored", re.I)
_GENDER_WORDS = {"F": ("f", "female", "女", "女性", "women"), "M": ("m", "male", "男", "男性", "men")}


def _aliases(key: str, val) -> list[str]:
    from evals.make_questions import SEG_ZH
    v = str(val)
    out = [v]
    if key == "gender":
        out += _GENDER_WORDS.get(v.upper(), ())
    if key == "segment":
        out += [SEG_ZH.get(v, "")] + [en for en, zh in SEG_ZH.items() if zh == v]
    if key in ("city", "province") and len(v) > 2 and v[-1] in "省市":
        out.append(v[:-1])
    return [x for x in out if x]


def _carries(args: dict, key: str, val) -> bool:
    """Whether some argument of the call carries this filter value (under whatever name)."""
    names = [a.lower() for a in _aliases(key, val)]
    for k, got in (args or {}).items():
        if k in ("metric", "by", "date_from", "date_to", "top", "compare") or got in (None, ""):
            continue
        for g in (got if isinstance(got, (list, tuple)) else [got]):
            g = str(g).strip().lower()
            if g and any(g == n or (len(n) >= 2 and n in g) or (len(g) >= 2 and g in n) for n in names):
                return True
    return False


def _wrong_args(expect: dict, args: dict, tool: str | None = None) -> list[str]:
    """Why the arguments answer another question: a wrong metric, period, customer or filter."""
    same = _same
    args = args or {}
    want = expect.get("args") or {}
    why = []
    for k in (*KEY_ARGS, *FILTER_ARGS):
        if k in want and not same(want[k], args.get(k)):
            why.append(f"{k} {args.get(k)!r} (expected {want[k]!r})")
    alts = expect.get("one_of") or []
    if alts and not any(all(same(v, args.get(k)) for k, v in alt.items()) for alt in alts):
        why.append("none of " + " / ".join(json.dumps(a, ensure_ascii=False) for a in alts))
    for k in expect.get("absent") or ():
        if args.get(k) not in (None, ""):
            why.append(f"unasked {k} {args[k]!r}")
    judge = expect.get("judge") or {}
    for k, v in judge.items():
        if k not in want and not any(k in a for a in alts) and not _carries(args, k, v):
            why.append(f"no {k} filter {v!r}")
    allowed = set(want) | {k for a in alts for k in a}
    if _canonical(tool) != "query_metrics" or not want:  # unasked filters: judged on the metric tool, where expected args are given
        return why
    for k in FILTER_ARGS:
        if args.get(k) not in (None, "") and k not in allowed and \
                not any(_carries({k: args[k]}, jk, jv) for jk, jv in judge.items()):
            why.append(f"unasked filter {k}={args[k]!r}")
    return why


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _numbers(answer: str, question: str) -> list[str]:
    """Numbers in the answer (dates left out) that the question did not contain."""
    asked = set(_NUM.findall(_DATE.sub(" ", question or "")))
    return [t for t in _NUM.findall(_DATE.sub(" ", answer or "")) if t not in asked]


def outcome(expect: dict, out: dict, s: dict, question: str = "") -> tuple[str, str]:
    """(outcome, why) of one turn; see the module docstring."""
    calls = out.get("tool_calls") or []
    call = calls[-1] if calls else None
    res = (call or {}).get("result") or {}
    answered = call is not None and "error" not in res and not res.get("declined")
    answer = out.get("answer") or ""
    if not answered:
        if expect.get("rerender") and call is None and s.get("facts_ok"):
            return "correct", ""
        if out.get("needs_clarification"):
            return ("correct" if expect.get("clarify") else "clarified"), ""
        if expect.get("clarify"):
            return "declined", "expected a clarifying question"
        if call is None and expect.get("tool") is None and not expect.get("decline"):
            return "correct", ""  # out of scope, and no tool: what was expected
        return "declined", (f"{call['tool']}: {str(res.get('error'))[:80]}" if call else "no tool")
    nums = _numbers(answer, question)
    if expect.get("decline"):
        if _DECLINE.search(answer) and not nums:
            return "declined", f"{call['tool']} said it cannot"
        return "wrong_confident", f"{call['tool']} answered a should-decline question" + \
            (f" with numbers ({', '.join(nums[:3])})" if nums else "")
    if expect.get("clarify"):
        return "wrong_confident", f"answered with {call['tool']} instead of asking"
    if not s.get("routed"):
        return "wrong_confident", f"wrong tool {call['tool']} (expected {expect.get('tool')})"
    why = _wrong_args(expect, call.get("args"), call.get("tool"))
    said = []   # conditions the tool did not take and the answer says so
    for k, v in (expect.get("unapplied") or {}).items():
        if _carries(call.get("args"), k, v):
            continue
        if _NOT_APPLIED.search(answer) and any(a.lower() in answer.lower() for a in _aliases(k, v) if len(a) > 1):
            said.append(f"said {k} {v!r} was not applied")
        else:
            why.append(f"{k} {v!r} silently not applied")
    crowned = [f.get("label") for f in expect.get("facts") or () if f.get("critical") and not fact_ok(f, answer)]
    if crowned:
        why.append(f"wrong answer: missing {crowned}")
    if why:
        return "wrong_confident", "; ".join(why)
    if said:
        return "partial", "; ".join(said)
    if s.get("args_ok") is False or s.get("facts_ok") is False:
        what = []
        if s.get("args_ok") is False:
            want = expect.get("args") or {}
            got = call.get("args") or {}
            what += [f"{k} {got.get(k)!r} (expected {v!r})" for k, v in want.items() if not _same(v, got.get(k))]
            what += [f"{k} {got.get(k)!r} (expected one of {w})" for k, w in (expect.get("arg_contains") or {}).items()
                     if not any(x.lower() in str(got.get(k) or "").lower() for x in w)]
            what += [f"{k} {got.get(k)!r} (has {x!r})" for k, w in (expect.get("arg_lacks") or {}).items()
                     for x in w if x.lower() in str(got.get(k) or "").lower()]
        if s.get("facts_ok") is False:
            what.append(f"missing {s.get('missing')}")
        return "partial", "; ".join(what)
    return "correct", ""


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
            oc, why = outcome(turn["expect"], out, s, turn["question"])
            rows.append({"id": case["id"], "lang": case.get("lang"), "question": turn["question"],
                         "expected_tool": turn["expect"].get("tool"), "expected_args": turn["expect"].get("args"),
                         "clarify": turn["expect"].get("clarify"), **s, "outcome": oc, "why": why,
                         "answer": (out.get("answer") or "")[:300]})
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
            "warmup_s": warm, "by_tool": by_tool, "by_lang": by_lang,
            "outcomes": outcome_counts(rows),
            "outcomes_by_lang": {lg: outcome_counts([r for r in rows if r["lang"] == lg]) for lg in ("zh", "en")},
            "rows": rows}


def outcome_counts(rows: list[dict]) -> dict:
    c = Counter(r.get("outcome") for r in rows)
    return {k: c.get(k, 0) for k in OUTCOMES}


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
        rep["heldout"] = {k: hrep[k] for k in ("routing", "latency_ms", "outcomes", "rows")}
    print_outcome_line("main set", rep)
    if "heldout" in rep:
        print_outcome_line("held-out", rep["heldout"])
    rep["sets"] = run_sets(settings, ws, None, mode=mode, limit=limit)
    out = ws.root / "evals"
    try:
        out.mkdir(exist_ok=True)
        path = out / f"assistant-{rep['mode']}.json"
        path.write_text(json.dumps(rep, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        print(f"  details: {path}")
    except OSError:
        pass
    return 0


# ------------------------------------------------------------------ the other sets
def _fmt(t) -> str:
    return f"{t[0]:.1%} ({t[1]}/{t[2]})" if t[2] else "— (0/0)"


def print_outcome_line(name: str, rep: dict) -> None:
    o = rep["outcomes"]
    n = sum(o.values())
    print(f"  {name} outcomes: " + " · ".join(f"{k.replace('_', ' ') if k != 'wrong_confident' else 'WRONG CONFIDENT'} {o[k]}"
                                              for k in OUTCOMES) + f"  (of {n} turns)")


def print_set_report(name: str, path: Path, rep: dict, cases: list[dict]) -> None:
    langs = Counter(c.get("lang") for c in cases)
    turns_by_lang = Counter(r["lang"] for r in rep["rows"])
    print(f"  {name} set ({path.name}): {len(cases)} cases ({langs.get('zh', 0)} zh, {langs.get('en', 0)} en), "
          f"{rep['turns']} scored turns ({turns_by_lang.get('zh', 0)} zh, {turns_by_lang.get('en', 0)} en)")
    o, n = rep["outcomes"], rep["turns"]
    good = o["declined"] + o["clarified"] + o["correct"] if name == "decline" else o["correct"]
    what = "no confident answer (declined / clarified)" if name == "decline" else "correct"
    print(f"    score              {good / n:.1%} ({good}/{n}) {what}" if n else "    score              —")
    if name != "decline":
        print(f"    routing {_fmt(rep['routing'])} · arguments {_fmt(rep['arguments'])} · facts {_fmt(rep['facts'])}")
    else:
        print(f"    routing {_fmt(rep['routing'])}   (no tool, or the tool whose decline is right)")
    print("    outcomes: " + " · ".join(f"{k.replace('_', ' ') if k != 'wrong_confident' else 'WRONG CONFIDENT'} {o[k]}"
                                         for k in OUTCOMES))
    for lg in ("zh", "en"):
        ol = rep["outcomes_by_lang"][lg]
        nl = sum(ol.values())
        if nl:
            gl = ol["declined"] + ol["clarified"] + ol["correct"] if name == "decline" else ol["correct"]
            print(f"    {lg}: {what.split(' (')[0]} {gl}/{nl} · partial {ol['partial']} · clarified {ol['clarified']} · "
                  f"declined {ol['declined']} · WRONG CONFIDENT {ol['wrong_confident']}")
    wrong = [r for r in rep["rows"] if r["outcome"] == "wrong_confident"]
    if wrong:
        print(f"    wrong confident ({len(wrong)}):")
        for r in wrong:
            q = r["question"] if len(r["question"]) <= 60 else r["question"][:57] + "…"
            print(f"      [{r['id']}] {q} — {r['why']}")


def run_sets(settings, ws, names=None, mode: str = "offline", limit=None, show: bool = True) -> dict:
    """Run the template sets of `evals.make_questions.SETS` (all, or ``names``) and print each."""
    from evals.make_questions import SETS, build_cases, load_templates
    out = {}
    for name in names or list(SETS):
        path = SETS[name]
        if not path.is_file():
            continue
        cases = build_cases(ws, load_templates(path))
        if limit:
            cases = cases[: int(limit)]
        rep = run(settings, cases, mode=mode)
        if show:
            print_set_report(name, path, rep, cases)
        out[name] = {k: rep[k] for k in ("turns", "routing", "arguments", "facts", "outcomes", "outcomes_by_lang",
                                         "latency_ms", "rows")}
    return out


def cli(argv=None) -> int:
    """``python -m evals.assistant --workspace DIR [--sets semantic,decline]``: only these sets."""
    from knowledge.settings import Settings
    from evals.make_questions import SETS
    p = argparse.ArgumentParser(description="the semantic / decline assistant eval sets")
    p.add_argument("--workspace", required=True)
    p.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    p.add_argument("--mode", default="offline", choices=["offline", "llm"])
    p.add_argument("--limit", type=int)
    p.add_argument("--out", help="write the per-turn rows here as JSON")
    a = p.parse_args(argv)
    names = [x.strip() for x in a.sets.split(",") if x.strip()]
    bad = [x for x in names if x not in SETS]
    if bad:
        p.error(f"unknown set(s) {', '.join(bad)}; known: {', '.join(SETS)}")
    settings = Settings.load(workspace=a.workspace)
    ws = Workspace(settings.workspace).require_built()
    print(f"assistant eval sets ({a.mode}) on {ws.root}")
    rep = run_sets(settings, ws, names, mode=a.mode, limit=a.limit)
    if a.out:
        Path(a.out).write_text(json.dumps(rep, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        print(f"  details: {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
