"""Reading a folder of CSV/Excel files into raw tables with canonical column names.

Steps per file: detect the encoding (UTF-8, UTF-8 with BOM, UTF-16, GB18030, else
charset-normalizer), sniff the delimiter (, ; tab | or whitespace), read every value as a
string, map headers to canonical columns and decide which table the file is (knowledge.headers:
schema aliases, or a TOML mapping file, knowledge.mapping). Files over the size limit are refused and
over-long fields cut before they are loaded (knowledge.limits); a header repeated in a file is
refused when it names a column Guanxi reads; blank lines are counted. Every problem the user must
fix raises `GuanxiError` naming the file (and column). Values are NOT cleaned here: see
knowledge.clean.
"""
from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.headers import EXTRA_PREFIX, assign_table, check_required, customer_extras, find_header, match_headers
from knowledge.limits import (OVERSIZE_COLUMN, Limits, check_file_size, check_workbook_size, flag_oversize,
                              open_truncated, truncation_patches)
from knowledge.mapping import Mapping
from knowledge.own_columns import own_name
from knowledge.schema import TABLES, normalise_header
from knowledge.export import restore_cell, restore_formulas

TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", "whitespace": "whitespace"}
SOURCE_FILE, SOURCE_ROW = "source_file", "source_row"
SNIFF_BYTES = 1 << 16
VALIDATE_CHUNK = 1 << 22

Log = Callable[[str], None]


# ---------------------------------------------------------------- encodings and delimiters
def detect_encoding(path: Path) -> str:
    """The file's encoding: utf-8-sig (BOM), utf-16, utf-8, gb18030, else charset-normalizer's guess."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    if _looks_binary(head):
        raise GuanxiError(f"{path.name}: looks like a binary file, not CSV/text (expected a .csv/.txt "
                          f"table or an .xlsx workbook)")
    for enc in ("utf-8", "gb18030"):
        if _decodes(path, enc):
            return enc
    from charset_normalizer import from_bytes
    best = from_bytes(head).best()
    if best is None:
        raise GuanxiError(f"{path.name}: cannot tell the text encoding (tried UTF-8, GB18030); "
                          f"save it as UTF-8 or give encoding = \"...\" in a mapping file")
    return best.encoding


def _looks_binary(head: bytes) -> bool:
    """NUL bytes or many control characters: not a text table."""
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head[:4096] if b < 32 and b not in (9, 10, 13))
    return controls > max(8, len(head[:4096]) // 100)


def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes strictly (read in chunks: big files stay cheap)."""
    dec = codecs.getincrementaldecoder(encoding)("strict")
    try:
        with path.open("rb") as f:
            while chunk := f.read(VALIDATE_CHUNK):
                dec.decode(chunk)
        dec.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def sample_lines(path: Path, encoding: str, n: int = 200) -> list[str]:
    """Up to `n` complete lines from the start of the file."""
    with path.open("rb") as f:
        raw = f.read(SNIFF_BYTES)
        truncated = bool(f.read(1))
    text = codecs.getincrementaldecoder(encoding)("replace").decode(raw, final=not truncated)
    lines = text.splitlines()
    if truncated and lines:
        lines = lines[:-1]  # possibly cut in the middle
    return [ln.lstrip("\ufeff") for ln in lines[:n]]


def sniff_delimiter(lines: list[str], prefer_tab: bool = False) -> str:
    """The delimiter that splits the header and most lines into the same number (>1) of fields;
    'whitespace' when only runs of spaces do; ',' when nothing does (one column)."""
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        return ","
    order = ("\t", ",", ";", "|") if prefer_tab else DELIMITERS
    best, best_key = None, None
    for d in order:
        counts = [len(r) for r in csv.reader(lines, delimiter=d)]
        width = counts[0]
        if width < 2:
            continue
        consistent = sum(c == width for c in counts) / len(counts)
        key = (consistent, width)
        if consistent >= 0.9 and (best_key is None or key > best_key):
            best, best_key = d, key
    if best is not None:
        return best
    widths = {len(ln.split()) for ln in lines}
    if len(widths) == 1 and widths.pop() > 1:
        return "whitespace"
    return ","


# ---------------------------------------------------------------- reading
Patches = list[tuple[int, int, bytes]]


@contextmanager
def opened(source):
    """The file to hand a reader: the path, or a stream cutting over-long fields (closed after)."""
    handle = source()
    try:
        yield handle
    finally:
        if hasattr(handle, "close"):
            handle.close()


