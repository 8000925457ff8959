"""The feedback index, built in the background of the served app (`guanxi start`): the app serves
as soon as the tables and analyses exist and embeds the feedback meanwhile. Complaint search says
"indexing, N%" until it is done (tools.feedback_tools); the app shows `status_line` on a timer."""
from __future__ import annotations

import threading
import time

from knowledge.feedback_store import index_status
from knowledge.settings import Settings
from knowledge.workspace import Workspace

__all__ = ["BackgroundIndex", "status_line"]


class BackgroundIndex:
    """Syncs the served workspace's feedback index in a daemon thread when it is missing, partial
    (an interrupted sync) or stale (built for older tables); does nothing when it is ready."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.done = threading.Event()
        self.error: str | None = None
        self.seconds: float | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> "BackgroundIndex":
        state = index_status(Workspace(self.settings.workspace))["state"]
        if state in ("ready", "indexing"):
            self.done.set()   # ready, or another live process is indexing (its marker says how far)
            return self
        self.thread = threading.Thread(target=self._run, name="guanxi-index", daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        from assistant.pipeline import sync_feedback
        t0 = time.perf_counter()
        try:
            print("Guanxi: indexing the feedback in the background (complaint search says so meanwhile)", flush=True)
            sync_feedback(Workspace(self.settings.workspace), self.settings, log=None)
        except Exception as e:  # noqa: BLE001 - complaint search keeps saying the index is incomplete
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.seconds = time.perf_counter() - t0
            self.done.set()
            print(f"Guanxi feedback index {'failed: ' + self.error if self.error else 'ready'} "
                  f"in {self.seconds:.1f} s", flush=True)


def status_line(settings: Settings, lang: str = "zh") -> str:
    """One line for the app: how far the feedback index is ("" when it is ready)."""
    st = index_status(Workspace(settings.workspace))
    state, pct = st["state"], st.get("percent", 0)
    zh = lang != "en"
    if state == "ready":
        return ""
    if state == "indexing":
        return f"⏳ 投诉检索索引建立中：{pct}%（其他问题可照常提问）" if zh else \
            f"⏳ Indexing complaints for search: {pct}% (other questions work meanwhile)"
    if state == "interrupted":
        return f"⚠ 投诉检索索引未建完（停在 {pct}%），重新启动后继续" if zh else \
            f"⚠ The complaint index is incomplete (stopped at {pct}%); it resumes on the next start"
    return "⏳ 投诉检索索引待建立" if zh else "⏳ The complaint index is being built"
