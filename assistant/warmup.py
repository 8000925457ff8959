"""The app's warm-up: loads the heavy parts in a background thread right after the server starts
(tables, the router's vocabulary and exemplar embeddings, the embedding engine, the feedback index,
plotly), so the first question after the page loads is answered from warm caches."""
from __future__ import annotations

import threading
import time

from assistant.audit import names_for
from assistant.views import chart_figure
from knowledge.errors import GuanxiError
from knowledge.settings import Settings

__all__ = ["Warmup"]


class Warmup:
    """Loads the heavy parts in a background thread: tables, the router's vocabulary and exemplar
    embeddings, the embedding engine, the feedback index, plotly. Nothing is audited."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.done = threading.Event()
        self.seconds: float | None = None
        self.error: str | None = None

    def start(self) -> "Warmup":
        threading.Thread(target=self._run, name="guanxi-warmup", daemon=True).start()
        return self

    def _run(self) -> None:
        t0 = time.perf_counter()
        try:
            from assistant import Assistant
            from tools.registry import call_tool
            a = Assistant(settings=self.settings, role="manager", audit=False)
            ws = a.ctx.ws
            cid = str(ws.table("customers")["customer_id"].iloc[0])
            for q in ("各省份的销售额", "which customers are at risk of churn?", f"{cid} 的客户画像"):
                a.ask(q)
            call_tool("customer_profile", {"customer_id": cid}, settings=self.settings)
            chart_figure({"chart": {"data": [], "layout": {}}})
            names_for(ws)  # the audit log's masks
            try:
                call_tool("similar_complaints", {"text": "快递太慢", "k": 3}, settings=self.settings)
            except GuanxiError:
                pass  # no feedback index: complaint search will say so
        except Exception as e:  # noqa: BLE001 - a failed warm-up only makes the first answer slower
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.seconds = time.perf_counter() - t0
            self.done.set()
            print(f"Guanxi warm-up {'failed: ' + self.error if self.error else 'done'} in {self.seconds:.1f} s",
                  flush=True)