def read_text_file(path: Path, encoding: str, sep: str, header: bool = True,
                   names: tuple[str, ...] = (), patches: Patches | None = None) -> pd.DataFrame:
    """All values as strings (no NA conversion), the index mapping to line numbers, the columns
    exactly the header row (repeats kept) or `names` (replacing the header row when there is one).
    `patches` (knowledge.limits) cut over-long fields while the file is read. Uses the fast
    pyarrow reader when line numbers stay exact (no blank lines, a real delimiter), else pandas."""
    first = sample_lines(path, encoding, 1)
    if names and first:
        width = len(first[0].split()) if sep == "whitespace" else len(next(csv.reader(first, delimiter=sep)))
        if width != len(names):
            raise GuanxiError(f"{path.name}: the mapping file gives {len(names)} names but the file's first line "
                              f"has {width} columns (expected one name per column)")
    source = (lambda: open_truncated(path, patches)) if patches else (lambda: path)
    # the blank-line scan looks at bytes: valid for ASCII-compatible encodings only (not UTF-16)
    if sep != "whitespace" and not encoding.lower().startswith("utf-16") and not has_blank_lines(path):
        df = _read_with_arrow(source, first, encoding, sep, header, names)
        if df is not None:
            return df
    return _read_with_pandas(path, source, encoding, sep, header, names)


def has_blank_lines(path: Path) -> bool:
    """Whether the file has an empty line (pyarrow skips those, which would shift line numbers)."""
    with path.open("rb") as f:
        prev = b"\n"  # a blank first line counts too
        while chunk := f.read(VALIDATE_CHUNK):
            data = prev + chunk
            if b"\n\n" in data or b"\n\r\n" in data:
                return True
            prev = data[-2:]
    return False


def _read_with_arrow(source, first: list[str], encoding: str, sep: str, header: bool,
                     names: tuple[str, ...]) -> pd.DataFrame | None:
    """pyarrow.csv with every column a string; None when pandas should read it instead
    (ragged or undecodable rows, rows longer than a block: pandas gives the better error)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    if not first:
        return None
    cols = list(names) if names else next(csv.reader(first, delimiter=sep))
    if not cols:
        return None
    tmp = [f"c{i}" for i in range(len(cols))]
    enc = "utf8" if encoding.replace("_", "-").lower() in ("utf-8", "utf-8-sig", "utf8") else encoding
    try:
        with opened(source) as f:
            table = pacsv.read_csv(
                f, read_options=pacsv.ReadOptions(column_names=tmp, skip_rows=1 if header else 0, encoding=enc),
                parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in tmp},
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, UnicodeDecodeError, LookupError):
        return None
    df = table.to_pandas()
    df.columns = cols
    return df


def promote_header(df: pd.DataFrame) -> pd.DataFrame:
    """A frame read without a header: its first row becomes the columns (repeats kept)."""
    cols = [str(v) for v in df.iloc[0].tolist()] if len(df) else [str(c) for c in df.columns]
    df = df.iloc[1:].reset_index(drop=True)
    df.columns = cols
    return df


def pandas_csv_options(encoding: str, sep: str, header: bool, names: tuple[str, ...]) -> dict:
    """pandas.read_csv arguments that read every value as the text it is (no NA guessing)."""
    kw = dict(dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False,
              encoding=encoding, encoding_errors="strict", engine="c", header=None)
    kw["sep"] = r"\s+" if sep == "whitespace" else sep
    if names:
        kw.update(names=list(names), skiprows=1 if header else 0)
    return kw


@contextmanager
def pandas_read_errors(label: str, encoding: str, sep: str):
    """pandas' reading errors as a GuanxiError naming the file and what to fix."""
    try:
        yield
    except pd.errors.EmptyDataError:
        raise GuanxiError(f"{label}: empty file (no header, no rows)") from None
    except pd.errors.ParserError as e:
        detail = str(e).strip().splitlines()[-1]
        raise GuanxiError(f"{label}: cannot read it as {DELIMITER_NAMES.get(sep, repr(sep))}-separated "
                          f"text ({detail}); check the delimiter and quoting") from None
    except UnicodeDecodeError as e:
        raise GuanxiError(f"{label}: not valid {encoding} text at byte {e.start}; save it as UTF-8 "
                          f"or give encoding = \"...\" in a mapping file") from None


