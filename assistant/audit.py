"""The audit log: JSON lines in WORKSPACE/audit.jsonl — time, user, role, event, question (personal
data masked), tool calls with argument hashes. Nothing personal is written in clear.

Every question is written by `Assistant.ask` (event "ask", one record per question, with the entry
it came from: cli, chat, api, app, app_api); the app adds its own events (login_ok / login_failed /
login_locked, page_load, card, complaint_search, draft, export, download, build, workspace_switch, ...)."""
from __future__ import annotations

import getpass
import hashlib
import json
import threading
from datetime import datetime, timezone
from typing import Iterable

from knowledge.pii import mask_text
from knowledge.workspace import Workspace

_LOCK = threading.Lock()


def args_hash(args: dict) -> str:
    blob = json.dumps(args, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def audit(ws: Workspace, user: str, role: str, event: str, question: str = "",
          tool_calls: Iterable[dict] = (), names: Iterable[str] = (), **extra) -> dict:
    """Append one audit record and return it."""
    names = list(names)
    record = {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "user": user, "role": role, "event": event,
        "question": mask_text(question, names) if question else "",
        "tool_calls": [{"tool": c.get("tool"), "args_sha256": args_hash(c.get("args") or {}),
                        "refused": bool(c.get("refused", False))} for c in tool_calls],
        **{k: (mask_text(v, names) if isinstance(v, str) else v) for k, v in extra.items()
           if isinstance(v, (int, float, bool, str)) or v is None},
    }
    line = json.dumps(record, ensure_ascii=False)
    with _LOCK:
        ws.root.mkdir(parents=True, exist_ok=True)
        with open(ws.audit_log_path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    return record


def default_user() -> str:
    """Who is asking when no user is named: the operating-system login (the CLI, the Python API)."""
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


_NAMES: dict[tuple[str, float], tuple[str, ...]] = {}


def names_for(ws: Workspace) -> tuple[str, ...]:
    """The customer names of a workspace, to mask them in the log (cached until the table changes)."""
    p = ws.table_path("customers")
    key = (str(ws.root), p.stat().st_mtime if p.exists() else 0.0)
    names = _NAMES.get(key)
    if names is None:
        try:
            names = tuple(ws.table("customers")["name"].dropna().astype(str).unique())
        except Exception:  # noqa: BLE001 - an unbuilt workspace has no names to mask
            names = ()
        with _LOCK:
            if len(_NAMES) >= 8:
                _NAMES.clear()
            _NAMES[key] = names
    return names


def tool_calls_of(answer: dict | None) -> list[dict]:
    """The tool calls of an answer object, for `audit` (which hashes their arguments)."""
    return [{"tool": c.get("tool"), "args": c.get("args") or {},
             "refused": bool((c.get("result") or {}).get("refused"))}
            for c in (answer or {}).get("tool_calls") or []]


def audit_question(ws: Workspace, user: str, role: str, entry: str, question: str, answer: dict | None,
                   seconds: float, error: str | None = None) -> dict:
    """The one record of one question: event "ask", the entry, tools, refused / clarification / error."""
    calls = tool_calls_of(answer)
    extra = {"entry": entry, "refused": any(c["refused"] for c in calls),
             "needs_clarification": bool((answer or {}).get("needs_clarification")),
             "seconds": round(seconds, 3)}
    if error:
        extra["error"] = error
    return audit(ws, user, role, "ask", question=question, tool_calls=calls, names=names_for(ws), **extra)
