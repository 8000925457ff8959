"""Benchmark: the event log (knowledge/events.py) — single appends (one committed, fsynced transaction
each), a campaign-sized append_many, reading every complaint's latest status and the contact table
(what the complaint search and the card do per call), and an online backup; with a baseline in the
same run: appending the same rows one transaction each vs one transaction (append_many).

    .venv/bin/python benchmarks/bench_events.py [--events 20000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.events import EventLog  # noqa: E402
from tools.service_log import contacts_frame, status_changes  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=20_000)
    a = p.parse_args(argv)
    n = a.events
    with tempfile.TemporaryDirectory() as tmp:
        log = EventLog(Path(tmp) / "events.sqlite")
        singles = 200
        t0 = time.perf_counter()
        for i in range(singles):
            log.append("complaint_status", "bench", f"FB{i:07d}", {"status": "resolved", "resolution": "已退款"})
        t_single = (time.perf_counter() - t0) / singles
        rows = [("contact", "bench", f"C{i:06d}", {"campaign_id": "cmp-1", "channel": "sms", "sent_at": "2026-12-01"})
                for i in range(n)]
        t0 = time.perf_counter()
        log.append_many(rows)
        t_many = time.perf_counter() - t0
        t0 = time.perf_counter()
        changes = status_changes(log)
        t_status = time.perf_counter() - t0
        t0 = time.perf_counter()
        cf = contacts_frame(log)
        t_contacts = time.perf_counter() - t0
        t0 = time.perf_counter()
        info = log.backup(Path(tmp) / "copy.sqlite")
        t_backup = time.perf_counter() - t0
    print(f"single append (committed, synchronous=FULL): {t_single * 1000:.2f} ms each ({singles} appends)")
    print(f"append_many of {n:,} contacts (one transaction): {t_many:.2f} s = {n / t_many:,.0f} events/s; "
          f"one transaction each would take ~{t_single * n:.1f} s ({t_single * n / t_many:.0f}x slower)")
    print(f"status_changes over {len(changes):,} complaints: {t_status * 1000:.1f} ms; "
          f"contacts_frame of {len(cf):,} contacts: {t_contacts * 1000:.0f} ms")
    print(f"online backup of {info['events']:,} events: {t_backup * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