def _read_with_pandas(path: Path, source, encoding: str, sep: str, header: bool,
                      names: tuple[str, ...]) -> pd.DataFrame:
    with pandas_read_errors(path.name, encoding, sep), opened(source) as f:
        df = pd.read_csv(f, **pandas_csv_options(encoding, sep, header, names))
    return promote_header(df) if header and not names else df


AMBIGUOUS_LOOKING = re.compile(r"[+-]?[1-9]\d{0,2}\.\d{3}")


def _cells_as_text(df: pd.DataFrame) -> pd.DataFrame:
    """A sheet's cells as strings. A number cell is exact: one that reads like '1.234' (which a
    text column could mean as 1234) is written '1.2340', so the column's format decision
    (knowledge.formats) sees a decimal point, as the cell has."""
    out = df.astype(str)
    for pos in range(df.shape[1]):
        looks = out.iloc[:, pos].str.fullmatch(AMBIGUOUS_LOOKING.pattern).to_numpy()
        for i in np.flatnonzero(looks):
            if type(df.iat[i, pos]) is float:
                out.iat[i, pos] += "0"
    return out


def read_excel_file(path: Path, header: bool = True, names: tuple[str, ...] = ()) -> dict[str, pd.DataFrame]:
    """Every sheet of a workbook, values as strings (Excel dates become 'YYYY-MM-DD HH:MM:SS'), the
    columns exactly the header row (repeats kept) or `names`."""
    kw = dict(sheet_name=None, dtype=object, keep_default_na=False, na_filter=False, engine="openpyxl",
              header=None)
    try:
        sheets = pd.read_excel(path, **kw)
    except Exception as e:  # openpyxl raises many types for corrupt workbooks; all mean the same here
        raise GuanxiError(f"{path.name}: cannot read it as an Excel .xlsx workbook "
                          f"({type(e).__name__}: {str(e)[:120]}); is it really .xlsx?") from None
    out = {}
    for sheet, df in sheets.items():
        df = _cells_as_text(df)
        if names and df.shape[1] and df.shape[1] != len(names):
            raise GuanxiError(f"{path.name}#{sheet}: the mapping file gives {len(names)} names but the sheet has "
                              f"{df.shape[1]} columns (expected one name per column)")
        if names:
            df = df.iloc[1:].reset_index(drop=True) if header else df
            df.columns = list(names)[:df.shape[1]]
        elif header:
            df = promote_header(df)
        out[sheet] = df
    return out


def _is_zip(path: Path) -> bool:
    return zipfile.is_zipfile(path)


# ---------------------------------------------------------------- one source table
@dataclass
class SourceTable:
    """One file (or sheet) read and mapped: `frame` holds the canonical columns (raw strings),
    customer extras for orders, source_file / source_row, and OVERSIZE_COLUMN (the reason) when a
    mapped field was over the length limit. `formats`: column → format set in the mapping file."""
    label: str
    table: str
    encoding: str | None
    delimiter: str | None
    header_map: dict[str, str]
    unmapped: list[str]
    frame: pd.DataFrame
    blank_lines: int = 0
    formats: dict[str, str] = field(default_factory=dict)
    fields_over_limit: int = 0
    unmapped_fields_over_limit: int = 0

    def describe(self) -> dict:
        return {"file": self.label, "table": self.table, "encoding": self.encoding, "delimiter": self.delimiter,
                "rows": len(self.frame), "blank_lines": self.blank_lines, "header_mapping": self.header_map,
                "unmapped_headers": self.unmapped, "fields_over_limit": self.fields_over_limit,
                "unmapped_fields_over_limit": self.unmapped_fields_over_limit}


def unique_headers(headers: list[str]) -> list[str]:
    """Headers with exact repeats renamed 'name #2', 'name #3' (they then match no column)."""
    seen: Counter = Counter()
    out = []
    for h in headers:
        seen[h] += 1
        out.append(h if seen[h] == 1 else f"{h} #{seen[h]}")
    return out


def check_repeated_headers(label: str, table: str, raw: list[str], cols: dict[str, str]) -> None:
    """Refuse a file where a header Guanxi reads appears more than once (also spelled with other
    case or spaces): which of the columns holds the value cannot be told."""
    groups: dict[str, list[int]] = {}
    for pos, h in enumerate(raw):
        groups.setdefault(normalise_header(h), []).append(pos)
    read = {source: canonical for canonical, source in cols.items()}
    for positions in groups.values():
        if len(positions) < 2 or raw[positions[0]] not in read:
            continue
        canonical = read[raw[positions[0]]].removeprefix(EXTRA_PREFIX)
        where = ", ".join(f"'{raw[p]}' (column {p + 1})" for p in positions)
        raise GuanxiError(f"{label}: the header '{raw[positions[0]]}' appears {len(positions)} times: {where}; "
                          f"Guanxi reads it as {table}.{canonical} and cannot tell which column holds it. Rename "
                          f"the others, or name every column with names = [...] for this file in a mapping file")


