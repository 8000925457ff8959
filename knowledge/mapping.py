"""The mapping file (`guanxi build --mapping mapping.toml`): what to read how, validated up front.

```toml
[files."orders.csv"]                  # one input file ("book.xlsx#Sheet" for one sheet)
table = "orders"                      # which table it holds
sep = ";"                             # "," ";" "\\t" "|" "whitespace"
encoding = "gb18030"
header = true                         # false: the file has no header row ...
names = ["id", "cust", "day", "eur"]  # ... then name every column (with header = true: replaces it)
[files."orders.csv".columns]          # canonical column = header in the file
order_id = "id"
[files."orders.csv".date_format]      # a date column's order: "DMY", "MDY" or "YMD"
order_date = "DMY"
[files."orders.csv".decimal]          # a number column's decimal separator: "," or "."
amount = ","

[columns.orders]                      # for every orders file: canonical column = header
amount = "成交价"
[date_format.customers]               # for every customers file
birthday = "DMY"
[decimal.products]
price = ","
```
Every problem raises GuanxiError naming the mapping file and the entry.
"""
from __future__ import annotations

import codecs
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.errors import GuanxiError
from knowledge.formats import DATE_ORDERS, DECIMALS
from knowledge.schema import TABLES

DATE_TYPES, NUMBER_TYPES = ("date", "datetime"), ("int", "float")


@dataclass(frozen=True)
class FileMapping:
    """What the mapping file says about one input file (every field optional)."""
    table: str | None = None
    sep: str | None = None
    encoding: str | None = None
    header: bool = True
    names: tuple[str, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)  # canonical → source header
    formats: dict[str, str] = field(default_factory=dict)  # canonical → DMY | MDY | YMD | decimal_point | ...


@dataclass(frozen=True)
class Mapping:
    """A parsed, validated mapping file: per-file entries and per-table column maps and formats."""
    files: dict[str, FileMapping] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # table → canonical → source
    formats: dict[str, dict[str, str]] = field(default_factory=dict)  # table → canonical → format
    path: Path | None = None
    own: dict[str, dict[str, str]] = field(default_factory=dict)  # table → header → number | text (knowledge.own_columns)

    def for_file(self, label: str, file_name: str) -> FileMapping:
        """The entry for "book.xlsx#Sheet1" or, failing that, for "book.xlsx"."""
        return self.files.get(label) or self.files.get(file_name) or FileMapping()

    def formats_for(self, table: str, label: str, file_name: str) -> dict[str, str]:
        """canonical column → format for one file of `table` (its own entry over the table's);
        a file-entry format naming a column of another table raises GuanxiError."""
        own = self.for_file(label, file_name).formats
        for col in own:
            _check_format_column(self.path, f'files."{file_name}"', table, col, own[col])
        return {**self.formats.get(table, {}), **own}


_SEPS = {",": ",", ";": ";", "\t": "\t", "tab": "\t", "|": "|", "whitespace": "whitespace", "comma": ",",
         "semicolon": ";", "pipe": "|"}
_FILE_KEYS = {"table", "sep", "encoding", "header", "names", "columns", "date_format", "decimal"}
_SECTIONS = {"files", "columns", "date_format", "decimal"}


def load_mapping(path: Path) -> Mapping:
    """Parse and validate a TOML mapping file; unknown tables, columns or keys raise GuanxiError."""
    path = Path(path)
    if not path.is_file():
        raise GuanxiError(f"mapping file {path} not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise GuanxiError(f"mapping file {path}: not a valid TOML file ({e})") from None
    unknown = set(data) - _SECTIONS
    if unknown:
        raise GuanxiError(f"mapping file {path}: unknown section '{sorted(unknown)[0]}' (expected [files.\"NAME\"], "
                          f"[columns.TABLE], [date_format.TABLE] or [decimal.TABLE])")
    files = {name: _file_mapping(path, name, entry) for name, entry in _section(path, data, "files").items()}
    columns = {t: _column_map(path, f"columns.{t}", t, cols)
               for t, cols in _section(path, data, "columns").items() if _check_table(path, "columns", t)}
    formats: dict[str, dict[str, str]] = {}
    for kind in ("date_format", "decimal"):
        for t, cols in _section(path, data, kind).items():
            _check_table(path, kind, t)
            formats.setdefault(t, {}).update(_format_map(path, f"{kind}.{t}", kind, t, cols))
    return Mapping(files=files, columns=columns, formats=formats, path=path)


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
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise GuanxiError(f"mapping file {path}: {where}: names lists '{dup}' twice (one name per column)")
    if not header and not names:
        raise GuanxiError(f"mapping file {path}: {where}: header = false needs names = [...] (one per column)")
    columns = entry.get("columns", {})
    if columns and table is None:
        raise GuanxiError(f"mapping file {path}: {where}: columns need table = \"...\" in the same entry")
    columns = _column_map(path, f"{where}.columns", table, columns) if columns else {}
    formats = {}
    for kind in ("date_format", "decimal"):
        if kind in entry:
            formats.update(_format_map(path, f"{where}.{kind}", kind, table, entry[kind]))
    return FileMapping(table=table, sep=_SEPS[sep] if sep else None, encoding=encoding, header=header,
                       names=tuple(names), columns=columns, formats=formats)


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


def _format_map(path: Path, where: str, kind: str, table: str | None, cols: object) -> dict[str, str]:
    """{canonical column: DMY | MDY | YMD} (date_format) or {column: decimal_point | decimal_comma}."""
    if not isinstance(cols, dict):
        raise GuanxiError(f"mapping file {path}: {where} must map canonical column = \"format\"")
    out = {}
    for col, value in cols.items():
        if kind == "date_format":
            fmt = value.upper() if isinstance(value, str) else None
            if fmt not in DATE_ORDERS:
                raise GuanxiError(f"mapping file {path}: {where}: {col} = {value!r} is not one of "
                                  f"\"DMY\", \"MDY\", \"YMD\" (the order of day, month and year)")
        else:
            fmt = DECIMALS.get(value) if isinstance(value, str) else None
            if fmt is None:
                raise GuanxiError(f"mapping file {path}: {where}: {col} = {value!r} is not \",\" or \".\" "
                                  f"(the decimal separator)")
        tables = [table] if table else [t for t in TABLES if col in TABLES[t].column_names]
        if not tables:
            raise GuanxiError(f"mapping file {path}: {where}: unknown column '{col}'")
        if not table and not any(_type_fits(t, col, fmt) for t in tables):
            _check_format_column(path, where, tables[0], col, fmt)
        if table:
            _check_format_column(path, where, table, col, fmt)
        out[col] = fmt
    return out


def _type_fits(table: str, col: str, fmt: str) -> bool:
    dtype = TABLES[table].column(col).dtype
    return dtype in (DATE_TYPES if fmt in DATE_ORDERS else NUMBER_TYPES)


def _check_format_column(path: Path | None, where: str, table: str, col: str, fmt: str) -> None:
    known = TABLES[table].column_names
    if col not in known:
        raise GuanxiError(f"mapping file {path}: {where}: unknown column '{col}' for table {table} "
                          f"(known: {', '.join(known)})")
    if not _type_fits(table, col, fmt):
        kind, types = ("date_format", "a date") if fmt in DATE_ORDERS else ("decimal", "a number")
        raise GuanxiError(f"mapping file {path}: {where}: {kind} is for {types} column; {table}.{col} is "
                          f"{TABLES[table].column(col).dtype}")
