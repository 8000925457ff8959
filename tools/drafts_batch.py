"""A care-message draft for every customer of a segment, written to a CSV (:func:`tools.drafts.draft_batch`).

Each row is the draft `tools.drafts.draft_care_message` gives that customer: birthday, festival and
thanks drafts are built a chunk at a time from columns (`tools.drafts_columns.ColumnDrafts`), the others
(and the unusual customers of those) by the same `tools.drafts.compose` with one `tools.drafts.DraftMemo`
for the batch, so what they share is worked out once — the festival, the offers by segment and day, and
the plan and sentences kept for each shape of draft (the lengths of its parts decide those, not their
words; the plans are kept across batches, `tools.care_data.CareData.batch_cache`). The texts of a chunk
are checked for contact data in one pass (`mask_all`), and the file is written as the chunks are drafted
(`knowledge.export.csv_lines`: the bytes ``write_csv`` writes for the whole frame), `CHUNK` customers at a
time, their purchase summaries read together and released after: a million customers never sit in
memory at once. A human reviews and sends the drafts; Guanxi sends nothing.
"""
from __future__ import annotations

import collections
import gc
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from knowledge.errors import GuanxiError
from knowledge.export import csv_cell, csv_lines
from knowledge.pii import mask_email, mask_phone, mask_text
from knowledge.workspace import Workspace
from tools.care_data import CareData, care_data, clean_value
from tools.draft_fit import measure
from tools.drafts import MASKED_WARNING, DraftMemo, compose, draft_request, resolve_occasion
from tools.drafts_columns import COLUMN_WISE, ColumnDrafts, batch_key
from tools.arrow_text import utf8_bytes
from tools.drafts_vector import ArrowDrafts

__all__ = ["COLUMNS", "CHUNK", "BatchFile", "write_batch", "mask_all", "COLUMN_WISE"]

COLUMNS = ["customer_id", "name", "phone", "email", "channel", "language", "tone", "occasion", "text", "subject",
           "length", "limit", "offer_id", "sources", "warnings"]
#: customers drafted (and held in memory) at a time
CHUNK = 20_000
#: customers whose lines are made at a time by Arrow kernels (`ArrowDrafts`: ~1.5 KB a line, three chunks held)
ARROW_CHUNK = 30_000
_LIMIT = COLUMNS.index("limit")


@dataclass(frozen=True)
class BatchFile:
    """The CSV of a batch and what it holds: rows, drafts with a text, rows with a warning."""
    path: Path
    rows: int
    drafted: int
    with_warnings: int


class _Restart(Exception):
    """An error row in a file being streamed: the limit column must be written as pandas writes a column
    of numbers and blanks (70.0), so the file is written again from rows held in memory."""


def write_batch(ws, segment: str, occasion: str, channel: str = "sms", language: str = "auto",
                out_csv: str | Path | None = None, tone: str = "warm", festival: str | None = None,
                unmask: bool = False, offers=None, limit: int | None = None, only=None) -> BatchFile:
    """`tools.drafts.draft_batch` (same arguments), with the counts of the file it writes."""
    data = care_data(ws, offers=offers)
    ids = data.segment_ids(segment) if only is None else list(only)
    if limit is not None:
        ids = ids[: int(limit)]
    if out_csv is None:
        root = Path(ws.root if isinstance(ws, Workspace) else ws) if isinstance(ws, (Workspace, str, Path)) else Path(".")
        slug = re.sub(r"[^\w\u4e00-\u9fff]+", "_", str(segment)).strip("_") or "segment"
        out_csv = root / "drafts" / f"{resolve_occasion(occasion)}_{slug}_{channel}.csv"
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        req, error = draft_request(occasion, channel, language, tone, festival), None
    except GuanxiError as e:   # every row says why
        req, error = None, str(e)
    args = (data, req, error, ids, unmask, (channel, tone, occasion), out)
    paused = gc.isenabled()   # a batch makes ~100 objects a customer: each full cyclic-GC pass would walk
    gc.disable()              # the whole heap, the workspace's caches too (0.1-1 s a pass, ten a call at 10M)
    try:
        if req is not None and (req.occasion != "complaint_followup" or req.channel == "email"):
            try:
                return _write(*args, stream=True)
            except _Restart:
                pass
        return _write(*args, stream=False)
    finally:
        if paused:
            gc.enable()


