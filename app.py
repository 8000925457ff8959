"""Guanxi web app (Gradio): chat with charts, customer card, complaint search, drafts, campaigns, data upload.

Layout and event wiring only — every number comes from the assistant and the tools, and what is
shown is rendered below the app: the customer card in assistant/card.py, answers, charts and tables
in assistant/views.py, the background warm-up in assistant/warmup.py; questions are audited by
`Assistant.ask` and builds report `knowledge.progress` events. Roles are
enforced in the tool layer (`tools.registry.call_tool` refuses a tool the role may not use and
masks contacts for everyone but admin); the UI only hides what a role cannot use. The data page
checks the right again on the server (`tools.registry.may`) before it accepts an upload. Every
handler reads the user from the login (``gr.Request.username``) and the role from the users file
on each call (`Sessions`: one conversation per user and Gradio session; no gr.State grants
anything). Logins and export downloads are plain HTTP, in assistant/web.py.

    python app.py [--workspace DIR] [--host H] [--port P]      (or: guanxi serve)

Start-up is kept short: the heavy parts (the assistant's router, tables, the embedding engine,
the feedback index) load in a background thread right after the server starts, so the first
question after the page loads is answered from warm caches.

Long on purpose: the layout of the app's pages and their event wiring; nothing is rendered or
computed here.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import warnings  # noqa: E402

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from assistant.audit import audit  # noqa: E402
from assistant.answers import render  # noqa: E402
from assistant.campaign_view import campaign_choices, campaign_step, draft_sources, drafts_table  # noqa: E402
from assistant.card import CARD_EMPTY, md_text, render_card  # noqa: E402
from assistant.login import LoginGuard  # noqa: E402
from assistant.users import role_of  # noqa: E402
from assistant.views import (chart_figure, complaints_table, customer_in, draft_view, effect_view, sql_block,  # noqa: E402
                             quarantine_table, segment_choices, split_answer)
from assistant.indexer import BackgroundIndex, status_line  # noqa: E402
from assistant.warmup import Warmup  # noqa: E402
from assistant.web import (LoginLimits, confirm_login, download_route, export_fields, export_html,  # noqa: E402
                           export_link, export_links)
from knowledge.errors import GuanxiError  # noqa: E402
from knowledge.export import purge_expired_exports  # noqa: E402
from knowledge.settings import Settings  # noqa: E402
from knowledge.workspace import Workspace  # noqa: E402
from tools.formatting import md_code  # noqa: E402
from tools.registry import allowed, may  # noqa: E402

# ---------------------------------------------------------------- interface texts (zh / en)
# gradio's queue still calls pandas options that pandas 3 deprecates: not ours to fix, keep the log readable
warnings.filterwarnings("ignore", message=r".*(no_silent_downcasting|The copy keyword is deprecated).*")

TEXT = {
    "title": ("Guanxi 关系 · CRM 智能助手", "Guanxi · CRM assistant"),
    "chat": ("对话", "Chat"),
    "ask": ("输入问题，例如：哪些客户有流失风险？", "Ask, e.g. which customers are at risk of churn?"),
    "send": ("发送", "Send"),
    "reset": ("新对话", "New conversation"),
    "examples": ("试试这些问题", "Try these"),
    "card": ("客户卡片", "Customer card"),
    "card_empty": CARD_EMPTY,
    "card_id": ("客户编号或姓名", "Customer id or name"),
    "card_open": ("打开卡片", "Open card"),
    "complaints": ("投诉检索", "Complaint search"),
    "query": ("描述问题（中文或英文）", "Describe the problem (Chinese or English)"),
    "search": ("搜索相似投诉", "Find similar complaints"),
    "kind": ("类型", "Kind"),
    "category": ("品类", "Category"),
    "status": ("状态", "Status"),
    "date_from": ("开始日期 YYYY-MM-DD", "From YYYY-MM-DD"),
    "date_to": ("结束日期 YYYY-MM-DD", "To YYYY-MM-DD"),
    "results": ("相似投诉及处理结果（点选一行）", "Similar complaints and their resolutions (click a row)"),
    "followup": ("为选中行起草回访", "Draft a follow-up for the selected row"),
    "select_first": ("请先在结果表中点选一行。", "Select a row in the results first."),
    "enter_query": ("请输入要检索的问题描述。", "Enter a description to search for."),
    "selected": ("已选中", "Selected"),
    "drafts": ("关怀消息", "Care messages"),
    "customer_id": ("客户编号", "Customer id"),
    "occasion": ("场景", "Occasion"),
    "festival": ("节日", "Festival"),
    "feedback_id": ("投诉编号（回访用）", "Feedback id (follow-up)"),
    "channel": ("渠道", "Channel"),
    "language": ("语言", "Language"),
    "tone": ("语气", "Tone"),
    "draft": ("生成草稿", "Draft"),
    "draft_text": ("草稿（由人工审核后发送，Guanxi 不会发送）", "Draft (a person reviews and sends it; Guanxi sends nothing)"),
    "sources": ("个人信息来源", "Where each personal detail comes from"),
    "segment": ("客户分群（批量起草）", "Segment (batch drafts)"),
    "batch": ("为该分群批量起草并导出 CSV", "Draft for the whole segment, export CSV"),
    "batch_file": ("导出的 CSV", "Exported CSV"),
    "effect": ("活动效果", "Campaign effect"),
    "effect_campaign": ("活动（已标记发送）", "Campaign (marked sent)"),
    "effect_window": ("评估窗口（发送后天数）", "Window (days after sending)"),
    "effect_run": ("评估该活动", "Measure this campaign"),
    "effect_compare": ("对比所有活动并给出建议", "Compare all, with next actions"),
    "data": ("数据", "Data"),
    "upload": ("上传 CSV / Excel 文件", "Upload CSV / Excel files"),
    "mapping": ("字段映射 mapping.toml（可选）", "Column mapping mapping.toml (optional)"),
    "build": ("导入并构建", "Build workspace"),
    "build_log": ("构建日志", "Build log"),
    "quality": ("数据质量报告", "Quality report"),
    "quarantine": ("各表的行数与隔离数", "Rows and quarantine per table"),
    "workspace": ("当前工作区", "Workspace in use"),
    "provenance": ("数据来源", "Provenance"),
    "thinking": ("正在查询…", "Looking it up…"),
    "admin_only": ("仅管理员可以上传数据。", "Only an admin may upload data."),
    "no_files": ("请先上传文件。", "Upload files first."),
    "new_status": ("新状态", "New status"),
    "resolution": ("处理结果（最多 300 字，会记入事件日志）", "Resolution (at most 300 characters, kept in the event log)"),
    "save_status": ("保存投诉状态", "Save complaint status"),
    "followup_box": ("客服跟进：投诉状态、备注", "Service follow-up: complaint status, notes"),
    "card_complaint": ("该客户的投诉编号", "This customer's complaint id"),
    "card_draft": ("起草投诉回访", "Draft the complaint follow-up"),
    "note": ("备注（最多 500 字）", "Note (at most 500 characters)"),
    "add_note": ("添加备注", "Add note"),
    "no_card": ("请先打开一位客户的卡片。", "Open a customer's card first."),
    "mark_sent": ("我已发送这条消息（记入联系记录）", "I sent this message (add to the contact history)"),
    "campaigns": ("营销活动", "Campaigns"),
    "cm_pick": ("活动", "Campaign"),
    "cm_refresh": ("刷新", "Refresh"),
    "cm_target": ("目标客户", "Target"),
    "cm_size": ("人数 / 天数", "How many / days"),
    "cm_segment": ("分群（按分群时）", "Segment (for a segment)"),
    "cm_city": ("城市（可选）", "City (optional)"),
    "cm_create": ("创建活动草稿", "Create a draft campaign"),
    "cm_drafts": ("草稿（点选一行可修改；客户文字按原样显示）", "Drafts (click a row to edit)"),
    "cm_edit": ("修改选中客户的草稿", "Edit the selected customer's draft"),
    "cm_save": ("保存修改（审批时生效）", "Keep the edit (applied on approval)"),
    "cm_approve": ("审批", "Approve"),
    "cm_csv": ("导出 CSV", "Export CSV"),
    "cm_xlsx": ("导出 xlsx", "Export .xlsx"),
    "cm_sent": ("标记为已发送", "Mark sent"),
    "cm_cancel": ("取消活动", "Cancel campaign"),
}
TARGETS = [("流失风险名单 at-risk list", "at_risk"), ("关怀日历·生日 birthdays", "care_calendar"),
           ("客户分群 segment", "segment"), ("N 天未下单 no order in N days", "metric_query")]
KINDS = [("投诉 complaint", "complaint"), ("建议 suggestion", "suggestion"), ("表扬 praise", "praise"),
         ("咨询 inquiry", "inquiry"), ("全部 all", "all")]
STATUSES = [("全部 any", ""), ("未解决 open", "open"), ("已解决 resolved", "resolved")]
NEW_STATUSES = [("已解决 resolved", "resolved"), ("处理中 in progress", "in_progress"), ("重新打开 reopen", "open")]
OCCASIONS = [("生日 birthday", "birthday"), ("节日 festival", "festival"), ("挽回 win-back", "winback"),
             ("投诉回访 complaint follow-up", "complaint_followup"), ("VIP 感谢 VIP thanks", "vip_thanks"),
             ("商品推荐 recommendation", "recommendation")]
FESTIVALS = ["春节", "元宵", "端午", "中秋", "国庆", "元旦", "Christmas", "New Year"]
CHANNELS = [("短信 SMS", "sms"), ("微信 WeChat", "wechat"), ("邮件 e-mail", "email")]
LANGS = [("自动 auto", "auto"), ("中文", "zh"), ("English", "en")]
TONES = [("亲切 warm", "warm"), ("正式 formal", "formal"), ("活泼 playful", "playful")]
EXAMPLES = ["哪些客户有流失风险？", "各省份的销售额", "每月销售额趋势", "上个季度投诉最多的问题是什么？",
            "What do people buy together with green tea?", "What is the repurchase rate?"]
ROLE_NAMES = {"manager": "经理 manager", "agent": "客服 agent", "admin": "管理员 admin"}
AGENT_EXAMPLES = ["快递太慢了，有类似的投诉吗？", "上个季度投诉最多的问题是什么？", "接下来 7 天要联系哪些客户？",
                  "What do people buy together with green tea?", "parcel arrived damaged, any similar complaints?"]
CSS = """
#customer-card {font-size: 14px}
#customer-card table.gx-facts {width: 100%; border-collapse: collapse; margin: 4px 0}
#customer-card table.gx-facts td {border: none; border-bottom: 1px solid var(--border-color-primary); padding: 4px 6px}
#customer-card table.gx-facts td:first-child {white-space: nowrap; font-weight: 600; width: 30%}
.gx-who {text-align: right}
#ui-lang {min-width: 170px}
#build-log textarea {font-family: var(--font-mono); font-size: 12px}
#gx-preload {position: absolute !important; left: -10000px; top: 0; width: 300px; height: 100px; overflow: hidden}
"""


def t(key: str, lang: str) -> str:
    zh, en = TEXT[key]
    return en if lang == "en" else zh


# ---------------------------------------------------------------- workspace helpers
def _shared_ws(root) -> Workspace:
    """The process-wide cached workspace of the tools (tables load once)."""
    from tools.context import workspace_for
    return workspace_for(root)


def _upload_dir(settings: Settings) -> Path:
    ws = Path(settings.workspace)
    return ws.parent / f"{ws.name}-uploaded"


class Session:
    """One conversation: one logged-in user in one Gradio session (a browser tab or an API client) —
    the workspace in use, the assistant with its memory, the last card. ``role`` is the one the
    request's user had when it began (`Sessions.get` starts another when it changes). ``entry`` is
    where its questions come in, for the audit log: "app" (the chat page) or "app_api" (/ask)."""

    def __init__(self, settings: Settings, user: str, role: str, entry: str = "app"):
        self.settings, self.user, self.role, self.entry = settings, user, role, entry
        self._assistant = None
        self.lock = threading.Lock()  # one question at a time per conversation
        self.card: dict | None = None  # the last card shown: {"profile", "recs"}
        self.used = time.monotonic()

    @property
    def ws(self) -> Workspace:
        return _shared_ws(self.settings.workspace)

    @property
    def assistant(self):
        if self._assistant is None:
            from assistant import Assistant
            self._assistant = Assistant(settings=self.settings, role=self.role, user=self.user, entry=self.entry)
        return self._assistant

    def ask(self, question: str) -> dict:
        """One question; `Assistant.ask` writes its audit record."""
        with self.lock:
            return self.assistant.ask(question)

    def use_workspace(self, path: Path) -> None:
        self.settings = self.settings.with_(workspace=path)
        self._assistant = None
        self.card = None

    def tool(self, name: str, args: dict, event: str = "tool") -> dict:
        """Call a tool as this session's role (refused / masked by the tool layer) and audit it."""
        from tools.context import ToolContext
        from tools.registry import call_tool
        args = {k: v for k, v in args.items() if v not in (None, "")}
        refused, result = False, None
        try:
            result = call_tool(name, args, ctx=ToolContext(self.settings, role=self.role, user=self.user))
            return result
        except GuanxiError as e:
            refused = type(e).__name__ == "ToolDenied"
            raise
        finally:
            audit(self.ws, self.user, self.role, event,
                  tool_calls=[{"tool": name, "args": args, "refused": refused}], **export_fields(result))


