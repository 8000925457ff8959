"""Order files too big to hold in memory: read and cleaned in chunks, giving the same tables,
quarantine file and quality report as cleaning the whole file at once.

`guanxi build` streams the order lines when a text file of orders is larger than the setting
``stream_above_mb``; every order source then goes through here, in file-name order:

1. formats — each chunk read (pyarrow's streaming CSV reader, else pandas in chunks), mapped
   and trimmed; each date and number column's format decided from the evidence summed over the
   whole file (knowledge.formats.merge_decisions): what the file read at once would get.
2. rules — each chunk cleaned by knowledge.clean.clean_orders under those formats; quarantined
   lines appended to quarantine/orders.csv, the kept lines written to a Parquet part.
3. duplicates — DuckDB over the parts: a line equal to an earlier one in every column, that had an
   order id in the input, is dropped (as clean.drop_exact_duplicates, across chunks).
4. links — each part without its duplicates: categories unified, products linked, the schema's
   types; the lines of customers or products no table has are kept aside for the derived rows.
5. the table — DuckDB sorts the parts by natural order id into tables/orders.parquet; the gaps,
   the median amount and the flagged amounts are counted there too.

Peak memory is one chunk (plus the customers and products tables), whatever the file's length.
"""
from __future__ import annotations

import csv
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from knowledge import clean
from knowledge.errors import GuanxiError
from knowledge.export import restore_cell, write_csv
from knowledge.formats import Decision, Decisions, merge_decisions
from knowledge.headers import assign_table
from knowledge.ingest import (SourceTable, blank_rows, opened, pandas_csv_options, pandas_read_errors,
                              promote_header, unique_headers, detect_encoding, has_blank_lines, map_frame, sample_lines,
                              sniff_delimiter)
from knowledge.limits import OVERSIZE_COLUMN, Limits, check_file_size, open_truncated, truncation_patches
from knowledge.mapping import Mapping
from knowledge.schema import TABLES

__all__ = ["StreamedFile", "StreamedOrders", "streamed_file", "CHUNK_ROWS"]

CHUNK_ROWS = 500_000
_BLOCK_BYTES = 16 << 20
_POS = "_pos"
_SORT_MEMORY = "1GB"   # DuckDB's sort spills to disk past this


@dataclass
class StreamedFile:
    """A text file of order lines read in chunks: how to read it and what it held."""
    path: Path
    encoding: str
    sep: str
    header: bool
    names: tuple[str, ...]
    patches: list
    mode: str = "arrow"   # arrow | pandas (the fallback that names a malformed line)
    rows: int = 0
    blank_lines: int = 0
    fields_over_limit: int = 0
    unmapped_fields_over_limit: int = 0
    header_map: dict[str, str] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.path.name

    def describe(self) -> dict:
        return {"file": self.label, "table": "orders", "encoding": self.encoding, "delimiter": self.sep,
                "rows": self.rows, "blank_lines": self.blank_lines, "header_mapping": self.header_map,
                "unmapped_headers": self.unmapped, "fields_over_limit": self.fields_over_limit,
                "unmapped_fields_over_limit": self.unmapped_fields_over_limit}


def streamed_file(path: Path, mapping: Mapping, limits: Limits, above_bytes: int) -> StreamedFile | None:
    """The file as a StreamedFile when it is a text file of orders over ``above_bytes``; else None
    (it is read in one piece)."""
    if path.suffix.lower() not in (".csv", ".txt", ".tsv") or path.stat().st_size <= above_bytes:
        return None
    check_file_size(path, limits)
    fm = mapping.for_file(path.name, path.name)
    encoding = fm.encoding or detect_encoding(path)
    sep = fm.sep or sniff_delimiter(sample_lines(path, encoding), prefer_tab=path.suffix.lower() == ".tsv")
    first = sample_lines(path, encoding, 1)
    if not first:
        return None
    if fm.names:
        headers = list(fm.names)
    else:
        cells = first[0].split() if sep == "whitespace" else next(csv.reader(first, delimiter=sep))
        headers = unique_headers([restore_cell(str(c).replace("\ufeff", "").strip()) for c in cells])
    try:
        if assign_table(headers, path.name, path.name, mapping) != "orders":
            return None
    except GuanxiError:
        return None   # read in one piece, which names the problem
    patches = truncation_patches(path, encoding, sep, limits.max_field_chars)
    arrow_ok = sep != "whitespace" and not encoding.lower().startswith("utf-16") and not has_blank_lines(path)
    return StreamedFile(path=path, encoding=encoding, sep=sep, header=fm.header, names=tuple(fm.names),
                        patches=patches, mode="arrow" if arrow_ok else "pandas")