def _write(data: CareData, req, error: str | None, ids: list, unmask: bool, given: tuple, out: Path,
           stream: bool) -> BatchFile:
    memo = DraftMemo(plans={} if req is None else data.batch_cache(batch_key(data, req)).setdefault("plans", {}))
    cols = ((ArrowDrafts if stream else ColumnDrafts)(data, req, memo)
            if req is not None and req.occasion in COLUMN_WISE else None)
    n = drafted = warned = 0
    held: list[list] = []

    def legacy(chunk: list) -> tuple[list[str], int, int]:   # the rows `ArrowDrafts` leaves to this path
        rows = _rows(data, req, error, chunk, memo, cols, unmask, given)
        if req.channel != "email" and any(r[_LIMIT] is None for r in rows):
            raise _Restart
        return _lines(rows, False), sum(r[8] != "" for r in rows), sum(r[14] != "[]" for r in rows)

    with csv_lines(out, COLUMNS, encoding="utf-8-sig") as write:   # customer text: no formulas
        if isinstance(cols, ArrowDrafts):
            for chunk, (lines, d, w) in _in_threads(lambda c: cols.lines(c, unmask, legacy), ids):
                data.release(chunk)
                n, drafted, warned = n + len(chunk), drafted + d, warned + w
                write(utf8_bytes(lines))
            return BatchFile(out, n, drafted, warned)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            rows = _rows(data, req, error, chunk, memo, cols, unmask, given)
            data.release(chunk)
            n += len(rows)
            drafted += sum(r[8] != "" for r in rows)
            warned += sum(r[14] != "[]" for r in rows)
            if not stream:
                held += rows
                continue
            if req.channel != "email" and any(r[_LIMIT] is None for r in rows):
                raise _Restart
            write(_lines(rows, False))
        if not stream:   # pandas: a column of numbers and blanks is a float column
            floats = any(r[_LIMIT] is None for r in held) and any(r[_LIMIT] is not None for r in held)
            write(_lines(held, floats))
    return BatchFile(out, n, drafted, warned)


def _in_threads(make, ids: list):
    """(chunk, ``make(chunk)``) for the `ARROW_CHUNK`-sized chunks of ``ids`` in order, two made at a time: Arrow's
    kernels release the GIL, so one chunk's joins run while the next one's values are looked up (at most
    three chunks' lines are held)."""
    chunks = [ids[s:s + ARROW_CHUNK] for s in range(0, len(ids), ARROW_CHUNK)]
    if len(chunks) < 2 or (os.cpu_count() or 1) < 2:
        yield from ((c, make(c)) for c in chunks)
        return
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="drafts") as pool:
        waiting = collections.deque()
        for c in chunks:
            waiting.append((c, pool.submit(make, c)))
            if len(waiting) > 2:
                c0, f0 = waiting.popleft()
                yield c0, f0.result()
        while waiting:
            c0, f0 = waiting.popleft()
            yield c0, f0.result()