def map_frame(df: pd.DataFrame, label: str, file_name: str, mapping: Mapping, header: bool,
              encoding: str | None, delimiter: str | None, limits: Limits | None = None,
              marked: bool = False) -> SourceTable:
    """Assign a table to a raw frame, map its headers and keep the mapped columns; cut over-long
    values (`marked`: the reader already cut some, knowledge.limits) and count blank lines."""
    limits = limits or Limits.from_settings()
    # a leading apostrophe in front of a formula start is how Guanxi (and people) write a cell that must
    # not run in a spreadsheet (knowledge.export): the value is what follows it
    raw = [restore_cell(str(c).replace("\ufeff", "").strip()) for c in df.columns]
    df.columns = headers = unique_headers(raw)
    if len(headers) == 1 and delimiter is None:
        raise GuanxiError(f"{label}: has only one column (header '{headers[0][:80]}'); a table needs at least "
                          f"two (e.g. an id and a name)")
    if len(headers) == 1:
        raise GuanxiError(f"{label}: looks like one column (header '{headers[0][:80]}'); expected "
                          f"comma/semicolon/tab-separated columns — check the delimiter, or set "
                          f"sep = \"...\" for this file in a mapping file")
    over = flag_oversize(df, limits, marked)
    df[SOURCE_ROW] = df.index.to_numpy() + (2 if header else 1)
    blank = blank_rows(df[headers])
    df = df[~blank]
    if df.empty:
        raise GuanxiError(f"{label}: empty file (a header but no data rows)")
    table = assign_table(headers, label, file_name, mapping)
    explicit = dict(mapping.columns.get(table, {}))
    explicit = {c: s for c, s in explicit.items() if find_header(headers, s)}
    explicit.update(mapping.for_file(label, file_name).columns)
    matched = match_headers(headers, table, explicit, label)
    check_required(label, table, matched, headers)
    cols = dict(matched)
    if table == "orders":
        cols.update(customer_extras(headers, set(matched.values())))
    for own in mapping.own.get(table, {}):   # the company's own columns its semantic model names
        found = find_header(headers, own)
        if found:
            cols[own_name(own)] = found
    check_repeated_headers(label, table, raw, cols)
    frame = restore_formulas(pd.DataFrame({c: df[s] for c, s in cols.items()}))
    frame[SOURCE_FILE] = label
    frame[SOURCE_ROW] = df[SOURCE_ROW].astype("int64")
    used = {s: c for c, s in cols.items()}
    reasons = [((f"{used[h]} (header '{h}')" if h != used[h] else h) + " is " + sizes + " long; "
                + limits.field_reason()) for h, sizes in over.items() if h in used]
    if reasons:
        frame[OVERSIZE_COLUMN] = pd.concat(reasons).groupby(level=0).agg("; ".join).reindex(frame.index)
    return SourceTable(label=label, table=table, encoding=encoding, delimiter=delimiter, header_map=cols,
                       unmapped=[h for h in headers if h not in used], frame=frame.reset_index(drop=True),
                       blank_lines=int(blank.sum()), formats=mapping.formats_for(table, label, file_name),
                       fields_over_limit=sum(len(v) for h, v in over.items() if h in used),
                       unmapped_fields_over_limit=sum(len(v) for h, v in over.items() if h not in used))


def blank_rows(df: pd.DataFrame) -> pd.Series:
    """Rows whose every value is empty or whitespace (blank lines, empty Excel rows)."""
    blank = pd.Series(True, index=df.index)
    for c in df.columns:
        blank &= df[c].str.strip().eq("") | df[c].isna()
    return blank


