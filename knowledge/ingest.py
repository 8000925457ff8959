"""Reading a folder of CSV/Excel files into raw tables with canonical column names.

Steps per file: detect the encoding (UTF-8, UTF-8 with BOM, UTF-16, GB18030, else
charset-normalizer), sniff the delimiter (, ; tab | or whitespace), read every value as a
string, map headers to canonical columns (knowledge.schema aliases, or a TOML mapping file)
and decide which table the file is. Every problem the user must fix raises `GuanxiError`
naming the file (and column). Values are NOT cleaned here: see knowledge.clean.
"""
from __future__ import annotations

import codecs
import csv
import re
import tomllib
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.export import restore_cell, restore_formulas
from knowledge.schema import CUSTOMERS, TABLES, normalise_header

TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", "whitespace": "whitespace"}
# Extra columns an orders file may carry about its customer (used to derive customer rows).
CUSTOMER_EXTRAS = ("name", "gender", "phone", "email", "city", "province")
EXTRA_PREFIX = "customer:"
SOURCE_FILE, SOURCE_ROW = "source_file", "source_row"
# The last keyword in a file name wins: "客户投诉.csv" is feedback, "customer_orders.csv" orders.
FILENAME_HINTS = {
    "customers": ("customer", "客户", "会员", "client", "member", "用户"),
    "orders": ("order", "订单", "交易", "transaction", "sales", "销售", "invoice", "purchase", "购买"),
    "products": ("product", "商品", "产品", "goods", "sku", "item"),
    "feedback": ("feedback", "反馈", "投诉", "评价", "工单", "complaint", "review", "ticket", "comment"),
}
SNIFF_BYTES = 1 << 16
VALIDATE_CHUNK = 1 << 22

Log = Callable[[str], None]


# ---------------------------------------------------------------- mapping file
@dataclass(frozen=True)
class FileMapping:
    """What the mapping file says about one input file (every field optional)."""
    table: str | None = None
    sep: str | None = None
    encoding: str | None = None
    header: bool = True
    names: tuple[str, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)  # canonical → source header


@dataclass(frozen=True)
class Mapping:
    """A parsed, validated mapping file: per-file entries and per-table column maps."""
    files: dict[str, FileMapping] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # table → canonical → source
    path: Path | None = None

    def for_file(self, label: str, file_name: str) -> FileMapping:
        """The entry for "book.xlsx#Sheet1" or, failing that, for "book.xlsx"."""
        return self.files.get(label) or self.files.get(file_name) or FileMapping()


_SEPS = {",": ",", ";": ";", "\t": "\t", "tab": "\t", "|": "|", "whitespace": "whitespace", "comma": ",",
         "semicolon": ";", "pipe": "|"}
_FILE_KEYS = {"table", "sep", "encoding", "header", "names", "columns"}


