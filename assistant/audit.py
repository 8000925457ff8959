"""The audit log: JSON lines in WORKSPACE/audit.jsonl — time, user, role, question (personal data
masked), tool calls with argument hashes. Nothing personal is written in clear."""
from __future__ import annotations

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
