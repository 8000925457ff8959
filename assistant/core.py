"""`Assistant`: one conversation over one workspace, offline by default, an LLM when configured.

>>> from assistant import Assistant                      # doctest: +SKIP
>>> a = Assistant(workspace="guanxi-workspace")          # doctest: +SKIP
>>> a.ask("C01023 的 RFM 分群是什么?")["tool_calls"][0]["tool"]   # doctest: +SKIP
'rfm_lookup'
>>> a.ask("他的流失概率呢?")["tool_calls"][0]["args"]      # doctest: +SKIP
{'customer_id': 'C01023'}

``ask`` returns exactly ``{"answer", "language", "tool_calls", "provenance", "chart",
"needs_clarification"}`` — the object ``guanxi ask --json`` prints — and writes one record per
question to WORKSPACE/audit.jsonl (assistant.audit): user, role, entry, masked question, tools.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

from assistant import answers
from assistant.audit import audit_question, default_user
from assistant.memory import Memory
from knowledge.errors import GuanxiError
from knowledge.settings import Settings
from tools import registry
from tools.context import ToolContext, mask_phone

__all__ = ["Assistant"]
log = logging.getLogger("guanxi.assistant")


class Assistant:
    """A conversation with the CRM knowledge base.

    ``Assistant(workspace=DIR)`` or ``Assistant(settings=Settings)``; ``role`` is manager
    (default), agent or admin; ``llm`` is an optional LangChain chat model (tests pass a fake
    one), otherwise ``settings.llm_backend`` decides (none → offline router).

    Every question is audited as ``user`` (default: the operating-system login) from ``entry``
    (where the question came in: "api" for code, "cli", "chat", "app", "app_api");
    ``audit=False`` writes nothing (the app's warm-up, evaluations).
    """

    def __init__(self, workspace: str | Path | None = None, settings: Settings | None = None, role: str = "manager",
                 llm=None, user: str | None = None, entry: str = "api", audit: bool = True):
        if settings is None:
            settings = Settings.load(workspace=workspace) if workspace is not None else Settings.load()
        elif workspace is not None:
            settings = settings.with_(workspace=workspace)
        self.settings = settings
        self.role = role
        self.user = user or default_user()
        self.entry = entry
        self.audited = audit
        self.ctx = ToolContext(settings, role=role, user=self.user)
        self.ctx.ws.require_built()
        self.memory = Memory()
        self._router = None
        self._agent = None
        self._llm = llm
        self.last_timing: dict = {}
        self.last_route = None

    # ---------------------------------------------------------------- lazily built parts
    @property
    def router(self):
        if self._router is None:
            from assistant.router import Router
            self._router = Router(self.ctx.ws)
        return self._router

    @property
    def llm_mode(self) -> bool:
        return self._llm is not None or self.settings.llm_backend in ("ollama", "openai")

    @property
    def agent(self):
        if self._agent is None:
            from assistant.agent import LlmAgent
            self._agent = LlmAgent(self, llm=self._llm)
        return self._agent

    # ---------------------------------------------------------------- public
    def reset(self) -> None:
        """Forget the conversation."""
        self.memory.reset()
        if self._agent is not None:
            self._agent.reset()

    def ask(self, question: str) -> dict:
        """Answer one question; see the module docstring for the returned object. The question is
        audited once, answered, refused, clarified or failed."""
        t0 = time.perf_counter()
        question = str(question or "").strip()
        out, error = None, None
        try:
            out = self.agent.ask(question) if self.llm_mode else self.ask_offline(question)
            return out
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
            raise
        finally:
            self.last_timing = {"seconds": time.perf_counter() - t0}
            if self.audited:
                self._audit(question, out, error)

    def _audit(self, question: str, out: dict | None, error: str | None) -> None:
        try:
            audit_question(self.ctx.ws, self.user, self.role, self.entry, question, out,
                           seconds=self.last_timing["seconds"], error=error)
        except Exception:  # noqa: BLE001 - e.g. a read-only workspace: answer anyway, say why in the log
            log.warning("could not write the audit record", exc_info=True)

    # ---------------------------------------------------------------- offline mode
    def ask_offline(self, question: str, notice: str | None = None) -> dict:
        route = self.router.route(question, self.memory)
        self.last_route = route
        lang = route.language if self.settings.language == "auto" else self.settings.language
        out = {"answer": "", "language": lang, "tool_calls": [], "provenance": [], "chart": None,
               "needs_clarification": False}
        if route.tool is None and route.intent == "unsupported":
            term = next((n.split(":", 1)[1] for n in route.notes if n.startswith("unsupported:")), "")
            out["answer"] = answers.unsupported_text(term, lang)
            self.memory.remember(question, None, {}, None, lang)
        elif route.tool is None and route.intent == "unknown_customer":
            token = next((n.split(":", 1)[1] for n in route.notes if n.startswith("unknown_customer:")), "")
            try:
                from tools.context import resolve_customer_id
                resolve_customer_id(self.ctx.ws, token)
                reason = ""
            except GuanxiError as e:
                reason = str(e)
            out["answer"] = answers.unknown_customer_text(token, reason, lang)
            self.memory.remember(question, None, {}, None, lang)
        elif route.tool is None:
            out["answer"] = answers.help_text(lang, unknown=route.intent != "help")
            self.memory.remember(question, None, {}, None, lang)
        elif route.needs_clarification:
            out["needs_clarification"] = True
            if route.clarify_kind == "customer":
                span = next((n.split(":", 1)[1] for n in route.notes if n.startswith(("ambiguous:",))), "")
                fuzzy = any(n.startswith("fuzzy") for n in route.notes) or not span or \
                    not all(str(self.router.vocab.cust.loc[c, "name"]) == span for c in route.candidates
                            if c in self.router.vocab.cust.index)
                out["answer"] = answers.clarify_text(self._candidate_info(route.candidates), lang, span, fuzzy=fuzzy)
                self.memory.ask_clarification(route.tool, route.args, route.candidates, "customer", lang)
            else:
                out["answer"] = answers.missing_text(route.clarify_kind or "missing_customer", route.tool, lang)
                self.memory.ask_clarification(route.tool, route.args, [], route.clarify_kind or "missing_customer", lang)
        else:
            self._run(route.tool, route.args, lang, out, focus=route.focus)
            self.memory.remember(question, route.tool, route.args,
                                 out["tool_calls"][-1]["result"] if out["tool_calls"] else None, lang)
        if notice:
            out["answer"] = notice + "\n" + out["answer"]
        return out

    def _run(self, tool: str, args: dict, lang: str, out: dict, focus: dict | None = None) -> dict | None:
        try:
            result = registry.call_tool(tool, args, ctx=self.ctx)
        except registry.ToolDenied as e:
            out["tool_calls"].append({"tool": tool, "args": args, "result": {"error": str(e), "refused": True}})
            out["answer"] = answers.denied_text(tool, self.role, lang)
            return None
        except GuanxiError as e:
            out["tool_calls"].append({"tool": tool, "args": args, "result": {"error": str(e)}})
            out["answer"] = answers.error_text(tool, str(e), lang)
            return None
        except Exception as e:  # noqa: BLE001 - a bug in one tool must not end the conversation
            log.exception("tool %s failed", tool)
            msg = f"{type(e).__name__}: {e}"
            out["tool_calls"].append({"tool": tool, "args": args, "result": {"error": msg}})
            out["answer"] = answers.error_text(tool, msg, lang)
            return None
        chart = result.get("chart")
        shown = {k: v for k, v in result.items() if k != "chart"}
        out["tool_calls"].append({"tool": tool, "args": args, "result": shown})
        out["answer"] = answers.render(tool, result, lang, focus=focus)
        prov = result.get("provenance")
        if prov:
            out["provenance"].append(prov if isinstance(prov, str) else " · ".join(map(str, prov)))
        if chart:
            out["chart"] = chart
        return result

    def _candidate_info(self, ids: list[str]) -> list[dict]:
        """Distinguishing details of customers for a clarifying question (contacts masked)."""
        v = self.router.vocab
        from tools.orders_index import customer_orders
        out = []
        for cid in ids:
            if cid not in v.cust.index:
                continue
            row = v.cust.loc[cid]
            mine = customer_orders(self.ctx.ws, str(cid))["order_date"]   # that customer's lines only
            last = pd.Timestamp(mine.max()).strftime("%Y-%m-%d") if len(mine) else None
            phone = row.get("phone")
            phone = None if phone is None or pd.isna(phone) else (str(phone) if self.ctx.unmasked else mask_phone(phone))
            out.append({"customer_id": cid, "name": str(row.get("name")), "city": row.get("city") if pd.notna(row.get("city")) else None,
                        "province": row.get("province") if pd.notna(row.get("province")) else None,
                        "last_order": last, "phone": phone})
        return out