SESSION_IDLE_SECONDS = 4 * 3600   # an API client never says goodbye: its conversation ends when idle
MAX_SESSIONS = 1000


class Sessions:
    """The app's conversations, keyed by (logged-in user, Gradio session hash, entry): a session hash
    replayed under another login finds nothing of the first user's, and two API clients of one user
    are two conversations; a user whose role changed starts a fresh one (nothing seen with the old
    rights, nor the workspace switched to, carries over). A closed tab drops its own (`drop`); idle
    ones are dropped after `SESSION_IDLE_SECONDS`, the least recently used beyond `MAX_SESSIONS`."""

    def __init__(self, settings: Settings, clock=time.monotonic):
        self.settings, self.clock = settings, clock
        self._by_key: dict[tuple, Session] = {}
        self._lock = threading.Lock()

    def get(self, user: str, role: str, session_hash: str | None, entry: str) -> Session:
        """The conversation of this user in this session, with ``role`` (read from the request)."""
        now = self.clock()
        if not session_hash:   # a call with no session (a bare HTTP request): a conversation of its own
            return Session(self.settings, user, role, entry=entry)
        key = (user, session_hash, entry)
        with self._lock:
            for k in [k for k, st in self._by_key.items() if now - st.used > SESSION_IDLE_SECONDS]:
                del self._by_key[k]
            st = self._by_key.get(key)
            if st is None or st.role != role:
                if st is None and len(self._by_key) >= MAX_SESSIONS:
                    del self._by_key[min(self._by_key, key=lambda k: self._by_key[k].used)]
                st = self._by_key[key] = Session(self.settings, user, role, entry=entry)
            st.used = now
            return st

    def drop(self, user: str, session_hash: str | None) -> None:
        with self._lock:
            for k in [k for k in self._by_key if k[:2] == (user, session_hash)]:
                del self._by_key[k]


