"""Guanxi web app (Gradio): chat with charts, customer card, complaint search, drafts, data upload.

Layout and wiring only — every number comes from the assistant and the tools. Roles are
enforced in the tool layer (tools.registry); the UI only hides what a role cannot use.

    python app.py [--workspace DIR] [--host H] [--port P]      (or: guanxi serve)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from functools import lru_cache
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from assistant.audit import audit  # noqa: E402
from assistant.users import authenticate, role_of  # noqa: E402
from knowledge.errors import GuanxiError  # noqa: E402
from knowledge.settings import Settings  # noqa: E402
from knowledge.workspace import Workspace  # noqa: E402

TEXT = {
    "title": {"zh": "Guanxi 关系 · CRM 智能助手", "en": "Guanxi · CRM assistant"},
    "chat": {"zh": "对话", "en": "Chat"},
    "ask": {"zh": "输入问题，例如：哪些客户有流失风险？", "en": "Ask, e.g. which customers are at risk of churn?"},
    "send": {"zh": "发送", "en": "Send"},
    "reset": {"zh": "新对话", "en": "New conversation"},
    "card": {"zh": "客户卡片", "en": "Customer card"},
    "card_empty": {"zh": "提到某位客户时，这里会显示客户卡片。", "en": "The card of the customer in the conversation shows here."},
    "complaints": {"zh": "投诉检索", "en": "Complaint search"},
    "query": {"zh": "描述问题（中文或英文）", "en": "Describe the problem (Chinese or English)"},
    "search": {"zh": "搜索相似投诉", "en": "Find similar complaints"},
    "kind": {"zh": "类型", "en": "Kind"},
    "category": {"zh": "品类", "en": "Category"},
    "status": {"zh": "状态", "en": "Status"},
    "date_from": {"zh": "开始日期 (YYYY-MM-DD)", "en": "From (YYYY-MM-DD)"},
    "date_to": {"zh": "结束日期 (YYYY-MM-DD)", "en": "To (YYYY-MM-DD)"},
    "followup": {"zh": "为选中行起草回访", "en": "Draft a follow-up for the selected row"},
    "drafts": {"zh": "关怀消息", "en": "Care messages"},
    "customer_id": {"zh": "客户编号", "en": "Customer id"},
    "occasion": {"zh": "场景", "en": "Occasion"},
    "channel": {"zh": "渠道", "en": "Channel"},
    "language": {"zh": "语言", "en": "Language"},
    "tone": {"zh": "语气", "en": "Tone"},
    "draft": {"zh": "生成草稿", "en": "Draft"},
    "draft_text": {"zh": "草稿（由人工发送）", "en": "Draft (a person sends it)"},
    "sources": {"zh": "信息来源", "en": "Sources"},
    "segment": {"zh": "客户分群（批量）", "en": "Segment (batch)"},
    "batch": {"zh": "批量起草并导出 CSV", "en": "Draft for the segment, export CSV"},
    "data": {"zh": "数据", "en": "Data"},
    "upload": {"zh": "上传 CSV / Excel 文件", "en": "Upload CSV / Excel files"},
    "build": {"zh": "导入并构建", "en": "Build workspace"},
    "workspace": {"zh": "工作区", "en": "Workspace"},
    "provenance": {"zh": "数据来源", "en": "Provenance"},
}
OCCASIONS = ["birthday", "festival", "winback", "complaint_followup", "vip_thanks", "recommendation"]
FESTIVALS = ["春节", "中秋", "国庆", "元旦", "Christmas", "New Year"]


def t(key: str, lang: str) -> str:
    return TEXT[key]["en" if lang == "en" else "zh"]


@lru_cache(maxsize=8)
def _customer_names(root: str, mtime: float) -> tuple[str, ...]:
    """Customer names of a workspace, to mask them in the audit log."""
    try:
        return tuple(Workspace(root).table("customers")["name"].dropna().astype(str).unique())
    except Exception:  # an unbuilt workspace has no names to mask
        return ()


def names_for(ws: Workspace) -> tuple[str, ...]:
    p = ws.table_path("customers")
    return _customer_names(str(ws.root), p.stat().st_mtime if p.exists() else 0.0)


class Session:
    """Per-browser-session state: who is logged in, which workspace, the assistant."""

    def __init__(self, settings: Settings, user: str, role: str):
        self.settings, self.user, self.role = settings, user, role
        self._assistant = None

    @property
    def ws(self) -> Workspace:
        return Workspace(self.settings.workspace)

    @property
    def assistant(self):
        if self._assistant is None:
            from assistant import Assistant
            self._assistant = Assistant(settings=self.settings, role=self.role)
        return self._assistant

    def use_workspace(self, path: Path) -> None:
        self.settings = self.settings.with_(workspace=path)
        self._assistant = None

    def tool(self, name: str, args: dict) -> dict:
        from tools.registry import call_tool
        result = call_tool(name, {k: v for k, v in args.items() if v not in (None, "")},
                           settings=self.settings, role=self.role)
        audit(self.ws, self.user, self.role, "tool", tool_calls=[{"tool": name, "args": args}],
              names=names_for(self.ws))
        return result


# ---------------------------------------------------------------- rendering
def render_card(profile: dict | None, lang: str) -> str:
    """A customer's card as Markdown from the customer_profile tool result."""
    if not profile:
        return t("card_empty", lang)
    if profile.get("error"):
        return f"⚠️ {profile['error']}"
    zh = lang != "en"
    c = profile.get("customer") or profile
    lines = [f"### {c.get('name', '')} · `{c.get('customer_id', '')}`"]
    facts = [("城市" if zh else "City", f"{c.get('province') or ''} {c.get('city') or ''}".strip()),
             ("手机" if zh else "Phone", c.get("phone")), ("邮箱" if zh else "E-mail", c.get("email")),
             ("会员等级" if zh else "Level", c.get("level"))]
    rfm = profile.get("rfm") or {}
    if rfm:
        seg = rfm.get("segment_zh") if zh else rfm.get("segment")
        facts += [("RFM", f"R{rfm.get('r_score')} F{rfm.get('f_score')} M{rfm.get('m_score')} · {seg or ''}"),
                  ("八类" if zh else "8-class", rfm.get("segment_cn8")),
                  ("最近购买" if zh else "Recency", f"{rfm.get('recency_days')} 天" if zh else f"{rfm.get('recency_days')} days"),
                  ("订单数" if zh else "Orders", rfm.get("frequency")),
                  ("消费总额" if zh else "Spend", _money(rfm.get("monetary")))]
    cl = profile.get("cluster") or {}
    if cl:
        facts.append(("聚类" if zh else "Cluster", cl.get("cluster_name_zh") if zh else cl.get("cluster_name_en")))
    ch = profile.get("churn") or {}
    if ch and ch.get("churn_probability") is not None:
        facts.append(("流失概率" if zh else "Churn probability", f"{float(ch['churn_probability']):.0%} ({ch.get('risk_band', '')})"))
    clv = profile.get("clv") or {}
    if clv and clv.get("clv_12m") is not None:
        facts.append(("12个月CLV" if zh else "12-month CLV", _money(clv.get("clv_12m"))))
    lines += [f"- **{k}**: {v}" for k, v in facts if v not in (None, "", "nan")]
    reasons = ch.get("reasons_zh" if zh else "reasons_en") if ch else None
    if reasons:
        lines.append(("**流失原因**: " if zh else "**Churn reasons**: ") + (reasons if isinstance(reasons, str) else "; ".join(reasons)))
    cats = profile.get("favourite_categories") or []
    if cats:
        lines.append(("**偏好品类**: " if zh else "**Favourite categories**: ")
                     + ", ".join(str(x.get("category", x)) if isinstance(x, dict) else str(x) for x in cats))
    orders = profile.get("last_orders") or []
    if orders:
        lines.append("**最近订单**" if zh else "**Last orders**")
        for o in orders[:5]:
            lines.append(f"- {str(o.get('order_date', ''))[:10]} {o.get('product_name') or o.get('category') or ''} {_money(o.get('amount'))}")
    complaints = profile.get("open_complaints") or []
    lines.append(("**未结投诉**: " if zh else "**Open complaints**: ") + str(len(complaints)))
    for fb in complaints[:3]:
        lines.append(f"- {str(fb.get('created_at', ''))[:10]} {str(fb.get('text', ''))[:60]}")
    recs = profile.get("recommended_products") or []
    if recs:
        lines.append(("**推荐商品**: " if zh else "**Recommended**: ")
                     + ", ".join(str(r.get("item", r)) if isinstance(r, dict) else str(r) for r in recs[:5]))
    if profile.get("provenance"):
        lines.append(f"\n<sub>{profile['provenance']}</sub>")
    return "\n".join(lines)


