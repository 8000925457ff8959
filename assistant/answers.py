"""Answers in the question's language (zh / en): each tool's renderer (from its spec) plus the
provenance line, and the texts for the other outcomes.

Every number in an answer is read from the tool result it describes — nothing is computed
here except formatting (`tools.formatting`) — and every answer ends with a provenance line.
Lists use bullets, not numbers, so the only numbers in the text are facts.

Answers are Markdown, and customer data is data: every string of a tool result is escaped
(`tools.formatting.md_safe` / `md_text`) before its renderer sees it, and so is every piece of data or
of the question an answer text here quotes (names, cities, ids, error messages), so a name such as
``<img src=…>``, a ``[link](…)`` in a complaint or a masked ``182****3495`` shows as written.

`render(tool, result, language, ...)` → text; `help_text`, `clarify_text`, `error_text`,
`denied_text`, `missing_text` for the other outcomes; `numbers_in` / `unsupported_numbers` check
that a text (e.g. an LLM's answer) states no number that is not in the tool results.
"""
from __future__ import annotations

import json
import math
import re

from assistant.conditions import unapplied_text
from tools.formatting import bullets, md_safe, md_text, provenance_line
from tools.registry import CUSTOMER_TEXT_KEYS
from tools.spec import spec_for, specs

__all__ = ["render", "help_text", "unsupported_text", "unknown_customer_text", "clarify_text", "error_text", "denied_text", "missing_text",
           "numbers_in", "unsupported_numbers", "provenance_line"]


def render(tool: str, result: dict, language: str, focus: dict | None = None, with_provenance: bool = True) -> str:
    """The answer text for one tool result (its spec's renderer), ending with its provenance line.
    A tool without a renderer shows its result's fields, never silently nothing."""
    zh = language == "zh"
    spec = spec_for(tool)
    if spec is None or spec.render is None:
        body = md_text(json.dumps({k: v for k, v in result.items() if k not in ("chart", "provenance")},
                                  ensure_ascii=False, default=str)[:1500])
    else:
        body = spec.render(md_safe(result), zh, md_safe(focus or {}))
    body += unapplied_text(md_safe((focus or {}).get("unapplied") or []), zh)   # conditions the tool did not take
    if with_provenance:
        body += "\n" + provenance_line(result.get("provenance"), zh)
    return body


def help_text(language: str, unknown: bool = True, tools: list[str] | None = None) -> str:
    """What the assistant can answer, from the specs of the tools (``tools``: only these)."""
    zh = language == "zh"
    shown = [s for s in specs() if tools is None or s.name in tools]
    caps = [s.help_zh if zh else s.help_en for s in shown]
    caps = [c for c in caps if c]
    examples = [s.example_zh if zh else s.example_en for s in shown]
    examples = [e for e in examples if e]
    if zh:
        head = "这个问题我回答不了，我只回答这个 CRM 知识库里的事实。" if unknown else "我是 Guanxi CRM 助手。"
        return head + "我可以回答：" + "、".join(caps) + "。例如：\n" + bullets(examples)
    head = ("I can't answer that one: I only answer from this CRM knowledge base." if unknown else "I'm the Guanxi CRM assistant.")
    return head + " I can answer: " + ", ".join(caps) + ". For example:\n" + bullets(examples)


def unsupported_text(term: str, language: str) -> str:
    """A metric the data has no column for: what is missing and what can be asked instead."""
    from tools.kpi import METRICS
    zh = language == "zh"
    term = md_text(term)
    names = [m["zh"] if zh else m["en"] for m in METRICS.values()]
    if zh:
        return (f"这个问题我回答不了：数据里没有「{term}」所需的字段（订单、客户、商品和反馈表里都没有这一列），"
                "我不会用别的指标代替它。我能算的指标有：" + "、".join(names) + "。例如：\n"
                + bullets(["上个月的销售额环比怎么样?", "上季度卖得最好的5个商品", "今年的复购率是多少?"]))
    return (f"I can't answer that: the data has no field for \"{term}\" (no such column in the orders, customers, "
            "products or feedback tables), and I won't answer with a different metric. Metrics I can compute: "
            + ", ".join(names) + ". For example:\n"
            + bullets(["How did sales last month compare with the month before?", "Top 5 products last quarter",
                       "Repurchase rate this year"]))


def unknown_customer_text(token: str, reason: str, language: str) -> str:
    """An id shaped like a customer id that names no customer (with close ids when there are some)."""
    close = re.search(r"did you mean ([^)?]+)\??\)", reason or "")
    token, close = md_text(token), (md_text(close.group(1)) if close else None)
    if language == "zh":
        return (f"没有编号为 {token} 的客户" + (f"，您是不是指 {close}?" if close else "。")
                + "请检查客户编号，或者用客户姓名来问。")
    return (f"There is no customer {token}" + (f"; did you mean {close}?" if close else ".")
            + " Check the id, or ask by the customer's name.")