# ---------------------------------------------------------------- views
def _ws_summary(st: Session) -> str:
    try:
        from assistant.pipeline import workspace_summary
        return f"```\n{workspace_summary(st.settings).replace('```', '` ` `')}\n```"
    except GuanxiError as e:
        return f"⚠ {md_text(e)}"


# ---------------------------------------------------------------- the app
def build_app(settings: Settings, anonymous_role: str | None = None) -> gr.Blocks:
    """The Blocks app. Users come from the login (``gr.Request.username``); their role from the
    workspace's users file. Without a login (tests) ``anonymous_role`` is used, or access is refused."""
    home_ws = Workspace(settings.workspace)

    sessions = Sessions(settings)

    def session(request: gr.Request | None, entry: str = "app") -> Session:
        """This call's conversation, as the user the request is logged in as, with the role the
        users file gives that user now (a user taken out of the file is refused at once)."""
        user = getattr(request, "username", None)
        role = role_of(home_ws, user) if user else anonymous_role
        if role is None:
            raise gr.Error("not logged in / 未登录")
        return sessions.get(user or "local", role, getattr(request, "session_hash", None), entry)

    with gr.Blocks(title="Guanxi 关系", analytics_enabled=False) as demo:
        lang = gr.State("zh")
        i18n: list[tuple] = []  # (component, text key, property) re-labelled on a language switch

        def L(comp, key, prop="label"):
            i18n.append((comp, key, prop))
            return comp

        with gr.Row(equal_height=True):
            title = L(gr.Markdown(f"## {t('title', 'zh')}"), "title", "h2")
            with gr.Column(scale=0, min_width=260):
                whoami = gr.Markdown("", elem_classes="gx-who", elem_id="whoami")
                ui_lang = gr.Radio(["中文", "English"], value="中文", show_label=False, container=False,
                                   elem_id="ui-lang")
        # the feedback index, built in the background by `guanxi start` (assistant/indexer.py)
        index_md = gr.Markdown(status_line(settings), elem_id="index-status")
        index_timer = gr.Timer(2.0)
        index_timer.tick(lambda lg: status_line(settings, lg), [lang], [index_md], api_visibility="private",
                         show_progress="hidden")
        with gr.Tabs(selected="chat") as tabs:
            with gr.Tab(t("chat", "zh"), id="chat", elem_id="tab-chat") as tab_chat:
                L(tab_chat, "chat")
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(height=680, elem_id="chatbot", show_label=False, buttons=["copy"],
                                             feedback_options=None, layout="panel")
                        with gr.Row():
                            question = L(gr.Textbox(placeholder=t("ask", "zh"), show_label=False, scale=5,
                                                    elem_id="question", autofocus=True), "ask", "placeholder")
                            send = L(gr.Button(t("send", "zh"), variant="primary", scale=1, min_width=90,
                                               elem_id="send"), "send", "value")
                        with gr.Row():
                            examples = gr.Dataset(components=[gr.Textbox(visible=False)], samples=[[e] for e in EXAMPLES],
                                                  label=t("examples", "zh"), elem_id="examples", scale=5)
                            L(examples, "examples")
                            reset = L(gr.Button(t("reset", "zh"), size="sm", scale=1, min_width=90, elem_id="reset"),
                                      "reset", "value")
                    with gr.Column(scale=2, min_width=340):
                        with gr.Row():
                            card_q = L(gr.Textbox(label=t("card_id", "zh"), scale=3, elem_id="card-id"), "card_id")
                            card_btn = L(gr.Button(t("card_open", "zh"), scale=1, min_width=80, elem_id="card-open"),
                                         "card_open", "value")
                        # a tiny hidden chart, drawn right after the page loads, so that the browser has
                        # loaded plotly.js before the first answer with a chart arrives
                        preload = gr.Plot(show_label=False, container=False, elem_id="gx-preload")
                        with gr.Group():
                            card_title = L(gr.Markdown(f"### {t('card', 'zh')}"), "card", "h3")
                            card = gr.Markdown(t("card_empty", "zh"), elem_id="customer-card", padding=True)
                        # service follow-up on the card's customer: written to the event log (tools.service_tools)
                        with gr.Accordion(t("followup_box", "zh"), open=False, elem_id="card-followup") as card_acc:
                            L(card_acc, "followup_box")
                            with gr.Row():
                                k_fid = L(gr.Dropdown([], label=t("card_complaint", "zh"), allow_custom_value=True,
                                                      elem_id="card-complaint"), "card_complaint")
                                k_new = L(gr.Dropdown(NEW_STATUSES, value="resolved", label=t("new_status", "zh"),
                                                      elem_id="card-new-status"), "new_status")
                            k_res = L(gr.Textbox(label=t("resolution", "zh"), max_length=300, elem_id="card-resolution"),
                                      "resolution")
                            with gr.Row():
                                k_save = L(gr.Button(t("save_status", "zh"), size="sm", elem_id="card-save-status"),
                                           "save_status", "value")
                                k_draft = L(gr.Button(t("card_draft", "zh"), size="sm", elem_id="card-draft"),
                                            "card_draft", "value")
                            k_note = L(gr.Textbox(label=t("note", "zh"), max_length=500, elem_id="card-note"), "note")
                            k_add = L(gr.Button(t("add_note", "zh"), size="sm", elem_id="card-add-note"), "add_note", "value")
                            k_msg = gr.Markdown("", elem_id="card-followup-msg")
            with gr.Tab(t("complaints", "zh"), id="complaints", elem_id="tab-complaints") as tab_complaints:
                L(tab_complaints, "complaints")
                with gr.Row():
                    cq = L(gr.Textbox(label=t("query", "zh"), scale=4, elem_id="complaint-query"), "query")
                    cbtn = L(gr.Button(t("search", "zh"), variant="primary", scale=1, elem_id="complaint-search"),
                             "search", "value")
                with gr.Row():
                    ckind = L(gr.Dropdown(KINDS, value="complaint", label=t("kind", "zh")), "kind")
                    ccat = L(gr.Dropdown([""], value="", label=t("category", "zh"), allow_custom_value=True), "category")
                    cstatus = L(gr.Dropdown(STATUSES, value="", label=t("status", "zh")), "status")
                    cfrom = L(gr.Textbox(label=t("date_from", "zh"), placeholder="2025-01-01"), "date_from")
                    cto = L(gr.Textbox(label=t("date_to", "zh"), placeholder="2026-12-31"), "date_to")
                cmsg = gr.Markdown("")
                cresults = L(gr.Dataframe(interactive=False, wrap=True, elem_id="complaint-results",
                                          label=t("results", "zh"), max_height=520,
                                          column_widths=["12%", "8%", "8%", "6%", "7%", "13%", "24%", "16%", "6%"]),
                             "results")
                cselected = gr.State(None)
                chits = gr.State([])
                with gr.Row():
                    csel_md = gr.Markdown("")
                    cfollow = L(gr.Button(t("followup", "zh"), elem_id="complaint-followup"), "followup", "value")
                with gr.Row():   # the selected complaint's follow-through, written to the event log
                    cnew = L(gr.Dropdown(NEW_STATUSES, value="resolved", label=t("new_status", "zh"), scale=1,
                                         elem_id="complaint-new-status"), "new_status")
                    cres = L(gr.Textbox(label=t("resolution", "zh"), max_length=300, scale=3,
                                        elem_id="complaint-resolution"), "resolution")
                    cupd = L(gr.Button(t("save_status", "zh"), variant="primary", scale=1, elem_id="complaint-update"),
                             "save_status", "value")
            with gr.Tab(t("drafts", "zh"), id="drafts", elem_id="tab-drafts") as tab_drafts:
                L(tab_drafts, "drafts")
                with gr.Row():
                    d_cid = L(gr.Textbox(label=t("customer_id", "zh"), elem_id="draft-customer", interactive=True),
                              "customer_id")
                    d_occ = L(gr.Dropdown(OCCASIONS, value="birthday", label=t("occasion", "zh")), "occasion")
                    d_fest = L(gr.Dropdown(FESTIVALS, value="春节", label=t("festival", "zh"), visible=False,
                                           allow_custom_value=True), "festival")
                    d_fb = L(gr.Textbox(label=t("feedback_id", "zh"), visible=False, interactive=True), "feedback_id")
                with gr.Row():
                    d_ch = L(gr.Radio(CHANNELS, value="sms", label=t("channel", "zh")), "channel")
                    d_lang = L(gr.Radio(LANGS, value="auto", label=t("language", "zh")), "language")
                    d_tone = L(gr.Radio(TONES, value="warm", label=t("tone", "zh")), "tone")
                d_btn = L(gr.Button(t("draft", "zh"), variant="primary", elem_id="draft-btn"), "draft", "value")
                d_text = L(gr.Textbox(label=t("draft_text", "zh"), lines=5, buttons=["copy"], elem_id="draft-text"),
                           "draft_text")
                with gr.Row():
                    d_sent = L(gr.Button(t("mark_sent", "zh"), size="sm", scale=1, elem_id="draft-sent"), "mark_sent", "value")
                    d_sent_md = gr.Markdown("", elem_id="draft-sent-status")
                d_sources = L(gr.Dataframe(label=t("sources", "zh"), interactive=False, wrap=True,
                                           column_widths=["18%", "18%", "64%"]), "sources")
                with gr.Row(visible=False) as batch_row:
                    d_seg = L(gr.Dropdown(["At Risk"], value="At Risk", label=t("segment", "zh"),
                                          allow_custom_value=True, scale=2), "segment")
                    d_batch = L(gr.Button(t("batch", "zh"), scale=1, elem_id="batch-btn"), "batch", "value")
                    d_file = L(gr.HTML(label=t("batch_file", "zh"), show_label=True, container=True, padding=True,
                                       scale=2, visible=False, elem_id="batch-file", js_on_load=None), "batch_file")
            with gr.Tab(t("effect", "zh"), id="effect", visible=False, elem_id="tab-effect") as tab_effect:
                L(tab_effect, "effect")   # measured by tools.campaign_effect; CAMPAIGN's page may fold this in
                with gr.Row():
                    e_campaign = L(gr.Dropdown([], label=t("effect_campaign", "zh"), scale=3, elem_id="effect-campaign",
                                               allow_custom_value=True),
                                   "effect_campaign")
                    e_window = L(gr.Number(value=settings.campaign_effect_window_days, precision=0, minimum=1,
                                           maximum=365, label=t("effect_window", "zh"), scale=1), "effect_window")
                with gr.Row():
                    e_run = L(gr.Button(t("effect_run", "zh"), variant="primary", elem_id="effect-run"), "effect_run", "value")
                    e_all = L(gr.Button(t("effect_compare", "zh"), elem_id="effect-compare"), "effect_compare", "value")
                e_text = gr.Markdown("", elem_id="effect-text")
                e_plot = gr.Plot(show_label=False, elem_id="effect-plot")
            with gr.Tab(t("campaigns", "zh"), id="campaigns", elem_id="tab-campaigns") as tab_campaigns:
                L(tab_campaigns, "campaigns")
                with gr.Row(visible=False) as cm_create_row:
                    cm_kind = L(gr.Dropdown(TARGETS, value="at_risk", label=t("cm_target", "zh"), elem_id="campaign-target"),
                                "cm_target")
                    cm_n = L(gr.Number(value=200, precision=0, label=t("cm_size", "zh"), elem_id="campaign-size"), "cm_size")
                    cm_seg = L(gr.Textbox(label=t("cm_segment", "zh"), elem_id="campaign-segment"), "cm_segment")
                    cm_city = L(gr.Textbox(label=t("cm_city", "zh"), elem_id="campaign-city"), "cm_city")
                    cm_ch = L(gr.Radio(CHANNELS, value="sms", label=t("channel", "zh")), "channel")
                    cm_new = L(gr.Button(t("cm_create", "zh"), variant="primary", elem_id="campaign-create"),
                               "cm_create", "value")
                with gr.Row():
                    cm_pick = L(gr.Dropdown([], label=t("cm_pick", "zh"), scale=4, elem_id="campaign-pick"), "cm_pick")
                    cm_refresh = L(gr.Button(t("cm_refresh", "zh"), scale=1, elem_id="campaign-refresh"),
                                   "cm_refresh", "value")
                cm_info = gr.Markdown("", elem_id="campaign-info")
                cm_msg = gr.Markdown("", elem_id="campaign-msg")
                with gr.Row(visible=False) as cm_steps:
                    cm_approve = L(gr.Button(t("cm_approve", "zh"), variant="primary", elem_id="campaign-approve"),
                                   "cm_approve", "value")
                    cm_csv = L(gr.Button(t("cm_csv", "zh"), elem_id="campaign-export-csv"), "cm_csv", "value")
                    cm_xlsx = L(gr.Button(t("cm_xlsx", "zh"), elem_id="campaign-export-xlsx"), "cm_xlsx", "value")
                    cm_sent = L(gr.Button(t("cm_sent", "zh"), elem_id="campaign-sent"), "cm_sent", "value")
                    cm_cancel = L(gr.Button(t("cm_cancel", "zh"), variant="stop", elem_id="campaign-cancel"),
                                  "cm_cancel", "value")
                cm_file = gr.HTML("", visible=False, elem_id="campaign-file")
                cm_table = L(gr.Dataframe(label=t("cm_drafts", "zh"), interactive=False, wrap=True, max_height=420,
                                          column_widths=["10%", "10%", "52%", "8%", "15%", "5%"],
                                          elem_id="campaign-drafts"), "cm_drafts")
                cm_edits = gr.State({})
                with gr.Row(visible=False) as cm_edit_row:
                    cm_cid = gr.Textbox(label=t("customer_id", "zh"), interactive=False, scale=1, elem_id="campaign-edit-cid")
                    cm_text = L(gr.Textbox(label=t("cm_edit", "zh"), lines=3, scale=4, elem_id="campaign-edit-text"),
                                "cm_edit")
                    cm_save = L(gr.Button(t("cm_save", "zh"), scale=1, elem_id="campaign-edit-save"), "cm_save", "value")
                cm_sources = L(gr.Dataframe(label=t("sources", "zh"), interactive=False, wrap=True,
                                            column_widths=["18%", "18%", "64%"], elem_id="campaign-sources"), "sources")
            with gr.Tab(t("data", "zh"), id="data", visible=False, elem_id="tab-data") as tab_data:
                L(tab_data, "data")
                with gr.Row():
                    with gr.Column():
                        up = L(gr.File(label=t("upload", "zh"), file_count="multiple", elem_id="upload",
                                       file_types=[".csv", ".xlsx", ".xls", ".txt", ".tsv"]), "upload")
                        mapping = L(gr.File(label=t("mapping", "zh"), file_types=[".toml"]), "mapping")
                        bbtn = L(gr.Button(t("build", "zh"), variant="primary", elem_id="build-btn"), "build", "value")
                    with gr.Column():
                        ws_choice = L(gr.Radio([("demo", "demo")], value="demo", label=t("workspace", "zh")),
                                      "workspace")
                        ws_info = gr.Markdown("")
                blog = L(gr.Textbox(label=t("build_log", "zh"), lines=8, max_lines=20, autoscroll=True,
                                    elem_id="build-log"), "build_log")
                bquar = L(gr.Dataframe(label=t("quarantine", "zh"), interactive=False, wrap=True), "quarantine")
                breport = L(gr.JSON(label=t("quality", "zh"), open=False), "quality")

        # ------------------------------------------------ handlers
        def on_load(request: gr.Request):
            st = session(request)
            admin = may("see_data_quality", st.role)
            cats = [""]
            try:
                cats += sorted(st.ws.table("products")["category"].dropna().astype(str).unique().tolist())
            except Exception:  # noqa: BLE001
                pass
            choices = [("demo", "demo")] + ([("uploaded", "uploaded")] if Workspace(_upload_dir(settings)).is_built()
                                            else [])
            report = st.ws.quality_report if admin else {}
            audit(st.ws, st.user, st.role, "page_load")
            segs = segment_choices(st.ws)
            return (f"**{md_text(st.user)}** · {ROLE_NAMES.get(st.role, st.role)}", gr.update(visible=admin), gr.update(choices=cats),
                    _ws_summary(st) if admin else "", gr.update(choices=choices), gr.update(visible=allowed("draft_care_batch", st.role)),
                    gr.update(choices=segs, value=segs[0] if "At Risk" not in segs else "At Risk"),
                    report, quarantine_table(report) if admin else pd.DataFrame(),
                    chart_figure({"chart": {"data": [{"type": "bar", "x": ["a"], "y": [1]}], "layout": {"height": 100}}}),
                    gr.Dataset(samples=[[e] for e in (AGENT_EXAMPLES if st.role == "agent" else EXAMPLES)]))

        demo.load(on_load, None, [whoami, tab_data, ccat, ws_info, ws_choice, batch_row, d_seg, breport, bquar,
                                     preload, examples], api_visibility="private")

        def on_effect_load(request: gr.Request):
            st = session(request)
            if not allowed("campaign_effect", st.role):
                return gr.update(visible=False), gr.update()
            from tools.campaign_effect import campaign_choices
            choices = campaign_choices(st.ws)
            return gr.update(visible=True), gr.update(choices=choices, value=choices[0][1] if choices else None)

        demo.load(on_effect_load, None, [tab_effect, e_campaign], api_visibility="private")

        def on_effect(tool, campaign, window, lg, request: gr.Request):
            st = session(request)
            args = {"window_days": int(window) if window else None}
            if tool == "campaign_effect":
                args["campaign"] = campaign
            try:   # the tool layer checks the role; the call is audited
                res = st.tool(tool, args, event=tool)
            except GuanxiError as e:
                return f"⚠ {md_text(e)}", None
            return effect_view(tool, res, lg)

        def on_effect_one(campaign, window, lg, request: gr.Request):
            return on_effect("campaign_effect", campaign, window, lg, request)

        def on_effect_all(campaign, window, lg, request: gr.Request):
            return on_effect("compare_campaigns", campaign, window, lg, request)

        e_run.click(on_effect_one, [e_campaign, e_window, lang], [e_text, e_plot], api_visibility="private")
        e_all.click(on_effect_all, [e_campaign, e_window, lang], [e_text, e_plot], api_visibility="private")

        def on_lang(choice, request: gr.Request):
            st = session(request)
            lg = "en" if choice == "English" else "zh"
            ups = [lg]
            for comp, key, prop in i18n:
                if prop == "h2":
                    ups.append(f"## {t(key, lg)}")
                elif prop == "h3":
                    ups.append(f"### {t(key, lg)}")
                else:
                    ups.append(gr.update(**{prop: t(key, lg)}))
            c = st.card
            ups.append(render_card(c["profile"], lg, c["recs"]) if c else t("card_empty", lg))
            return ups

        ui_lang.change(on_lang, [ui_lang], [lang] + [c for c, _, _ in i18n] + [card], api_visibility="private")

        examples.click(lambda x: x[0], [examples], [question], api_visibility="private")

        def card_for(st: Session, cid: str, lg: str) -> str:
            try:
                profile = st.tool("customer_profile", {"customer_id": cid}, event="card")
            except GuanxiError as e:
                return f"⚠ {md_text(e)}"
            st.card = {"profile": profile, "recs": None}
            return render_card(profile, lg)

        def on_ask(message, history, lg, request: gr.Request):
            st = session(request)
            history = list(history or [])
            message = (message or "").strip()
            if not message:
                yield history, gr.update(), ""
                return
            history.append({"role": "user", "content": md_text(message, lines=True)})  # pasted text shows as text
            history.append({"role": "assistant", "content": f"*{t('thinking', lg)}*"})
            yield history, gr.update(), ""
            try:
                result = st.ask(message)
            except GuanxiError as e:
                result = {"answer": f"⚠ {md_text(e)}", "tool_calls": [], "provenance": [], "chart": None, "language": lg}
            except Exception as e:  # noqa: BLE001 - a bug must not end the conversation
                import logging
                logging.getLogger("guanxi.app").exception("question failed")
                result = {"answer": f"⚠ {type(e).__name__}: {md_text(e)}", "tool_calls": [], "provenance": [], "chart": None,
                          "language": lg}
            answer = split_answer(result.get("answer") or "")
            alang = result.get("language") or lg
            step = max(8, len(answer) // 6)
            for i in range(step, len(answer) + step, step):  # stream the answer in a few chunks
                history[-1] = {"role": "assistant", "content": answer[:i]}
                yield history, gr.update(), ""
                time.sleep(0.02)
            fig = chart_figure(result)
            if fig is not None:
                history.append({"role": "assistant", "content": gr.Plot(fig, show_label=False)})
            prov = result.get("provenance") or []
            if prov:
                history.append({"role": "assistant", "content": "\n".join(f"- {md_text(p)}" for p in prov) + sql_block(result),
                                "metadata": {"title": t("provenance", alang), "status": "done"}})
            for link, name in export_links(result):
                history.append({"role": "assistant", "content": f"[⬇ {name}]({link})"})
            cid = customer_in(result)
            card_md = card_for(st, cid, lg) if cid else gr.update()
            yield history, card_md, ""

        send.click(on_ask, [question, chatbot, lang], [chatbot, card, question], api_visibility="private")
        question.submit(on_ask, [question, chatbot, lang], [chatbot, card, question], api_visibility="private")

        def on_card(q, lg, request: gr.Request):
            st = session(request)
            q = (q or "").strip()
            if not q:
                return t("card_empty", lg)
            return card_for(st, q, lg)

        card_btn.click(on_card, [card_q, lang], [card], api_visibility="private")
        card_q.submit(on_card, [card_q, lang], [card], api_visibility="private")

        def on_reset(lg, request: gr.Request):
            st = session(request)
            with st.lock:
                st.assistant.reset()
            st.card = None
            return [], t("card_empty", lg)

        reset.click(on_reset, [lang], [chatbot, card], api_visibility="private")

        def on_search(text, kind, cat, status, dfrom, dto, lg, request: gr.Request):
            st = session(request)
            if not (text or "").strip():
                return pd.DataFrame(), "⚠ " + t("enter_query", lg), None, "", []
            try:
                res = st.tool("similar_complaints", {"text": text, "k": 10, "kind": kind or "complaint",
                                                     "category": cat, "status": status,
                                                     "date_from": (dfrom or "").strip(), "date_to": (dto or "").strip()},
                              event="complaint_search")
            except GuanxiError as e:
                return pd.DataFrame(), f"⚠ {md_text(e)}", None, "", []
            raw = res.get("hits") or []
            ids = [{"feedback_id": str(h.get("feedback_id")), "customer_id": str(h.get("customer_id"))} for h in raw]
            zh = lg != "en"
            msg = (f"找到 {res.get('count', len(raw))} 条（符合筛选的反馈共 {res.get('matched', '?')} 条，"
                   f"其中 {res.get('resolved', 0)} 条已解决）" if zh else
                   f"{res.get('count', len(raw))} shown ({res.get('matched', '?')} feedback items pass the filters; "
                   f"{res.get('resolved', 0)} resolved)")
            msg += f"  \n<sub>{md_text(res.get('provenance', ''))}</sub>"
            return complaints_table(raw, lg), msg, None, "", ids

        search_inputs = [cq, ckind, ccat, cstatus, cfrom, cto, lang]
        search_outputs = [cresults, cmsg, cselected, csel_md, chits]
        cbtn.click(on_search, search_inputs, search_outputs, api_visibility="private")
        cq.submit(on_search, search_inputs, search_outputs, api_visibility="private")

        def on_select(ids, lg, evt: gr.SelectData):
            try:
                sel = ids[evt.index[0]]
            except Exception:  # noqa: BLE001
                return None, ""
            return sel, f"{t('selected', lg)}: `{md_code(sel['feedback_id'])}` · `{md_code(sel['customer_id'])}`"

        cresults.select(on_select, [chits, lang], [cselected, csel_md], api_visibility="private")

        def on_follow(sel, lg, request: gr.Request):
            st = session(request)
            if not sel:
                gr.Warning(t("select_first", lg))
                return (gr.update(),) * 7
            text, sources = _draft(st, sel["customer_id"], "complaint_followup", None, sel["feedback_id"],
                                   "sms", "auto", "warm", lg)
            return (gr.Tabs(selected="drafts"), sel["customer_id"], "complaint_followup",
                    gr.update(value=sel["feedback_id"], visible=True), gr.update(visible=False), text, sources)

        cfollow.click(on_follow, [cselected, lang], [tabs, d_cid, d_occ, d_fb, d_fest, d_text, d_sources], api_visibility="private")

        def on_update(sel, new, res, text, kind, cat, status, dfrom, dto, lg, request: gr.Request):
            """The selected complaint's new status (an event; the file is never changed), then the results again."""
            st = session(request)
            if not sel:
                gr.Warning(t("select_first", lg))
                return (gr.update(),) * 6
            try:
                done = st.tool("update_complaint", {"feedback_id": sel["feedback_id"], "status": new, "resolution": res},
                               event="complaint_update")
            except GuanxiError as e:
                return gr.update(), f"⚠ {md_text(e)}", sel, gr.update(), gr.update(), gr.update()
            table, msg, _, _, ids = on_search(text, kind, cat, status, dfrom, dto, lg, request)
            label = done.get("label_zh" if lg != "en" else "label_en")
            return (table, f"✓ `{md_code(done['feedback_id'])}` → {md_text(label)}  \n" + msg, sel,
                    f"{t('selected', lg)}: `{md_code(sel['feedback_id'])}` · `{md_code(sel['customer_id'])}` · {md_text(label)}",
                    ids, "")

        cupd.click(on_update, [cselected, cnew, cres] + search_inputs, [cresults, cmsg, cselected, csel_md, chits, cres],
                   api_visibility="private")

        def card_complaints(request: gr.Request):
            """The card customer's complaints (open first, then those followed through) for the follow-up box."""
            st = session(request)
            p = (st.card or {}).get("profile") or {}
            ids = []
            for c in (p.get("open_complaints") or []) + (p.get("followed_complaints") or []):
                if c.get("feedback_id") and c["feedback_id"] not in ids:
                    ids.append(str(c["feedback_id"]))
            return gr.update(choices=ids, value=ids[0] if ids else None)

        card.change(card_complaints, None, [k_fid], api_visibility="private")

        def refresh_card(st: Session, lg: str) -> str:
            p = (st.card or {}).get("profile") or {}
            return card_for(st, p["customer_id"], lg) if p.get("customer_id") else t("card_empty", lg)

        def on_card_status(fid, new, res, lg, request: gr.Request):
            st = session(request)
            if not ((st.card or {}).get("profile") or {}).get("customer_id"):
                return gr.update(), "⚠ " + t("no_card", lg), gr.update()
            if not (fid or "").strip():
                return gr.update(), "⚠ " + t("select_first", lg), gr.update()
            try:
                done = st.tool("update_complaint", {"feedback_id": fid, "status": new, "resolution": res},
                               event="complaint_update")
            except GuanxiError as e:
                return gr.update(), f"⚠ {md_text(e)}", gr.update()
            return (refresh_card(st, lg), f"✓ `{md_code(done['feedback_id'])}` → "
                    f"{md_text(done.get('label_zh' if lg != 'en' else 'label_en'))}", "")

        k_save.click(on_card_status, [k_fid, k_new, k_res, lang], [card, k_msg, k_res], api_visibility="private")

        def on_card_note(text, lg, request: gr.Request):
            st = session(request)
            cid = ((st.card or {}).get("profile") or {}).get("customer_id")
            if not cid:
                return gr.update(), "⚠ " + t("no_card", lg), gr.update()
            try:
                st.tool("add_customer_note", {"customer_id": cid, "text": text}, event="note")
            except GuanxiError as e:
                return gr.update(), f"⚠ {md_text(e)}", gr.update()
            return refresh_card(st, lg), "✓", ""

        k_add.click(on_card_note, [k_note, lang], [card, k_msg, k_note], api_visibility="private")

        def on_card_draft(fid, lg, request: gr.Request):
            st = session(request)
            cid = ((st.card or {}).get("profile") or {}).get("customer_id")
            if not cid:
                gr.Warning(t("no_card", lg))
                return (gr.update(),) * 7
            return on_follow({"feedback_id": (fid or "").strip(), "customer_id": cid}, lg, request)

        k_draft.click(on_card_draft, [k_fid, lang], [tabs, d_cid, d_occ, d_fb, d_fest, d_text, d_sources],
                      api_visibility="private")

        def on_occ(occ):
            return gr.update(visible=occ == "festival"), gr.update(visible=occ == "complaint_followup")

        d_occ.change(on_occ, [d_occ], [d_fest, d_fb], api_visibility="private")

        def on_draft(cid, occ, fest, fb, ch, dl, tone, lg, request: gr.Request):
            st = session(request)
            return _draft(st, cid, occ, fest if occ == "festival" else None,
                          fb if occ == "complaint_followup" else None, ch, dl, tone, lg)

        d_btn.click(on_draft, [d_cid, d_occ, d_fest, d_fb, d_ch, d_lang, d_tone, lang], [d_text, d_sources], api_visibility="private")

        def on_sent(cid, occ, fb, ch, text, lg, request: gr.Request):
            """A person sent the drafted message (Guanxi sends nothing): a contact in the event log."""
            st = session(request)
            if not (cid or "").strip() or not (text or "").strip() or str(text).startswith("⚠"):
                return "⚠ " + ("请先生成草稿。" if lg != "en" else "Draft a message first.")
            try:
                res = st.tool("mark_message_sent", {"customer_id": cid.strip(), "occasion": occ, "channel": ch,
                                                    "feedback_id": (fb or "").strip() if occ == "complaint_followup" else None},
                              event="mark_sent")
            except GuanxiError as e:
                return f"⚠ {md_text(e)}"
            from tools.spec import spec_for
            return "✓ " + md_text(spec_for("mark_message_sent").render(res, lg != "en", {}))

        d_sent.click(on_sent, [d_cid, d_occ, d_fb, d_ch, d_text, lang], [d_sent_md], api_visibility="private")

        def on_batch(seg, occ, fest, ch, dl, tone, request: gr.Request):
            st = session(request)
            try:  # the tool layer checks the right (draft_care_batch's own) and masks the file
                res = st.tool("draft_care_batch", {"segment": seg, "occasion": occ, "channel": ch, "language": dl,
                                                   "tone": tone, "festival": fest if occ == "festival" else None},
                              event="export")
            except GuanxiError as e:
                raise gr.Error(str(e))
            # a link to the app's own download route (owner checked, audited), never the file itself:
            # a file handed to Gradio is copied to its cache, which every logged-in session may read
            return gr.update(value=export_html(res), visible=True)

        d_batch.click(on_batch, [d_seg, d_occ, d_fest, d_ch, d_lang, d_tone], [d_file], api_visibility="private")

        # ------------------------------------------------ campaigns (assistant/campaign_view.py, tools/campaigns*.py)
        def cm_show(st: Session, cid, edits, lg):
            """The picker, the campaign's summary and its drafts table (pending edits applied)."""
            choices = campaign_choices(st.ws)
            cid = cid if cid in [c for _, c in choices] else (choices[0][1] if choices else None)
            info, table = "", drafts_table(st.ws, None, None, lg)
            if cid:
                res = st.tool("show_campaign", {"campaign_id": cid}, event="campaign_view")
                info = render("show_campaign", res, lg)
                table = drafts_table(st.ws, cid, (edits or {}).get(cid), lg)
            return gr.update(choices=choices, value=cid), info, table

        def on_cm_load(lg, request: gr.Request):
            st = session(request)
            boss = allowed("create_campaign", st.role)
            return (gr.update(visible=boss), gr.update(visible=boss), gr.update(visible=boss),
                    *cm_show(st, None, {}, lg))

        cm_view = [cm_pick, cm_info, cm_table]
        tab_campaigns.select(on_cm_load, [lang], [cm_create_row, cm_steps, cm_edit_row] + cm_view, api_visibility="private")
        def on_cm_pick(cid, ed, lg, request: gr.Request):
            return cm_show(session(request), cid, ed, lg)

        cm_refresh.click(on_cm_pick, [cm_pick, cm_edits, lang], cm_view, api_visibility="private")
        cm_pick.input(on_cm_pick, [cm_pick, cm_edits, lang], cm_view, api_visibility="private")

        def on_cm_create(kind, n, seg, city, ch, ed, lg, request: gr.Request):
            st = session(request)
            args = {"target": kind, "channel": ch, "city": (city or "").strip() or None,
                    "segment": (seg or "").strip() or None}
            if kind == "at_risk" and n:
                args["top"] = int(n)
            elif kind == "care_calendar":
                args.update(days=int(n or 7), occasion="birthday")
            elif kind == "metric_query":
                args["min_days_since_order"] = int(n or 90)
            try:
                res = st.tool("create_campaign", args, event="campaign_create")
            except GuanxiError as e:
                return (f"⚠ {md_text(e)}", *cm_show(st, None, ed, lg))
            return (render("create_campaign", res, lg), *cm_show(st, res["campaign_id"], ed, lg))

        cm_new.click(on_cm_create, [cm_kind, cm_n, cm_seg, cm_city, cm_ch, cm_edits, lang], [cm_msg] + cm_view,
                     api_visibility="private")

        def on_cm_row(cid, table, lg, request: gr.Request, evt: gr.SelectData):
            row = table.iloc[evt.index[0]] if table is not None and len(table) else None
            if row is None:
                return "", "", None
            st = session(request)
            return str(row.iloc[0]), str(row.iloc[2]), draft_sources(st.ws, cid, str(row.iloc[0]), lg)

        cm_table.select(on_cm_row, [cm_pick, cm_table, lang], [cm_cid, cm_text, cm_sources], api_visibility="private")

        def on_cm_save(cid, cust, text, ed, lg, request: gr.Request):
            st = session(request)
            ed = dict(ed or {})
            if cid and cust and (text or "").strip():
                ed[cid] = {**ed.get(cid, {}), cust: text.strip()}
            return (ed, *cm_show(st, cid, ed, lg))

        cm_save.click(on_cm_save, [cm_pick, cm_cid, cm_text, cm_edits, lang], [cm_edits] + cm_view, api_visibility="private")

        def cm_step(step):
            def run(cid, ed, lg, request: gr.Request):
                st = session(request)
                msg, export = campaign_step(st.ws, st.user, st.role, step, cid, edits=(ed or {}).get(cid),
                                            ttl_minutes=settings.export_ttl_minutes,
                                            send_hours=st.settings.campaign_send_hours, lang=lg)
                ed = {k: v for k, v in (ed or {}).items() if k != cid or step != "approve" or msg.startswith("⚠")}
                file = gr.update(value=export_html(export), visible=True) if export else gr.update()
                return (msg, file, ed, *cm_show(st, cid, ed, lg))
            return run

        for btn, step in ((cm_approve, "approve"), (cm_csv, "export_csv"), (cm_xlsx, "export_xlsx"),
                          (cm_sent, "sent"), (cm_cancel, "cancel")):
            btn.click(cm_step(step), [cm_pick, cm_edits, lang], [cm_msg, cm_file, cm_edits] + cm_view,
                      api_visibility="private")

        def on_build(files, mapfile, lg, request: gr.Request, progress=gr.Progress()):
            st = session(request)
            if not may("upload_data", st.role):  # checked on the server, not only hidden in the page
                audit(st.ws, st.user, st.role, "upload_refused")
                raise gr.Error(t("admin_only", lg))
            if not files:
                raise gr.Error(t("no_files", lg))
            target = _upload_dir(settings)
            inbox = target / "inbox"
            shutil.rmtree(inbox, ignore_errors=True)
            inbox.mkdir(parents=True)
            for f in files:
                src = Path(getattr(f, "name", f))
                shutil.copy(src, inbox / src.name)
            mp = None
            if mapfile is not None:
                mp = target / "mapping.toml"
                shutil.copy(Path(getattr(mapfile, "name", mapfile)), mp)
            from assistant.pipeline import build_workspace, overall_fraction
            logs: list[str] = []
            progress(0.0, desc="reading files")

            def on_progress(ev) -> None:   # knowledge.progress.Progress → the page's progress bar
                progress(min(overall_fraction(ev), 0.99), desc=(ev.message or ev.stage)[:80])

            t0 = time.perf_counter()
            try:
                summary = build_workspace(settings.with_(workspace=target), inbox, mapping=mp, log=logs.append,
                                          progress=on_progress)
            except GuanxiError as e:
                audit(st.ws, st.user, st.role, "build_failed", error=str(e))
                return ("\n".join(logs + [f"error: {e}"]), {}, pd.DataFrame(), gr.update(), _ws_summary(st))
            st.use_workspace(target)
            audit(st.ws, st.user, st.role, "build", seconds=round(time.perf_counter() - t0, 1))
            report = Workspace(target).quality_report   # the generation just published
            return ("\n".join(logs + [summary]), report, quarantine_table(report),
                    gr.update(choices=[("demo", "demo"), ("uploaded", "uploaded")], value="uploaded"),
                    _ws_summary(st))

        bbtn.click(on_build, [up, mapping, lang], [blog, breport, bquar, ws_choice, ws_info], api_visibility="private", show_progress_on=[blog])

        def on_ws(choice, lg, request: gr.Request):
            st = session(request)
            if not may("switch_workspace", st.role):
                raise gr.Error(t("admin_only", lg))
            target = _upload_dir(settings) if choice == "uploaded" else settings.workspace
            if Path(target).resolve() != Path(st.settings.workspace).resolve():
                st.use_workspace(Path(target))
                audit(st.ws, st.user, st.role, "workspace_switch", workspace=choice)
            report = st.ws.quality_report
            cats = [""]
            try:
                cats += sorted(st.ws.table("products")["category"].dropna().astype(str).unique().tolist())
            except Exception:  # noqa: BLE001
                pass
            return (_ws_summary(st), report, quarantine_table(report), [], t("card_empty", lg),
                    gr.update(choices=cats, value=""))

        ws_choice.change(on_ws, [ws_choice, lang], [ws_info, breport, bquar, chatbot, card, ccat], api_visibility="private")

        def on_unload(request: gr.Request):
            sessions.drop(getattr(request, "username", None) or "local", getattr(request, "session_hash", None))

        demo.unload(on_unload)

        # ------------------------------------------------ API: /ask (gradio_client)
        def ask(question: str, request: gr.Request) -> dict:
            """Ask one question as the logged-in user; returns the assistant's full answer object
            {answer, language, tool_calls, provenance, chart, needs_clarification}. Each client (its
            session) is its own conversation. An export's tool result names its "file" and its
            "download" link (for its maker's login) instead of the server's path."""
            out = session(request, entry="app_api").ask(question)
            for call in out.get("tool_calls") or []:
                res = call.get("result") or {}
                link = export_link(res)
                if link:   # a "path" key would also make gradio_client fetch it as a file
                    res["file"], res["download"] = Path(res.pop("path")).name, "/" + link
            return out

        gr.api(ask, api_name="ask")
    demo.sessions = sessions   # the app's conversations (tests look them up)
    return demo


def _draft(st: Session, cid, occ, fest, fb, ch, dl, tone, lang: str = "zh"):
    cid = (cid or "").strip()
    if not cid:
        return "⚠ 请输入客户编号 / enter a customer id", pd.DataFrame()
    try:
        res = st.tool("draft_care_message", {"customer_id": cid, "occasion": occ, "festival": fest,
                                             "feedback_id": (fb or "").strip(), "channel": ch, "language": dl,
                                             "tone": tone}, event="draft")
    except GuanxiError as e:
        return f"⚠ {e}", pd.DataFrame()
    return draft_view(res, lang)


def serve(settings: Settings, block: bool = True):
    """Start the app bound to settings.host:settings.port with login from the workspace's users."""
    from starlette.middleware import Middleware
    t0 = time.perf_counter()
    ws = Workspace(settings.workspace).require_built()
    if not ws.users_path.exists():
        raise GuanxiError(f"workspace {ws.root} has no users; add one with "
                          f"`guanxi users add NAME --role admin --workspace {ws.root}`")
    for root in (ws.root, _upload_dir(settings)):
        purge_expired_exports(root, settings.export_ttl_minutes)
    guard = LoginGuard.from_settings(settings)
    minutes = max(1, settings.login_lockout_seconds // 60)
    warm = Warmup(settings).start()
    app = build_app(settings)
    app.queue(default_concurrency_limit=4)
    # no allowed_paths: exports are served by the download route only, to their owner
    app.launch(server_name=settings.host, server_port=settings.port, auth=confirm_login,
               auth_message=(f"Guanxi 关系 · 请登录 / please log in<br><sub>{settings.login_max_failures} 次密码错误将锁定账号，"
                             f"最长 {minutes} 分钟 / {settings.login_max_failures} wrong passwords lock the account "
                             f"for up to {minutes} minutes</sub>"),
               share=False, prevent_thread_lock=True, footer_links=["api"], quiet=True, show_error=True, css=CSS,
               app_kwargs={"routes": [download_route(settings, ws, [Path(ws.root), _upload_dir(settings)])],
                           "middleware": [Middleware(LoginLimits, ws=ws, guard=guard)]})
    app.warmup = warm
    app.indexer = BackgroundIndex(settings).start()   # after launch: the first page does not wait for it
    print(f"Guanxi is serving on http://{settings.host}:{settings.port} (workspace {ws.root}); "
          f"started in {time.perf_counter() - t0:.1f} s", flush=True)
    if not block:
        return app
    try:
        app.block_thread()
    except (KeyboardInterrupt, OSError):
        app.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="app.py", description="Serve the Guanxi web app (http://127.0.0.1:7860).")
    p.add_argument("--workspace", help="workspace folder (default: GUANXI_WORKSPACE or ./guanxi-workspace)")
    p.add_argument("--host", help="host to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 7860)")
    args = p.parse_args(argv)
    try:
        settings = Settings.load(workspace=args.workspace, host=args.host, port=args.port)
        return serve(settings) or 0
    except GuanxiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