def _money(v) -> str:
    try:
        return f"¥{float(v):,.2f}"
    except (TypeError, ValueError):
        return ""


def _customer_in(result: dict) -> str | None:
    """The customer an answer is about (last tool call naming one)."""
    for call in reversed(result.get("tool_calls") or []):
        for src in (call.get("args") or {}, call.get("result") or {}):
            cid = src.get("customer_id") if isinstance(src, dict) else None
            if isinstance(cid, str) and cid:
                return cid
    return None


def _chart(result: dict):
    chart = result.get("chart")
    if not chart:
        return None
    import plotly.io as pio
    return pio.from_json(chart if isinstance(chart, str) else json.dumps(chart))


# ---------------------------------------------------------------- the app
def build_app(settings: Settings) -> gr.Blocks:
    home_ws = Workspace(settings.workspace)

    def session(state, request: gr.Request | None) -> Session:
        if state is None:
            user = getattr(request, "username", None) or "local"
            role = role_of(home_ws, user) or ("admin" if user == "local" else "agent")
            state = Session(settings, user, role)
        return state

    with gr.Blocks(title="Guanxi") as demo:
        state = gr.State(None)
        lang = gr.State("zh")
        with gr.Row():
            title = gr.Markdown(f"## {t('title', 'zh')}")
            ui_lang = gr.Radio(["中文", "English"], value="中文", show_label=False, scale=0, min_width=200)
        whoami = gr.Markdown("")
        with gr.Tabs():
            with gr.Tab(t("chat", "zh"), id="chat") as tab_chat:
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(height=560, elem_id="chatbot", label="Guanxi")
                        with gr.Row():
                            question = gr.Textbox(placeholder=t("ask", "zh"), show_label=False, scale=5,
                                                  elem_id="question", submit_btn=False)
                            send = gr.Button(t("send", "zh"), variant="primary", scale=1, elem_id="send")
                        reset = gr.Button(t("reset", "zh"), size="sm")
                        gr.Examples(["哪些客户有流失风险？", "各省份的销售额", "What do people buy together with green tea?",
                                     "上个季度投诉最多的问题是什么？", "复购率是多少？"], inputs=question)
                    with gr.Column(scale=2):
                        card_title = gr.Markdown(f"### {t('card', 'zh')}")
                        card = gr.Markdown(t("card_empty", "zh"), elem_id="customer-card")
            with gr.Tab(t("complaints", "zh"), id="complaints") as tab_complaints:
                with gr.Row():
                    cq = gr.Textbox(label=t("query", "zh"), scale=4, elem_id="complaint-query")
                    cbtn = gr.Button(t("search", "zh"), variant="primary", scale=1, elem_id="complaint-search")
                with gr.Row():
                    ckind = gr.Dropdown(["", "complaint", "suggestion", "praise", "inquiry"], value="", label=t("kind", "zh"))
                    ccat = gr.Dropdown([""], value="", label=t("category", "zh"), allow_custom_value=True)
                    cstatus = gr.Dropdown(["", "open", "resolved"], value="", label=t("status", "zh"))
                    cfrom = gr.Textbox(label=t("date_from", "zh"))
                    cto = gr.Textbox(label=t("date_to", "zh"))
                cresults = gr.Dataframe(interactive=False, wrap=True, elem_id="complaint-results")
                cselected = gr.State(None)
                cmsg = gr.Markdown("")
                cfollow = gr.Button(t("followup", "zh"))
            with gr.Tab(t("drafts", "zh"), id="drafts") as tab_drafts:
                with gr.Row():
                    d_cid = gr.Textbox(label=t("customer_id", "zh"), elem_id="draft-customer")
                    d_occ = gr.Dropdown(OCCASIONS, value="birthday", label=t("occasion", "zh"))
                    d_fest = gr.Dropdown(FESTIVALS, value="春节", label="Festival")
                    d_fb = gr.Textbox(label="feedback_id")
                with gr.Row():
                    d_ch = gr.Radio(["sms", "wechat", "email"], value="sms", label=t("channel", "zh"))
                    d_lang = gr.Radio(["auto", "zh", "en"], value="auto", label=t("language", "zh"))
                    d_tone = gr.Radio(["warm", "formal", "playful"], value="warm", label=t("tone", "zh"))
                d_btn = gr.Button(t("draft", "zh"), variant="primary")
                d_text = gr.Textbox(label=t("draft_text", "zh"), lines=5, buttons=["copy"], elem_id="draft-text")
                d_sources = gr.Dataframe(label=t("sources", "zh"), interactive=False)
                with gr.Row():
                    d_seg = gr.Textbox(label=t("segment", "zh"), value="At Risk")
                    d_batch = gr.Button(t("batch", "zh"))
                d_file = gr.File(label="CSV", interactive=False)
            with gr.Tab(t("data", "zh"), id="data", visible=True) as tab_data:
                ws_info = gr.Markdown("")
                up = gr.File(label=t("upload", "zh"), file_count="multiple", file_types=[".csv", ".xlsx", ".txt", ".tsv"])
                mapping = gr.File(label="mapping.toml (optional)", file_types=[".toml"])
                bbtn = gr.Button(t("build", "zh"), variant="primary")
                blog = gr.Textbox(label="Build log", lines=10)
                breport = gr.JSON(label="quality_report.json")
                ws_choice = gr.Radio(["demo"], value="demo", label=t("workspace", "zh"))

        # ------------------------------------------------ handlers
        def on_load(st, request: gr.Request):
            st = session(st, request)
            admin = st.role == "admin"
            cats = [""]
            try:
                cats += sorted(st.ws.table("products")["category"].dropna().unique().tolist())
            except Exception:
                pass
            choices = ["demo"] + (["uploaded"] if _upload_dir(settings).joinpath("tables").exists() else [])
            return (st, f"👤 {st.user} · {st.role}", gr.update(visible=admin), gr.update(choices=cats),
                    _ws_summary(st), gr.update(choices=choices), gr.update(visible=st.role != "agent" or True))

        demo.load(on_load, [state], [state, whoami, tab_data, ccat, ws_info, ws_choice, tab_drafts])

        def on_lang(choice, st):
            lg = "en" if choice == "English" else "zh"
            return (lg, f"## {t('title', lg)}", gr.update(placeholder=t("ask", lg)), gr.update(value=t("send", lg)),
                    gr.update(value=t("reset", lg)), f"### {t('card', lg)}",
                    gr.update(label=t("chat", lg)), gr.update(label=t("complaints", lg)),
                    gr.update(label=t("drafts", lg)), gr.update(label=t("data", lg)),
                    gr.update(label=t("query", lg)), gr.update(value=t("search", lg)),
                    gr.update(value=t("draft", lg)), gr.update(value=t("build", lg)))

        ui_lang.change(on_lang, [ui_lang, state],
                       [lang, title, question, send, reset, card_title, tab_chat, tab_complaints, tab_drafts, tab_data,
                        cq, cbtn, d_btn, bbtn])

        def on_ask(message, history, st, lg, request: gr.Request):
            st = session(st, request)
            history = list(history or [])
            message = (message or "").strip()
            if not message:
                yield history, st, gr.update(), ""
                return
            history.append({"role": "user", "content": message})
            yield history, st, gr.update(), ""
            t0 = time.perf_counter()
            try:
                result = st.assistant.ask(message)
            except GuanxiError as e:
                result = {"answer": f"⚠️ {e}", "tool_calls": [], "provenance": [], "chart": None, "language": lg}
            audit(st.ws, st.user, st.role, "ask", question=message, tool_calls=result.get("tool_calls") or [],
                  names=names_for(st.ws), seconds=round(time.perf_counter() - t0, 3))
            answer = result.get("answer") or ""
            history.append({"role": "assistant", "content": ""})
            step = max(8, len(answer) // 12)
            for i in range(step, len(answer) + step, step):  # stream the answer in a few chunks
                history[-1] = {"role": "assistant", "content": answer[:i]}
                yield history, st, gr.update(), ""
            fig = _chart(result)
            if fig is not None:
                history.append({"role": "assistant", "content": gr.Plot(fig)})
            prov = result.get("provenance") or []
            if prov:
                history.append({"role": "assistant", "content": "\n".join(f"- {p}" for p in prov),
                                "metadata": {"title": t("provenance", result.get("language") or lg), "status": "done"}})
            cid = _customer_in(result)
            card_md = gr.update()
            if cid:
                try:
                    card_md = render_card(st.tool("customer_profile", {"customer_id": cid}), result.get("language") or lg)
                except Exception as e:  # a refused or failed card must not break the chat
                    card_md = f"⚠️ {e}"
            yield history, st, card_md, ""

        send.click(on_ask, [question, chatbot, state, lang], [chatbot, state, card, question])
        question.submit(on_ask, [question, chatbot, state, lang], [chatbot, state, card, question])

        def on_reset(st, lg, request: gr.Request):
            st = session(st, request)
            st.assistant.reset()
            return [], st, t("card_empty", lg)

        reset.click(on_reset, [state, lang], [chatbot, state, card])

        def on_search(text, kind, cat, status, dfrom, dto, st, request: gr.Request):
            st = session(st, request)
            if not (text or "").strip():
                return pd.DataFrame(), st, "⚠️ 请输入要检索的问题描述 / enter a description to search"
            try:
                res = st.tool("similar_complaints", {"text": text, "k": 10, "kind": kind, "category": cat,
                                                     "status": status, "date_from": dfrom, "date_to": dto})
            except Exception as e:
                return pd.DataFrame(), st, f"⚠️ {e}"
            hits = pd.DataFrame(res.get("hits") or [])
            cols = [c for c in ("feedback_id", "created_at", "customer_id", "kind", "category", "status", "text",
                                "resolution", "score") if c in hits.columns]
            hits = hits[cols] if cols else hits
            if "score" in hits:
                hits["score"] = hits["score"].astype(float).round(3)
            return hits, st, f"{len(hits)} · {res.get('provenance', '')}"

        cbtn.click(on_search, [cq, ckind, ccat, cstatus, cfrom, cto, state], [cresults, state, cmsg])
        cq.submit(on_search, [cq, ckind, ccat, cstatus, cfrom, cto, state], [cresults, state, cmsg])

        def on_select(df, evt: gr.SelectData):
            try:
                row = df.iloc[evt.index[0]]
                return {"feedback_id": str(row.get("feedback_id")), "customer_id": str(row.get("customer_id"))}
            except Exception:
                return None

        cresults.select(on_select, [cresults], [cselected])

        def on_follow(sel, st, request: gr.Request):
            st = session(st, request)
            if not sel:
                return (gr.update(),) * 3 + (gr.update(), "⚠️ 先在结果表中选中一行 / select a row first")
            text, sources, _ = _draft(st, sel["customer_id"], "complaint_followup", None, sel["feedback_id"],
                                      "sms", "auto", "warm")
            return sel["customer_id"], "complaint_followup", sel["feedback_id"], text, sources

        cfollow.click(on_follow, [cselected, state], [d_cid, d_occ, d_fb, d_text, d_sources])

        def on_draft(cid, occ, fest, fb, ch, dl, tone, st, request: gr.Request):
            st = session(st, request)
            text, sources, _ = _draft(st, cid, occ, fest, fb, ch, dl, tone)
            return text, sources

        d_btn.click(on_draft, [d_cid, d_occ, d_fest, d_fb, d_ch, d_lang, d_tone, state], [d_text, d_sources])

        def on_batch(seg, occ, ch, dl, st, request: gr.Request):
            st = session(st, request)
            try:
                from assistant.drafts import draft_batch
                if st.role not in ("manager", "admin", "agent"):
                    raise GuanxiError(f"role {st.role!r} may not export drafts")
                out = st.ws.root / "exports" / f"drafts-{seg.replace(' ', '_')}-{occ}.csv"
                path = draft_batch(st.ws, seg, occ, ch, dl, out, unmask=st.role == "admin")
                audit(st.ws, st.user, st.role, "export", tool_calls=[{"tool": "draft_batch", "args": {"segment": seg}}])
                return str(path)
            except Exception as e:
                raise gr.Error(str(e))

        d_batch.click(on_batch, [d_seg, d_occ, d_ch, d_lang, state], [d_file])

        def on_build(files, mapfile, st, request: gr.Request, progress=gr.Progress()):
            st = session(st, request)
            if st.role != "admin":
                raise gr.Error("only an admin may upload data / 仅管理员可以上传数据")
            if not files:
                raise gr.Error("no files uploaded / 请先上传文件")
            target = _upload_dir(settings)
            inbox = target / "inbox"
            shutil.rmtree(inbox, ignore_errors=True)
            inbox.mkdir(parents=True)
            for f in files:
                src = Path(getattr(f, "name", f))
                shutil.copy(src, inbox / Path(src).name)
            mp = None
            if mapfile is not None:
                mp = target / "mapping.toml"
                shutil.copy(Path(getattr(mapfile, "name", mapfile)), mp)
            logs: list[str] = []
            progress(0.05, desc="reading files")

            def log(msg: str) -> None:
                logs.append(msg)
                progress(min(0.9, 0.1 + 0.08 * len(logs)), desc=msg.splitlines()[0][:60])

            from assistant.pipeline import build_workspace
            try:
                summary = build_workspace(settings.with_(workspace=target), inbox, mapping=mp, log=log)
            except GuanxiError as e:
                audit(st.ws, st.user, st.role, "build_failed", error=str(e))
                return "\n".join(logs + [f"error: {e}"]), {}, gr.update(), st, _ws_summary(st)
            st.use_workspace(target)
            audit(st.ws, st.user, st.role, "build")
            report = json.loads((target / "quality_report.json").read_text(encoding="utf-8"))
            return ("\n".join(logs + [summary]), report, gr.update(choices=["demo", "uploaded"], value="uploaded"),
                    st, _ws_summary(st))

        bbtn.click(on_build, [up, mapping, state], [blog, breport, ws_choice, state, ws_info])

        def on_ws(choice, st, request: gr.Request):
            st = session(st, request)
            st.use_workspace(_upload_dir(settings) if choice == "uploaded" else settings.workspace)
            report = st.ws.quality_report if st.ws.quality_report_path.exists() else {}
            return st, _ws_summary(st), report, [], t("card_empty", "zh")

        ws_choice.change(on_ws, [ws_choice, state], [state, ws_info, breport, chatbot, card])

        api_sessions: dict[str, Session] = {}

        def ask(question: str, request: gr.Request) -> dict:
            """Ask one question as the logged-in user; returns the assistant's full answer object."""
            st = api_sessions.get(getattr(request, "username", None) or "local")
            if st is None:
                st = api_sessions.setdefault(getattr(request, "username", None) or "local", session(None, request))
            result = st.assistant.ask(question)
            audit(st.ws, st.user, st.role, "api_ask", question=question, tool_calls=result.get("tool_calls") or [],
                  names=names_for(st.ws))
            return result

        gr.api(ask, api_name="ask")
    return demo


def _upload_dir(settings: Settings) -> Path:
    ws = Path(settings.workspace)
    return ws.parent / f"{ws.name}-uploaded"


def _ws_summary(st: Session) -> str:
    try:
        from assistant.pipeline import workspace_summary
        q = st.ws.quality_report
        counts = {name: tbl.get("quarantined", 0) for name, tbl in (q.get("tables") or {}).items()}
        return f"```\n{workspace_summary(st.settings)}\n```\nquarantine: {counts}"
    except GuanxiError as e:
        return f"⚠️ {e}"


def _draft(st: Session, cid, occ, fest, fb, ch, dl, tone):
    try:
        res = st.tool("draft_care_message", {"customer_id": (cid or "").strip(), "occasion": occ, "festival": fest,
                                             "feedback_id": fb, "channel": ch, "language": dl, "tone": tone})
    except Exception as e:
        return f"⚠️ {e}", pd.DataFrame(), None
    text = res.get("text", "")
    if res.get("subject"):
        text = f"Subject: {res['subject']}\n\n{text}"
    for w in res.get("warnings") or []:
        text += f"\n⚠️ {w}"
    return text, pd.DataFrame(res.get("sources") or []), res


def serve(settings: Settings, block: bool = True):
    """Start the app bound to settings.host:settings.port with login from the workspace's users."""
    ws = Workspace(settings.workspace).require_built()
    if not ws.users_path.exists():
        raise GuanxiError(f"workspace {ws.root} has no users; add one with "
                          f"`guanxi users add NAME --role admin --workspace {ws.root}`")

    def login(username: str, password: str) -> bool:
        user = authenticate(ws, username, password)
        audit(ws, username if user else "?", user.role if user else "", "login_ok" if user else "login_failed")
        return user is not None

    app = build_app(settings)
    app.queue(default_concurrency_limit=4)
    print(f"Guanxi is serving on http://{settings.host}:{settings.port} (workspace {ws.root})", flush=True)
    app.launch(server_name=settings.host, server_port=settings.port, auth=login,
               auth_message="Guanxi · 请登录 / please log in", share=False, prevent_thread_lock=not block,
               footer_links=["api"], quiet=True)
    return app if not block else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="app.py", description="Serve the Guanxi web app.")
    p.add_argument("--workspace")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    args = p.parse_args(argv)
    try:
        settings = Settings.load(workspace=args.workspace, host=args.host, port=args.port)
        return serve(settings) or 0
    except GuanxiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
