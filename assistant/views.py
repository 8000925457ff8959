"""What the app shows besides the card, as plain values (no gradio): an answer without its
provenance line, the customer an answer is about, its chart as a figure, the complaint results
table, the quarantine table of a build, the segments for batch drafts, a draft to review."""
from __future__ import annotations

import json
import re

import pandas as pd

__all__ = ["MAX_CHART_HEIGHT", "chart_figure", "effect_view", "complaints_table", "customer_in", "draft_view",
           "quarantine_table", "segment_choices", "split_answer", "sql_block"]

MAX_CHART_HEIGHT = 900

_PROV_LINE = re.compile(r"^\s*(来源[:：]|Source[s]?:)")


def split_answer(answer: str) -> str:
    """The answer without its trailing provenance line(s) — they are shown folded instead."""
    lines = (answer or "").rstrip().splitlines()
    while lines and _PROV_LINE.match(lines[-1]):
        lines.pop()
    return "\n".join(lines).rstrip() or (answer or "")


def sql_block(result: dict) -> str:
    """The SQL behind an answer's numbers (the metric queries DuckDB ran), as a Markdown code block."""
    stmts = [q for call in result.get("tool_calls") or [] for q in (call.get("result") or {}).get("sql") or []
             if isinstance(q, str)]
    if not stmts:
        return ""
    body = ";\n\n".join(q.replace("```", "` ` `") for q in stmts[:6])
    more = f"\n-- … {len(stmts) - 6} more statements" if len(stmts) > 6 else ""
    return f"\n\n```sql\n{body};{more}\n```"


def customer_in(result: dict) -> str | None:
    """The customer an answer is about (last tool call naming one customer)."""
    for call in reversed(result.get("tool_calls") or []):
        res = call.get("result") or {}
        if res.get("error"):
            continue
        for src in (call.get("args") or {}, res):
            cid = src.get("customer_id") if isinstance(src, dict) else None
            if isinstance(cid, str) and cid:
                return cid
    return None


def chart_figure(result: dict):
    """The answer's plotly chart as a figure sized for the chat (None without a chart)."""
    chart = result.get("chart")
    if not chart:
        return None
    import plotly.io as pio
    fig = pio.from_json(chart if isinstance(chart, str) else json.dumps(chart))
    height = fig.layout.height
    if height and height > MAX_CHART_HEIGHT:  # a long ranking: keep it readable beside its answer
        fig.update_layout(height=MAX_CHART_HEIGHT)
    fig.update_layout(autosize=True, width=None)
    return fig


COMPLAINT_COLS = [("feedback_id", "编号", "Feedback id"), ("created_at", "日期", "Date"),
                  ("customer_id", "客户", "Customer"), ("kind", "类型", "Kind"), ("category", "品类", "Category"),
                  ("status", "状态", "Status"), ("text", "内容", "Text"), ("resolution", "处理结果", "Resolution"),
                  ("score", "相关度", "Score")]
VALUE_ZH = {"complaint": "投诉", "suggestion": "建议", "praise": "表扬", "inquiry": "咨询",
            "open": "未解决", "resolved": "已解决"}


def complaints_table(hits: list[dict], lang: str) -> pd.DataFrame:
    """The similar_complaints hits as the results table (headers and kinds in the interface language)."""
    zh = lang != "en"
    rows = []
    for h in hits:
        row = []
        for key, _, _ in COMPLAINT_COLS:
            v = h.get(key)
            if v is None or (isinstance(v, float) and v != v):
                v = ""
            elif key == "created_at":
                v = str(v)[:10]
            elif key == "score":
                v = round(float(v), 3)
            elif key == "status" and h.get("status_label_zh" if zh else "status_label_en"):
                v = h["status_label_zh" if zh else "status_label_en"]   # the event log's status, and the file's
            elif key in ("kind", "status") and zh:
                v = VALUE_ZH.get(str(v), v)
            row.append(v)
        rows.append(row)
    return pd.DataFrame(rows, columns=[zhh if zh else en for _, zhh, en in COMPLAINT_COLS])


def quarantine_table(report: dict) -> pd.DataFrame:
    """Rows read, kept, quarantined (with reasons) per table, from quality_report.json."""
    rows = []
    for name, tb in (report.get("tables") or {}).items():
        reasons = tb.get("quarantine_reasons") or {}
        rows.append({"表 table": name, "读入 read": tb.get("rows_read"), "保留 kept": tb.get("kept"),
                     "隔离 quarantined": tb.get("quarantined", 0),
                     "合并 merged": tb.get("merged_duplicates", 0),
                     "去重 duplicates dropped": tb.get("dropped_duplicates", 0),
                     "写入 written": tb.get("rows_written"),
                     "隔离原因 quarantine reasons": "; ".join(f"{k} ×{v}" for k, v in reasons.items())})
    return pd.DataFrame(rows)


def segment_choices(ws) -> list[str]:
    """The segments a batch of drafts can target: RFM segments, CN-8 segments, tiers."""
    try:
        rfm = ws.artefact("rfm")
        out = []
        for col in ("segment", "segment_cn8", "tier"):
            if rfm is not None and col in rfm:
                out += sorted(rfm[col].dropna().astype(str).unique().tolist())
        return out or ["At Risk"]
    except Exception:  # noqa: BLE001
        return ["At Risk"]


def draft_view(res: dict, lang: str = "zh") -> tuple[str, pd.DataFrame]:
    """A draft_care_message result as the text to review (subject, length, encoding, warnings) and
    the table of where each personal detail comes from."""
    text = res.get("text", "")
    if res.get("subject"):
        text = f"Subject: {res['subject']}\n\n{text}"
    meta = []
    if res.get("length") is not None:
        meta.append(f"{res['length']}/{res['limit']}" if res.get("limit") else f"{res['length']}")
    if res.get("encoding"):
        meta.append(str(res["encoding"]))
    if meta:
        text += f"\n\n[{' · '.join(meta)}]"
    for w in res.get("warnings") or []:
        text += f"\n⚠ {w}"
    src = pd.DataFrame(res.get("sources") or [], columns=["detail", "value", "source"])
    if lang != "en":
        src = src.rename(columns={"detail": "项目", "value": "内容", "source": "来源"})
    return text, src


def effect_view(tool: str, res: dict, lang: str = "zh"):
    """A campaign-effect tool's result (campaign_effect / compare_campaigns) as the app's page shows
    it: the answer's Markdown (the tool's own renderer, with its provenance) and the chart."""
    from tools.formatting import md_text
    from tools.spec import spec_for
    text = spec_for(tool).render(res, lang != "en", {})
    prov = res.get("provenance")
    return text + (f"\n\n<sub>{md_text(prov)}</sub>" if prov else ""), chart_figure(res)