def _lines(rows: list[list], floats: bool) -> list[str]:
    """The CSV lines of ``rows`` (``csv_cell`` of each cell; length and limit as pandas writes them, the
    limit as a float in a column with blanks), the cells that repeat made once."""
    cell, mids, lims, warns = csv_cell, {}, {}, {}
    out = []
    for r in rows:
        k = (r[4], r[5], r[6], r[7])
        mid = mids.get(k)
        if mid is None:
            mid = mids[k] = ",".join(map(cell, k))
        lim = lims.get(r[_LIMIT])
        if lim is None:
            v = r[_LIMIT]
            lim = lims[v] = cell(None if v is None else str(float(v)) if floats else str(v))
        w = warns.get(r[14])
        if w is None:
            w = warns[r[14]] = cell(r[14])
        out.append(",".join((cell(r[0]), cell(r[1]), cell(r[2]), cell(r[3]), mid, cell(r[8]), cell(r[9]),
                             str(r[10]), lim, cell(r[12]), cell(r[13]), w)))   # a length is digits: no quotes
    return out


def _text(v) -> str | None:
    """A cell as pandas writes an object column's value: blank for None and NaN."""
    return None if v is None or v != v else str(v)


def _rows(data: CareData, req, error: str | None, ids: list, memo: DraftMemo, cols, unmask: bool,
          given: tuple) -> list[list]:
    """The rows of ``ids`` (text cells, length and limit as numbers): column-wise (`ColumnDrafts`) where
    it can, the others by `compose`, their purchase summaries read together."""
    channel, tone, occasion = given
    keys = [str(c or "").strip() for c in ids]   # as `data.customer` looks them up
    made = cols.drafts(keys) if cols is not None else [None] * len(ids)
    todo = [cid for cid, r in zip(ids, made) if r is None]
    if todo:
        data.index_orders(todo, bought=cols is None)   # only recommendations need the products bought
    got = data.table_values("customers", keys, ("name", "phone", "email"))
    if got is None or not all(got[0]):
        got = None
    for i, cid in enumerate(ids):
        if made[i] is not None:
            continue
        cust = data.customer(cid)
        try:
            if req is None:
                raise GuanxiError(error)
            d = compose(data, req, cust, memo)
            made[i] = [d.name, d.channel, d.language, d.tone, d.occasion, d.text, d.subject or "", d.length,
                       d.limit, d.offer_id, json.dumps(d.sources, ensure_ascii=False), d.warnings]
        except GuanxiError as e:  # e.g. no complaint on file: keep the row, say why
            made[i] = str(e)
    done = [r for r in made if not isinstance(r, str)]
    for r, text in zip(done, mask_all([r[5] for r in done])):
        if text != r[5]:
            r[5] = text
            r[11] = [*r[11], MASKED_WARNING]
            r[7] = measure(text, r[1])[0]
    if got is None:   # ids that are not the table's: as `data.customer` finds them
        custs = [data.customer(cid) for cid in ids]
        names, phones, emails = ([c.get(k) for c in custs] for k in ("name", "phone", "email"))
    else:
        names, phones, emails = got[1]
    rows, said = [], {(): "[]"}   # the warnings of a batch repeat: each list encoded once
    for cid, r, name, phone, email in zip(ids, made, names, phones, emails):
        if isinstance(r, str):
            rows.append([_text(cid), _text(name), None, None, channel, None, tone, occasion, "", "", 0,
                         None, None, "[]", json.dumps([r], ensure_ascii=False)])
            continue
        phone, email, w = clean_value(phone), clean_value(email), tuple(r[11])
        rows.append([_text(cid), r[0], phone if unmask else mask_phone(phone) if phone else None,
                     email if unmask else mask_email(email) if email else None, *r[1:11],
                     said.get(w) or said.setdefault(w, json.dumps(r[11], ensure_ascii=False))])
    return rows


def mask_all(texts: list[str]) -> list[str]:
    """``[mask_text(t) for t in texts]`` in one pass over the texts joined by NUL (no pattern of
    `knowledge.pii` matches across a NUL): most batches have no contact data at all."""
    if not texts:
        return []
    joined = "\x00".join(texts)
    if joined.count("\x00") != len(texts) - 1:   # a NUL in a text: one by one
        return [mask_text(t) for t in texts]
    masked = mask_text(joined)
    return texts if masked == joined else masked.split("\x00")
