"""The feedback index, built in the background of the served app (`guanxi start`): the app serves
as soon as the tables and analyses exist and embeds the feedback meanwhile. Complaint search says
"indexing, N%" until it is done (tools.feedback_tools); the app shows `status_line` on a timer.
A sync that fails (e.g. the Chroma server named by chroma_url does not answer) leaves its message
for `status_line`; searches keep running on the last complete local snapshot meanwhile."""
from __future__ import annotations

import threading
import time

from knowledge.errors import GuanxiError
from knowledge.feedback_store import index_status
from knowledge.settings import Settings
from knowledge.workspace import Workspace
from tools.formatting import md_text

__all__ = ["BackgroundIndex", "status_line"]

_FAILED: dict[str, str] = {}   # workspace folder → why its last background sync failed (for status_line)


def _key(settings: Settings) -> str:
    return str(Workspace(settings.workspace).root.resolve())


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
        # with the settings: a snapshot of another vector store (chroma_url changed) is re-synced too
        state = index_status(Workspace(self.settings.workspace), self.settings)["state"]
        if state in ("ready", "indexing"):
            self.done.set()   # ready, or another live process is indexing (its marker says how far)
            return self
        self.thread = threading.Thread(target=self._run, name="guanxi-index", daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        from assistant.pipeline import sync_feedback
        t0 = time.perf_counter()
        _FAILED.pop(_key(self.settings), None)
        try:
            print("Guanxi: indexing the feedback in the background (complaint search says so meanwhile)", flush=True)
            sync_feedback(Workspace(self.settings.workspace), self.settings, log=None)
        except GuanxiError as e:  # the user's to fix (a server down, a clashing collection): its message
            self.error = str(e)
            _FAILED[_key(self.settings)] = self.error
        except Exception as e:  # noqa: BLE001 - complaint search keeps saying the index is incomplete
            self.error = f"{type(e).__name__}: {e}"
            _FAILED[_key(self.settings)] = self.error
        finally:
            self.seconds = time.perf_counter() - t0
            self.done.set()
            print(f"Guanxi feedback index {'failed: ' + self.error if self.error else 'ready'} "
                  f"in {self.seconds:.1f} s", flush=True)


def status_line(settings: Settings, lang: str = "zh") -> str:
    """One line for the app: how far the feedback index is ("" when it is ready), or why the last
    background sync failed."""
    zh = lang != "en"
    failed = _FAILED.get(_key(settings))
    if failed:
        return (f"⚠ 投诉检索索引同步失败（搜索使用上次完成的索引），修复后重新启动：{md_text(failed)}" if zh else
                f"⚠ The complaint index could not sync (search uses the last complete index); fix this and "
                f"restart: {md_text(failed)}")
    st = index_status(Workspace(settings.workspace))
    state, pct = st["state"], st.get("percent", 0)
    if state == "ready":
        return ""
    if state == "indexing":
        return f"⏳ 投诉检索索引建立中：{pct}%（其他问题可照常提问）" if zh else \
            f"⏳ Indexing complaints for search: {pct}% (other questions work meanwhile)"
    if state == "interrupted":
        return f"⚠ 投诉检索索引未建完（停在 {pct}%），重新启动后继续" if zh else \
            f"⚠ The complaint index is incomplete (stopped at {pct}%); it resumes on the next start"
    return "⏳ 投诉检索索引待建立" if zh else "⏳ The complaint index is being built"