# ---------------------------------------------------------------- reading in chunks
def _source(f: StreamedFile):
    return (lambda: open_truncated(f.path, f.patches)) if f.patches else (lambda: f.path)


def _arrow_chunks(f: StreamedFile, rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.csv as pacsv
    first = sample_lines(f.path, f.encoding, 1)
    cols = list(f.names) if f.names else next(csv.reader(first, delimiter=f.sep))
    tmp = [f"c{i}" for i in range(len(cols))]
    enc = "utf8" if f.encoding.replace("_", "-").lower() in ("utf-8", "utf-8-sig", "utf8") else f.encoding
    block = int(min(_BLOCK_BYTES, max(1 << 14, rows * 64)))
    with opened(_source(f)) as handle:
        reader = pacsv.open_csv(
            handle, read_options=pacsv.ReadOptions(column_names=tmp, skip_rows=1 if f.header else 0, encoding=enc,
                                                   block_size=block),
            parse_options=pacsv.ParseOptions(delimiter=f.sep, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in tmp},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
        batches, n, start = [], 0, 0
        for batch in reader:
            batches.append(batch)
            n += batch.num_rows
            if n >= rows:
                yield _frame(batches, cols, start)
                start += n
                batches, n = [], 0
        if batches or start == 0:
            yield _frame(batches, cols, start, tmp)


def _frame(batches: list, cols: list[str], start: int, tmp: list[str] | None = None) -> pd.DataFrame:
    table = pa.Table.from_batches(batches) if batches else pa.table({c: pa.array([], pa.string()) for c in tmp})
    df = table.to_pandas()
    df.columns = cols
    df.index = pd.RangeIndex(start, start + len(df))
    return df


def _pandas_chunks(f: StreamedFile, rows: int) -> Iterator[pd.DataFrame]:
    promote = f.header and not f.names
    cols, start = None, 0
    with pandas_read_errors(f.label, f.encoding, f.sep), opened(_source(f)) as handle:
        for df in pd.read_csv(handle, chunksize=rows, **pandas_csv_options(f.encoding, f.sep, f.header, f.names)):
            if promote and cols is None:
                df = promote_header(df)
                cols = list(df.columns)
            elif promote:
                df.columns = cols
            df.index = pd.RangeIndex(start, start + len(df))
            start += len(df)
            yield df


def _raw_chunks(f: StreamedFile, rows: int) -> Iterator[pd.DataFrame]:
    if f.mode == "arrow":
        try:
            yield from _arrow_chunks(f, rows)
            return
        except (pa.ArrowInvalid, UnicodeDecodeError, LookupError):
            f.mode = "pandas"   # only in the first pass: nothing was kept from the chunks read
            raise _Restart() from None
    yield from _pandas_chunks(f, rows)


class _Restart(Exception):
    """The fast reader could not read the file: read it again with pandas (first pass only)."""


# ---------------------------------------------------------------- the orders, in chunks
class StreamedOrders:
    """The order sources (streamed files and, beside them, order files read in one piece) cleaned
    chunk by chunk into ``table_path``; counts kept as the one-piece Ledger keeps them."""

    def __init__(self, sources: list, mapping: Mapping, limits: Limits, work: Path, table_path: Path,
                 quarantine_path: Path, rows: int = CHUNK_ROWS):
        self.sources, self.mapping, self.limits, self.rows = sources, mapping, limits, rows
        self.work, self.table_path, self.quarantine_path = Path(work), Path(table_path), Path(quarantine_path)
        self.rows_read = self.kept = self.quarantined = self.dropped = self.written = 0
        self.fixes: Counter = Counter()
        self.reasons: Counter = Counter()
        self.decisions: list[Decision] = []
        self.category_counts = pd.Series(dtype="int64")
        self.columns: list[str] = []   # the raw columns of all sources, as pd.concat unites them
        self.unknown: list[pd.DataFrame] = []
        self.optional_missing: dict[str, int] = {}
        self.own_counts: dict[str, tuple[int, int]] = {}
        self.median_amount = 0.0
        self.flagged_count = 0
        self.flagged = pd.DataFrame()

    # -- reading
    def _mapped(self, src, counting: bool = False) -> Iterator[SourceTable]:
        """Each source's mapped chunks (a source read in one piece is one chunk)."""
        if isinstance(src, SourceTable):
            yield src
            return
        first = True
        for raw in _raw_chunks(src, self.rows):
            if not first and len(raw) and blank_rows(raw).all():   # map_frame would call it an empty file
                src.blank_lines += len(raw) if counting else 0
                continue
            st = map_frame(raw, src.label, src.label, self.mapping, src.header, src.encoding, src.sep, self.limits,
                           bool(src.patches))
            if first:
                src.header_map, src.unmapped = st.header_map, st.unmapped
                src.formats = self.mapping.formats_for("orders", src.label, src.label)
            first = False
            yield st

    def _chunks(self, counting: bool = False) -> Iterator[tuple[SourceTable, int]]:
        """(mapped chunk with the united columns, position of its first row among all sources)."""
        offset = 0
        for src in self.sources:
            if counting and isinstance(src, StreamedFile):
                src.rows = src.blank_lines = src.fields_over_limit = src.unmapped_fields_over_limit = 0
            for st in self._mapped(src, counting):
                if counting and isinstance(src, StreamedFile):
                    src.rows += len(st.frame)
                    src.blank_lines += st.blank_lines
                    src.fields_over_limit += st.fields_over_limit
                    src.unmapped_fields_over_limit += st.unmapped_fields_over_limit
                # every chunk has the columns of all sources, and the over-long marker column (any
                # chunk may need it: all missing elsewhere, as in the one-piece concatenation)
                missing = [c for c in self.columns + [OVERSIZE_COLUMN] if c not in st.frame.columns]
                if missing:
                    st.frame = st.frame.assign(**{c: pd.Series(np.nan, index=st.frame.index, dtype="str")
                                                  for c in missing})
                st.frame = st.frame[self.columns + [OVERSIZE_COLUMN]]
                yield st, offset
                offset += len(st.frame)

    # -- pass 1: formats over whole files
    def decide(self, formats: dict[str, dict[str, str]] | None, own_numbers: tuple[str, ...]) -> dict[str, Decisions]:
        """Every date and number column's format per file, from the evidence of all its chunks."""
        while True:
            try:
                return self._decide(formats, own_numbers)
            except _Restart:
                continue

    def _decide(self, formats, own_numbers) -> dict[str, Decisions]:
        cols: list[str] = []
        for src in self.sources:
            for st in self._mapped(src):
                cols += [c for c in st.frame.columns if c not in cols and c != OVERSIZE_COLUMN]
                if isinstance(src, StreamedFile):
                    break   # the columns of a file are those of its first chunk
        self.columns = cols
        parts: dict[tuple[str, str], list[Decision]] = {}
        order: list[tuple[str, str]] = []
        for st, _ in self._chunks(counting=True):
            led = clean.Ledger("orders", st.frame).run(clean.reject_oversize).run(clean.prepare, "orders")
            for col, decs in clean.decide_formats(led, "orders", formats, own_numbers).items():
                for label, d in decs.items():
                    if (col, label) not in parts:
                        order.append((col, label))
                    parts.setdefault((col, label), []).append(d)
        self.formats = formats or {}
        decided: dict[str, Decisions] = {c.name: {} for c in TABLES["orders"].columns if c.dtype != "str"}
        decided.update({c: {} for c in own_numbers})
        for col, label in order:
            d = merge_decisions(parts[(col, label)], (self.formats.get(col) or {}).get(label))
            decided[col][label] = d
        # in the order the one-piece cleaning lists them: column by column, file by file
        for col in decided:
            self.decisions += decided[col].values()
        return decided

    # -- pass 2: the row rules
    def clean(self, decided: dict[str, Decisions], today: pd.Timestamp, id_map: dict[str, str],
              conflicted: set[str], own_numbers: tuple[str, ...]) -> None:
        """Clean every chunk; kept lines to Parquet parts, quarantined ones to the quarantine file."""
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        made: dict[tuple[str, str], list[Decision]] = {}
        wrote_quarantine = False
        self.quarantine_path.unlink(missing_ok=True)
        n = 0
        for st, offset in self._chunks():
            led = clean.clean_orders(st.frame, today, id_map, None, conflicted, own_numbers=own_numbers,
                                     decided=decided, dedupe=False)
            self.rows_read += led.rows_read
            self.quarantined += led.n_quarantined
            self.fixes.update(led.fixes)
            for d in led.decisions:   # made while reading: a file's column with no value before
                made.setdefault((d.column, d.file), []).append(d)
            if led.n_quarantined:
                self.reasons.update(led.quarantine["rule"].value_counts().to_dict())
                self.quarantine_path.parent.mkdir(parents=True, exist_ok=True)
                q = clean.quarantine_frame(st.frame, led)
                if wrote_quarantine:
                    write_csv(q, self.quarantine_path, mode="a", header=False, encoding="utf-8")
                else:
                    write_csv(q, self.quarantine_path, encoding="utf-8-sig")   # opened in Excel
                wrote_quarantine = True
            df = led.df.assign(**{_POS: led.df.index.to_numpy(dtype="int64") + offset})
            if "category" in df.columns:
                vc = df["category"].dropna().value_counts()
                self.category_counts = vc if not len(self.category_counts) else \
                    pd.concat([self.category_counts, vc]).groupby(level=0).sum()
            pq.write_table(_arrow(df), self.work / f"clean-{n:05d}.parquet")
            n += 1
        self.decisions += [merge_decisions(v) for v in made.values()]

    # -- pass 3: duplicates across chunks
    def drop_duplicates(self) -> None:
        """Drop lines equal to an earlier line in every order column that had an order id."""
        import duckdb
        con = self._duckdb()
        cols = ", ".join(f'"{c}"' for c in TABLES["orders"].column_names)
        sql = (f"SELECT {_POS} FROM (SELECT {_POS}, \"{clean.HAD_ORDER_ID}\" AS had, row_number() OVER "
               f"(PARTITION BY {cols} ORDER BY {_POS}) AS k FROM read_parquet('{self.work}/clean-*.parquet')) "
               f"WHERE k > 1 AND had")
        try:
            self._dropped = set(con.sql(sql).fetchnumpy()[_POS].tolist())
        except duckdb.Error as e:   # the parts are ours: a failure here is a bug, not the user's input
            raise RuntimeError(f"orders: finding duplicates failed: {e}") from None
        finally:
            con.close()
        self.dropped = len(self._dropped)

    # -- pass 4: links and the schema
    def link(self, spellings: dict[str, str], products: pd.DataFrame, known_customers: set[str],
             known_products: set[str]) -> None:
        """Unify categories, link products, the schema's types; lines of unknown customers or
        products are kept (in order) for the derived rows."""
        for part in sorted(self.work.glob("clean-*.parquet")):
            df = pq.read_table(part).to_pandas()
            df = df[~df[_POS].isin(self._dropped)] if self._dropped else df
            self.kept += len(df)
            pos = df[_POS].to_numpy()
            df = df.drop(columns=[_POS, clean.HAD_ORDER_ID])
            for rule, arg in ((clean.unify_categories, spellings), (clean.link_products, products)):
                out = rule(df, arg)
                df = out.kept
                self.fixes.update(out.counts)
            unknown = ~clean.isin(df["customer_id"], known_customers) | (
                df["product_id"].notna() & ~clean.isin(df["product_id"], known_products))
            if unknown.any():
                self.unknown.append(df[unknown])
            table = clean.to_schema(df, "orders")
            _check_finite(table)
            table[_POS] = pos
            pq.write_table(_arrow(table), self.work / f"linked-{part.stem[6:]}.parquet")
            part.unlink()

    def unknown_lines(self) -> pd.DataFrame:
        """The kept lines of customers or products not in their tables (input order)."""
        return pd.concat(self.unknown, ignore_index=True) if self.unknown else pd.DataFrame(
            columns=self.columns + TABLES["orders"].column_names)

    # -- pass 5: the table
    def write_table(self, own_columns: list[str]) -> None:
        """tables/orders.parquet in natural order-id order; gaps, median and flagged amounts."""
        con = self._duckdb()
        src = f"read_parquet('{self.work}/linked-*.parquet')"
        try:
            parts = sorted(self.work.glob("linked-*.parquet"))
            if not parts:
                empty = clean.to_schema(pd.DataFrame(columns=TABLES["orders"].column_names), "orders")
                empty.to_parquet(self.table_path, index=False)
                return
            schema = pq.read_schema(parts[0])
            keep = [n for n in schema.names if n != _POS]
            meta_frame = pq.read_table(parts[0], columns=keep).slice(0, 0).to_pandas()
            target = pa.Schema.from_pandas(meta_frame, preserve_index=False)
            cols = ", ".join(f'"{c}"' for c in keep)
            rel = con.sql(f"SELECT {cols} FROM {src} ORDER BY length(order_id), order_id, {_POS}")
            self.table_path.parent.mkdir(parents=True, exist_ok=True)
            with pq.ParquetWriter(self.table_path, target) as writer:
                for batch in rel.to_arrow_reader(1 << 20):
                    if batch.num_rows:
                        writer.write_table(pa.Table.from_batches([batch]).cast(target))
            optional = [c.name for c in TABLES["orders"].columns if not c.required]
            names = [c for c in optional + own_columns if c in keep]
            counts = con.sql("SELECT " + ", ".join(["count(*) AS n"] + [f'count(*) - count("{c}")' for c in names])
                             + f" FROM {src}").fetchall()[0]
            self.written = int(counts[0])
            missing = dict(zip(names, (int(v) for v in counts[1:])))
            self.optional_missing = {c: missing[c] for c in optional}
            self.own_counts = {c: (self.written - missing[c], missing[c]) for c in own_columns if c in missing}
            # the median as pandas takes it (the mean of the two middle values), not DuckDB's interpolation
            middle = con.sql(f"SELECT amount FROM {src} ORDER BY amount LIMIT {2 - self.written % 2} "
                             f"OFFSET {(self.written - 1) // 2}").fetchnumpy()["amount"]
            self.median_amount = float(np.median(middle)) if len(middle) else 0.0
            if self.median_amount > 0:
                threshold = float(clean.EXTREME_FACTOR * self.median_amount)
                where = f"amount > {threshold!r}"
                self.flagged_count = int(con.sql(f"SELECT count(*) FROM {src} WHERE {where}").fetchall()[0][0])
                self.flagged = con.sql(
                    f"SELECT order_id, customer_id, order_date, amount FROM {src} WHERE {where} "
                    f"ORDER BY amount DESC, order_id, {_POS} LIMIT 1000").df()
        finally:
            con.close()
            shutil.rmtree(self.work, ignore_errors=True)

    def _duckdb(self):
        import duckdb
        con = duckdb.connect()
        spill = self.work / "spill"
        spill.mkdir(parents=True, exist_ok=True)
        con.execute(f"SET memory_limit = '{_SORT_MEMORY}'")
        con.execute(f"SET temp_directory = '{spill}'")
        con.execute("SET preserve_insertion_order = false")
        return con


def _check_finite(table: pd.DataFrame) -> None:
    """No infinity in a number column (the cleaner quarantines non-finite values: a bug if not)."""
    for c in TABLES["orders"].columns:
        if c.dtype == "float" and np.isinf(table[c.name].to_numpy(dtype="float64")).any():
            raise RuntimeError(f"orders.{c.name}: a non-finite value reached the clean table")


def _arrow(df: pd.DataFrame) -> pa.Table:
    """A chunk as Arrow with the same type per column in every chunk (an all-missing text column
    stays text)."""
    fields = []
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            t = pa.timestamp("ns")
        elif pd.api.types.is_bool_dtype(s):
            t = pa.bool_()
        elif pd.api.types.is_integer_dtype(s):
            t = pa.int64()
        elif pd.api.types.is_float_dtype(s):
            t = pa.float64()
        else:
            t = pa.large_string()
        fields.append(pa.field(c, t))
    return pa.Table.from_pandas(df, schema=pa.schema(fields), preserve_index=False)