def read_file(path: Path, mapping: Mapping, limits: Limits | None = None) -> list[SourceTable]:
    """One input file as SourceTables (an .xlsx gives one per non-empty sheet). A file over the
    size limit is refused; fields over the length limit are cut while reading (knowledge.limits)."""
    limits = limits or Limits.from_settings()
    if path.stat().st_size == 0:
        raise GuanxiError(f"{path.name}: empty file (0 bytes)")
    check_file_size(path, limits)
    fm = mapping.for_file(path.name, path.name)
    if path.suffix.lower() in EXCEL_SUFFIXES:
        return _read_workbook(path, mapping, limits)
    encoding = fm.encoding or detect_encoding(path)
    sep = fm.sep or sniff_delimiter(sample_lines(path, encoding), prefer_tab=path.suffix.lower() == ".tsv")
    patches = truncation_patches(path, encoding, sep, limits.max_field_chars)
    df = read_text_file(path, encoding, sep, fm.header, fm.names, patches)
    return [map_frame(df, path.name, path.name, mapping, fm.header, encoding, sep, limits, bool(patches))]


def _read_workbook(path: Path, mapping: Mapping, limits: Limits) -> list[SourceTable]:
    if not _is_zip(path):
        raise GuanxiError(f"{path.name}: not a valid .xlsx workbook (it is not a zip archive; "
                          f"is it a CSV or an old .xls renamed? save it as .xlsx or .csv)")
    check_workbook_size(path, limits)
    fm = mapping.for_file(path.name, path.name)
    sheets = read_excel_file(path, fm.header, fm.names)
    out = []
    for sheet, df in sheets.items():
        if df.shape[1] == 0 or (df.empty and df.shape[1] <= 1):
            continue  # blank sheets are normal in workbooks
        label = f"{path.name}#{sheet}" if len(sheets) > 1 else path.name
        out.append(map_frame(df, label, path.name, mapping, fm.header, None, None, limits))
    if not out:
        raise GuanxiError(f"{path.name}: empty file (no sheet holds a table)")
    return out


def list_input_files(data_dir: Path) -> list[Path]:
    """The .csv/.txt/.tsv/.xlsx files of a folder (sorted; hidden and Excel lock files skipped)."""
    data_dir = Path(data_dir)
    if not data_dir.exists():
        raise GuanxiError(f"data folder {data_dir} does not exist")
    if not data_dir.is_dir():
        raise GuanxiError(f"{data_dir} is not a folder (give --data a folder of .csv / .xlsx files)")
    files = sorted(p for p in data_dir.iterdir()
                   if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES + EXCEL_SUFFIXES
                   and not p.name.startswith((".", "~$")))
    if not files:
        old = sorted(p.name for p in data_dir.iterdir() if p.suffix.lower() == ".xls")
        hint = f" ({', '.join(old)}: old .xls workbooks; save them as .xlsx)" if old else ""
        raise GuanxiError(f"data folder {data_dir} holds no .csv, .txt, .tsv or .xlsx files{hint}")
    return files


def read_folder(data_dir: Path, mapping: Mapping | None = None, log: Log = lambda s: None,
                limits: Limits | None = None, defer: Callable[[Path], object] | None = None) -> list:
    """Every input file of `data_dir` read and mapped to a table, in name order. ``defer(path)``
    may return a stand-in for a file to read later in chunks (knowledge.stream): it takes the
    file's place in the list, unread."""
    mapping = mapping or Mapping()
    limits = limits or Limits.from_settings()
    files = list_input_files(data_dir)
    names = {p.name for p in files}
    for key in mapping.files:
        if key.split("#")[0] not in names:
            raise GuanxiError(f"mapping file {mapping.path}: files.\"{key}\" names a file that is not in "
                              f"{data_dir} (files there: {', '.join(sorted(names))})")
    out: list = []
    for path in files:
        later = defer(path) if defer else None
        if later is not None:
            log(f"  {path.name}: {path.stat().st_size / (1 << 20):,.0f} MB → orders, read in chunks")
            out.append(later)
            continue
        for src in read_file(path, mapping, limits):
            log(f"  {src.label}: {len(src.frame):,} rows → {src.table}"
                + (f" ({src.encoding}, {DELIMITER_NAMES.get(src.delimiter, src.delimiter)})" if src.encoding else ""))
            out.append(src)
    return out


def combine(sources: list[SourceTable]) -> dict[str, pd.DataFrame]:
    """Per table, its sources concatenated (files in name order) with a fresh 0..n-1 index."""
    out = {}
    for t in TABLES:
        frames = [s.frame for s in sources if s.table == t]
        if frames:
            out[t] = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return out


def formats_by_table(sources: list[SourceTable]) -> dict[str, dict[str, dict[str, str]]]:
    """table → column → {file label: format} from the mapping file (knowledge.clean reads it)."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for s in sources:
        for col, fmt in s.formats.items():
            out.setdefault(s.table, {}).setdefault(col, {})[s.label] = fmt
    return out