def clarify_text(candidates: list[dict], language: str, span: str = "", fuzzy: bool = False) -> str:
    """"Which 王伟?" with distinguishing details (city, last order, masked phone)."""
    zh = language == "zh"
    lines = []
    span = md_text(span)
    candidates = md_safe(candidates)
    for c in candidates:
        det = [x for x in (c.get("city") or c.get("province"),
                           (f"最近下单 {c['last_order']}" if zh else f"last order {c['last_order']}") if c.get("last_order") else None,
                           c.get("phone")) if x]
        lines.append(f"{c.get('name')}（{c.get('customer_id')}）" + ("：" + "，".join(det) if det else "") if zh else
                     f"{c.get('name')} ({c.get('customer_id')})" + (": " + ", ".join(det) if det else ""))
    if zh:
        head = (f"没有找到「{span}」，您是指下面哪一位？" if fuzzy else
                f"有 {len(candidates)} 位客户叫「{span}」，请问是哪一位？") if span else "请问是哪一位客户？"
        return head + "\n" + bullets(lines) + "\n回复「第一个」、城市或客户编号即可。"
    head = (f"I found no customer called \"{span}\"; did you mean one of these?" if fuzzy else
            f"{len(candidates)} customers are called \"{span}\" — which one do you mean?") if span else "Which customer do you mean?"
    return head + "\n" + bullets(lines) + "\nReply \"the first one\", a city or the customer id."


def missing_text(kind: str, tool: str, language: str) -> str:
    zh = language == "zh"
    if kind == "missing_item":
        return "请告诉我是哪个商品或品类，例如「绿茶」。" if zh else "Which product or category? For example \"green tea\"."
    if kind == "missing_segment":
        return ("请告诉我是哪个分群，例如「冠军客户」「重要价值客户」「高价值客户」。" if zh else
                "Which segment? For example Champions, At Risk, 重要价值客户 or high-value customers.")
    return ("请告诉我是哪位客户（客户编号如 C01023，或姓名）。" if zh else
            "Which customer? Give a customer id such as C01023 or a name.")


def error_text(tool: str, message: str, language: str) -> str:
    message = md_text(message)  # an error can quote the question or the data
    return (f"没能回答：{message}" if language == "zh" else f"I couldn't answer that: {message}")


def denied_text(tool: str, role: str, language: str) -> str:
    msg = f"role '{role}' may not use tool '{tool}'"
    return (f"抱歉，您的角色（{role}）无权查看这类信息（{msg}）。" if language == "zh" else
            f"Sorry, your role cannot see this ({msg}).")


# --------------------------------------------------------------------------- number check
_NUM_RE = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?%?")


def numbers_in(text: str) -> list[str]:
    """Numbers written in ``text`` (with their % sign when present)."""
    return [m.group(0) for m in _NUM_RE.finditer(text or "")]


# Strings that are not facts a tool computed: customer-written text (the keys the LLM sees wrapped as
# <customer_text>), names, the question's own words echoed back, keywords and labels made of customers' words
NOT_COMPUTED = CUSTOMER_TEXT_KEYS + ("name", "customer_name", "query", "keywords", "label")


def _flatten_numbers(obj, out: set[float], facts_only: bool = False, in_text: bool = False) -> None:
    if isinstance(obj, bool):
        return
    if isinstance(obj, (int, float)):
        if not (isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj))):
            out.add(float(obj))
        return
    if isinstance(obj, str):
        if in_text:
            return  # a number written by a customer ("987654.32" in a complaint) supports nothing
        for n in _NUM_RE.findall(obj):
            try:
                v = float(n.rstrip("%").replace(",", ""))
            except ValueError:
                continue
            out.add(v)
            if n.endswith("%"):
                out.add(v / 100)  # "churn rate 68.3%" in a provenance line supports "68.3%"
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k != "chart":
                _flatten_numbers(v, out, facts_only, in_text or (facts_only and k in NOT_COMPUTED))
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _flatten_numbers(v, out, facts_only, in_text)


def unsupported_numbers(text: str, results: list, extra: tuple = (), facts_only: bool = False) -> list[str]:
    """Numbers in ``text`` that match no number in ``results`` (after rounding / as a percentage).

    Small integers ≤ 10 (list positions, "3 reasons") and years are allowed; a number matches a
    result value when it equals it rounded to the number's own decimals, directly or ×100 (%).
    ``facts_only`` (an LLM's answer): only numbers the tools computed count, not numbers inside
    customer text, names or the question echoed back (`NOT_COMPUTED`); a template answer may quote a
    complaint, an LLM's numbers must be facts.
    """
    known: set[float] = set(float(x) for x in extra)
    for r in results:
        _flatten_numbers(r, known, facts_only)
    bad = []
    for tok in numbers_in(text):
        pct = tok.endswith("%")
        s = tok.rstrip("%").replace(",", "")
        try:
            v = float(s)
        except ValueError:
            continue
        if not pct and float(v).is_integer() and (abs(v) <= 10 or 1990 <= v <= 2100):
            continue
        nd = len(s.split(".")[1]) if "." in s else 0
        tol = 0.51 * 10 ** (-nd)  # rounding of an already rounded value (61.75 → 61.8)
        ok = False
        for k in known:
            cands = (k * 100,) if pct else (k, k * 100)
            if any(abs(c - v) <= tol for c in cands):
                ok = True
                break
        if not ok:
            bad.append(tok)
    return bad