def load_mapping(path: Path) -> Mapping:
    """Parse and validate a TOML mapping file; unknown tables, columns or keys raise GuanxiError."""
    path = Path(path)
    if not path.is_file():
        raise GuanxiError(f"mapping file {path} not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise GuanxiError(f"mapping file {path}: not a valid TOML file ({e})") from None
    unknown = set(data) - {"files", "columns"}
    if unknown:
        raise GuanxiError(f"mapping file {path}: unknown section '{sorted(unknown)[0]}' (expected [files.\"NAME\"] "
                          f"or [columns.TABLE])")
    files = {name: _file_mapping(path, name, entry) for name, entry in _section(path, data, "files").items()}
    columns = {t: _column_map(path, f"columns.{t}", t, cols)
               for t, cols in _section(path, data, "columns").items() if _check_table(path, "columns", t)}
    return Mapping(files=files, columns=columns, path=path)


def _section(path: Path, data: dict, key: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise GuanxiError(f"mapping file {path}: '{key}' must be a table of entries")
    return value


def _check_table(path: Path, where: str, table: object) -> bool:
    if table not in TABLES:
        raise GuanxiError(f"mapping file {path}: {where}: unknown table '{table}' (known: {', '.join(TABLES)})")
    return True


def _file_mapping(path: Path, name: str, entry: object) -> FileMapping:
    where = f'files."{name}"'
    if not isinstance(entry, dict):
        raise GuanxiError(f"mapping file {path}: {where} must be a table (table = ..., sep = ...)")
    unknown = set(entry) - _FILE_KEYS
    if unknown:
        raise GuanxiError(f"mapping file {path}: {where}: unknown key '{sorted(unknown)[0]}' "
                          f"(known: {', '.join(sorted(_FILE_KEYS))})")
    table = entry.get("table")
    if table is not None:
        _check_table(path, where, table)
    sep = entry.get("sep")
    if sep is not None and sep not in _SEPS:
        raise GuanxiError(f"mapping file {path}: {where}: sep '{sep}' is not one of "
                          f"\",\", \";\", \"\\t\", \"|\", \"whitespace\"")
    encoding = entry.get("encoding")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except (LookupError, TypeError):
            raise GuanxiError(f"mapping file {path}: {where}: unknown encoding '{encoding}'") from None
    header = entry.get("header", True)
    names = entry.get("names", [])
    if not isinstance(header, bool):
        raise GuanxiError(f"mapping file {path}: {where}: header must be true or false")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise GuanxiError(f"mapping file {path}: {where}: names must be a list of strings")
    if not header and not names:
        raise GuanxiError(f"mapping file {path}: {where}: header = false needs names = [...] (one per column)")
    columns = entry.get("columns", {})
    if columns and table is None:
        raise GuanxiError(f"mapping file {path}: {where}: columns need table = \"...\" in the same entry")
    columns = _column_map(path, f"{where}.columns", table, columns) if columns else {}
    return FileMapping(table=table, sep=_SEPS[sep] if sep else None, encoding=encoding, header=header,
                       names=tuple(names), columns=columns)


def _column_map(path: Path, where: str, table: str, cols: object) -> dict[str, str]:
    if not isinstance(cols, dict):
        raise GuanxiError(f"mapping file {path}: {where} must map canonical column = \"source header\"")
    known = TABLES[table].column_names
    for canonical, source in cols.items():
        if canonical not in known:
            raise GuanxiError(f"mapping file {path}: {where}: unknown column '{canonical}' for table {table} "
                              f"(known: {', '.join(known)})")
        if not isinstance(source, str):
            raise GuanxiError(f"mapping file {path}: {where}: {canonical} must be a header name (a string)")
    return dict(cols)


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
def read_text_file(path: Path, encoding: str, sep: str, header: bool = True,
                   names: tuple[str, ...] = ()) -> pd.DataFrame:
    """All values as strings (no NA conversion), the index mapping to line numbers. Uses the
    fast pyarrow reader when line numbers stay exact (no blank lines, a real delimiter), else pandas."""
    # the blank-line scan looks at bytes: valid for ASCII-compatible encodings only (not UTF-16)
    if sep != "whitespace" and not encoding.lower().startswith("utf-16") and not has_blank_lines(path):
        df = _read_with_arrow(path, encoding, sep, header, names)
        if df is not None:
            return df
    return _read_with_pandas(path, encoding, sep, header, names)


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


def _read_with_arrow(path: Path, encoding: str, sep: str, header: bool,
                     names: tuple[str, ...]) -> pd.DataFrame | None:
    """pyarrow.csv with every column a string; None when pandas should read it instead
    (duplicate headers, ragged or undecodable rows: pandas gives the better error)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    first = sample_lines(path, encoding, 1)
    if not first:
        return None
    cols = list(names) if not header else next(csv.reader(first, delimiter=sep))
    if not cols or len(set(cols)) != len(cols):
        return None
    tmp = [f"c{i}" for i in range(len(cols))]
    enc = "utf8" if encoding.replace("_", "-").lower() in ("utf-8", "utf-8-sig", "utf8") else encoding
    try:
        table = pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(column_names=tmp, skip_rows=1 if header else 0, encoding=enc),
            parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in tmp},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, UnicodeDecodeError, LookupError):
        return None
    df = table.to_pandas()
    df.columns = cols
    return df


def _read_with_pandas(path: Path, encoding: str, sep: str, header: bool, names: tuple[str, ...]) -> pd.DataFrame:
    kw = dict(dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False,
              encoding=encoding, encoding_errors="strict", engine="c")
    kw["sep"] = r"\s+" if sep == "whitespace" else sep
    if not header:
        kw.update(header=None, names=list(names))
    try:
        return pd.read_csv(path, **kw)
    except pd.errors.EmptyDataError:
        raise GuanxiError(f"{path.name}: empty file (no header, no rows)") from None
    except pd.errors.ParserError as e:
        detail = str(e).strip().splitlines()[-1]
        raise GuanxiError(f"{path.name}: cannot read it as {DELIMITER_NAMES.get(sep, repr(sep))}-separated "
                          f"text ({detail}); check the delimiter and quoting") from None
    except UnicodeDecodeError as e:
        raise GuanxiError(f"{path.name}: not valid {encoding} text at byte {e.start}; save it as UTF-8 "
                          f"or give encoding = \"...\" in a mapping file") from None


def read_excel_file(path: Path, header: bool = True, names: tuple[str, ...] = ()) -> dict[str, pd.DataFrame]:
    """Every sheet of a workbook, values as strings (Excel dates become 'YYYY-MM-DD HH:MM:SS')."""
    kw = dict(sheet_name=None, dtype=str, keep_default_na=False, na_filter=False, engine="openpyxl")
    if not header:
        kw.update(header=None, names=list(names))
    try:
        return pd.read_excel(path, **kw)
    except Exception as e:  # openpyxl raises many types for corrupt workbooks; all mean the same here
        raise GuanxiError(f"{path.name}: cannot read it as an Excel .xlsx workbook "
                          f"({type(e).__name__}: {str(e)[:120]}); is it really .xlsx?") from None


def _is_zip(path: Path) -> bool:
    return zipfile.is_zipfile(path)


# ---------------------------------------------------------------- header matching
def _header_keys(h: object) -> tuple[str, ...]:
    """Keys a header is compared by: normalised, without '_', without a trailing '(unit)'."""
    n = normalise_header(h)
    no_unit = re.sub(r"[（(][^()（）]*[)）]$", "", n).strip("_")
    return tuple(dict.fromkeys((n, n.replace("_", ""), no_unit, no_unit.replace("_", ""))))


@lru_cache(maxsize=None)
def _alias_index(table: str) -> dict[str, tuple[str, int]]:
    """normalised alias → (canonical column, rank) for one table; the column name itself ranks 0."""
    idx: dict[str, tuple[str, int]] = {}
    for col in TABLES[table].columns:
        for rank, alias in enumerate(col.all_names()):
            n = normalise_header(alias)
            idx.setdefault(n, (col.name, rank))
            idx.setdefault(n.replace("_", ""), (col.name, rank))
    return idx


def match_headers(headers: list[str], table: str, explicit: dict[str, str] | None = None,
                  label: str = "") -> dict[str, str]:
    """canonical column → source header for `table`. Explicit (mapping-file) pairs win; among
    several headers for one column the exact name, then the earlier alias, then the earlier
    header is taken."""
    out: dict[str, str] = {}
    for canonical, source in (explicit or {}).items():
        found = _find_header(headers, source)
        if found is None:
            raise GuanxiError(f"{label}: the mapping file maps {table}.{canonical} to header '{source}', "
                              f"which is not in the file (headers found: {', '.join(map(str, headers))})")
        out[canonical] = found
    taken = set(out.values())
    idx = _alias_index(table)
    best: dict[str, tuple[int, int, int, str]] = {}
    for pos, h in enumerate(headers):
        if h in taken:
            continue
        for level, key in enumerate(_header_keys(h)):
            if key in idx:
                col, rank = idx[key]
                cand = (level, rank, pos, h)
                if col not in out and (col not in best or cand < best[col]):
                    best[col] = cand
                break
    out.update({col: cand[3] for col, cand in best.items()})
    order = TABLES[table].column_names
    return {c: out[c] for c in order if c in out}


def _find_header(headers: list[str], wanted: str) -> str | None:
    if wanted in headers:
        return wanted
    key = normalise_header(wanted)
    return next((h for h in headers if normalise_header(h) == key), None)


def customer_extras(headers: list[str], used: set[str]) -> dict[str, str]:
    """Customer attributes carried by an orders file: 'customer:province' → 'Country', ..."""
    idx = _alias_index(CUSTOMERS.name)
    out: dict[str, str] = {}
    for h in headers:
        if h in used:
            continue
        for key in _header_keys(h):
            if key in idx and key != "name":
                col = idx[key][0]
                if col in CUSTOMER_EXTRAS and EXTRA_PREFIX + col not in out:
                    out[EXTRA_PREFIX + col] = h
                break
    return out


def filename_hint(name: str) -> str | None:
    """The table a file name suggests (the last keyword in the name wins), or None."""
    low = Path(name).stem.lower()
    best, best_pos = None, -1
    for table, words in FILENAME_HINTS.items():
        for w in words:
            pos = low.rfind(w)
            if pos > best_pos:
                best, best_pos = table, pos
    return best


def score_tables(headers: list[str], file_name: str, mapping: Mapping) -> dict[str, tuple]:
    """Per candidate table: (score, signature matches). A table is a candidate with 2+ signature
    columns, or 2+ matched columns when the file name points to it."""
    hint = filename_hint(file_name)
    out = {}
    for t, table in TABLES.items():
        explicit = {c: s for c, s in mapping.columns.get(t, {}).items() if _find_header(headers, s)}
        matched = match_headers(headers, t, explicit)
        sig = len(set(matched) & set(table.signature))
        hinted = hint == t
        if sig >= 2 or (hinted and len(matched) >= 2):
            out[t] = (len(matched) + sig + (2 if hinted else 0), sig)
    return out


def assign_table(headers: list[str], label: str, file_name: str, mapping: Mapping) -> str:
    """The table a file holds: the mapping file's word, else the best header match."""
    forced = mapping.for_file(label, file_name).table
    if forced:
        return forced
    scores = score_tables(headers, file_name, mapping)
    if not scores:
        raise GuanxiError(unrecognised_message(label, headers))
    return max(scores, key=lambda t: (scores[t], -list(TABLES).index(t)))


def unrecognised_message(label: str, headers: list[str]) -> str:
    """The error for a file no table matches: its headers and what each table needs."""
    needs = "; ".join(
        f"{t.name}: 2+ of " + ", ".join(f"{c} ({'/'.join(t.column(c).aliases[:2])})" for c in t.signature)
        for t in TABLES.values())
    return (f"{label}: no recognisable table; headers found: {', '.join(map(str, headers)) or '(none)'}. "
            f"Expected headers of one of the tables — {needs}. Rename the headers, or map them in a "
            f"mapping file (--mapping), or move the file out of the data folder")


def check_required(label: str, table: str, matched: dict[str, str], headers: list[str]) -> None:
    """Raise GuanxiError naming the first required column the file cannot provide."""
    t = TABLES[table]
    for col in t.required:
        if col in matched:
            continue
        if table == "orders" and col in ("order_id", "quantity"):
            continue  # derived: customer + date; defaults to 1
        if table == "orders" and col == "amount" and "unit_price" in matched:
            continue  # derived: quantity × unit_price
        extra = " (or a unit_price column to compute it)" if (table, col) == ("orders", "amount") else ""
        aliases = ", ".join(t.column(col).all_names())
        raise GuanxiError(f"{label}: table {table} needs column '{col}'{extra} but no header matches; "
                          f"accepted headers: {aliases}. Headers found: {', '.join(map(str, headers))}")


# ---------------------------------------------------------------- one source table
@dataclass
class SourceTable:
    """One file (or sheet) read and mapped: `frame` holds the canonical columns (raw strings),
    customer extras for orders, and source_file / source_row."""
    label: str
    table: str
    encoding: str | None
    delimiter: str | None
    header_map: dict[str, str]
    unmapped: list[str]
    frame: pd.DataFrame

    def describe(self) -> dict:
        return {"file": self.label, "table": self.table, "encoding": self.encoding, "delimiter": self.delimiter,
                "rows": len(self.frame), "header_mapping": self.header_map, "unmapped_headers": self.unmapped}


def map_frame(df: pd.DataFrame, label: str, file_name: str, mapping: Mapping, header: bool,
              encoding: str | None, delimiter: str | None) -> SourceTable:
    """Assign a table to a raw frame, map its headers and keep the mapped columns."""
    # a leading apostrophe in front of a formula start is how Guanxi (and people) write a cell that must
    # not run in a spreadsheet (knowledge.export): the value is what follows it
    df.columns = [restore_cell(str(c).replace("\ufeff", "").strip()) for c in df.columns]
    headers = list(df.columns)
    if len(headers) == 1 and delimiter is None:
        raise GuanxiError(f"{label}: has only one column (header '{headers[0][:80]}'); a table needs at least "
                          f"two (e.g. an id and a name)")
    if len(headers) == 1:
        raise GuanxiError(f"{label}: looks like one column (header '{headers[0][:80]}'); expected "
                          f"comma/semicolon/tab-separated columns — check the delimiter, or set "
                          f"sep = \"...\" for this file in a mapping file")
    df[SOURCE_ROW] = df.index.to_numpy() + (2 if header else 1)
    df = df[~_blank_rows(df[headers])]
    if df.empty:
        raise GuanxiError(f"{label}: empty file (a header but no data rows)")
    table = assign_table(headers, label, file_name, mapping)
    explicit = dict(mapping.columns.get(table, {}))
    explicit = {c: s for c, s in explicit.items() if _find_header(headers, s)}
    explicit.update(mapping.for_file(label, file_name).columns)
    matched = match_headers(headers, table, explicit, label)
    check_required(label, table, matched, headers)
    cols = dict(matched)
    if table == "orders":
        cols.update(customer_extras(headers, set(matched.values())))
    frame = restore_formulas(pd.DataFrame({c: df[s] for c, s in cols.items()}))
    frame[SOURCE_FILE] = label
    frame[SOURCE_ROW] = df[SOURCE_ROW].astype("int64")
    used = set(cols.values())
    return SourceTable(label=label, table=table, encoding=encoding, delimiter=delimiter, header_map=cols,
                       unmapped=[h for h in headers if h not in used], frame=frame.reset_index(drop=True))


def _blank_rows(df: pd.DataFrame) -> pd.Series:
    """Rows whose every value is empty or whitespace (blank lines, empty Excel rows)."""
    blank = pd.Series(True, index=df.index)
    for c in df.columns:
        blank &= df[c].str.strip().eq("") | df[c].isna()
    return blank


def read_file(path: Path, mapping: Mapping) -> list[SourceTable]:
    """One input file as SourceTables (an .xlsx gives one per non-empty sheet)."""
    if path.stat().st_size == 0:
        raise GuanxiError(f"{path.name}: empty file (0 bytes)")
    fm = mapping.for_file(path.name, path.name)
    if path.suffix.lower() in EXCEL_SUFFIXES:
        return _read_workbook(path, mapping)
    encoding = fm.encoding or detect_encoding(path)
    sep = fm.sep or sniff_delimiter(sample_lines(path, encoding), prefer_tab=path.suffix.lower() == ".tsv")
    df = read_text_file(path, encoding, sep, fm.header, fm.names)
    return [map_frame(df, path.name, path.name, mapping, fm.header, encoding, sep)]


def _read_workbook(path: Path, mapping: Mapping) -> list[SourceTable]:
    if not _is_zip(path):
        raise GuanxiError(f"{path.name}: not a valid .xlsx workbook (it is not a zip archive; "
                          f"is it a CSV or an old .xls renamed? save it as .xlsx or .csv)")
    fm = mapping.for_file(path.name, path.name)
    sheets = read_excel_file(path, fm.header, fm.names)
    out = []
    for sheet, df in sheets.items():
        if df.shape[1] == 0 or (df.empty and df.shape[1] <= 1):
            continue  # blank sheets are normal in workbooks
        label = f"{path.name}#{sheet}" if len(sheets) > 1 else path.name
        out.append(map_frame(df, label, path.name, mapping, fm.header, None, None))
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


def read_folder(data_dir: Path, mapping: Mapping | None = None, log: Log = lambda s: None) -> list[SourceTable]:
    """Every input file of `data_dir` read and mapped to a table."""
    mapping = mapping or Mapping()
    files = list_input_files(data_dir)
    names = {p.name for p in files}
    for key in mapping.files:
        if key.split("#")[0] not in names:
            raise GuanxiError(f"mapping file {mapping.path}: files.\"{key}\" names a file that is not in "
                              f"{data_dir} (files there: {', '.join(sorted(names))})")
    out = []
    for path in files:
        for src in read_file(path, mapping):
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
