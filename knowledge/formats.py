"""Numbers and dates read the way their column is written (knowledge.clean applies the results).

A column of one input file is read as a whole, never value by value:

- **numbers**: its values decide the decimal separator. '3,50', '0,125', '1.234,56', '1.234.567'
  show a decimal comma; '12.50', '0.125', '1,234.56', '1,234,567' a decimal point. '1,234' and
  '1.234' (one separator followed by exactly three digits) could be either: they are read by the
  column's decision, and are *ambiguous* when no value of the column shows its separator. The
  majority decides; values written the other way *contradict* the decision; as many of each
  is *mixed*. Currency signs (¥ ￥ $ € £ 元 RMB CNY USD EUR GBP HKD) and thousands spaces are
  dropped. 'inf', 'nan' and values beyond ±1.8e308 ('1e309') are *non-finite*.
- **dates**: year-first dates (2024-03-05, 2024/3/5, 2024年3月5日, 20240305) are always read Y-M-D.
  For day/month/year-looking dates (03/05/2024, 5.3.2024) the values decide the order: a first
  part over 12 (13/05/2024) shows day first (DMY), a second part over 12 (05/13/2024) month
  first (MDY), and dotted dates (5.3.2024) count for day first, as every locale writing them
  does. Both parts ≤ 12 and different is *ambiguous* when the column shows no order; the
  majority decides otherwise and dates written the other way *contradict* it.

A mapping file can set either for a column (``date_format = "DMY" | "MDY" | "YMD"``,
``decimal = "," | "."``); then that setting decides and values against it contradict it. Every
decision is returned with its evidence (row counts) for the quality report; every problem value
with a reason naming the column, the value and what was expected. Nothing is guessed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

OK, AMBIGUOUS, CONTRADICTS, MIXED, NON_FINITE = 0, 1, 2, 3, 4
DATE_ORDERS = ("DMY", "MDY", "YMD")
DECIMAL_POINT, DECIMAL_COMMA = "decimal_point", "decimal_comma"
DECIMALS = {".": DECIMAL_POINT, ",": DECIMAL_COMMA, "point": DECIMAL_POINT, "comma": DECIMAL_COMMA}
DT_UNIT = "datetime64[us]"
SHOWN = 60  # characters of a value quoted in a reason

_CURRENCY = r"(?i)[¥￥$€£]|元|rmb|cny|usd|eur|gbp|hkd"
_SPACE_GROUPS = r"^[+-]?\d{1,3}(?:[ '’]\d{3})+(?:[.,]\d+)?$"
_PLAIN = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
# number classes, tried in this order
_N_NON_FINITE, _N_PLAIN, _N_AMB_DOT, _N_AMB_COMMA, _N_POINT, _N_COMMA, _N_INVALID = range(7)
_NUMBER_PATTERNS = (
    (_N_NON_FINITE, r"(?i)^[+-]?(?:inf|infinity|nan)$"),
    (_N_PLAIN, r"^[+-]?\d+$|^[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+$"),
    (_N_AMB_DOT, r"^[+-]?[1-9]\d{0,2}\.\d{3}$"),
    (_N_AMB_COMMA, r"^[+-]?[1-9]\d{0,2},\d{3}$"),
    (_N_POINT, r"^[+-]?(?:\d+\.\d*|\.\d+)$|^[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d*)?$"),
    (_N_COMMA, r"^[+-]?(?:\d+,\d*|,\d+)$|^[+-]?[1-9]\d{0,2}(?:\.\d{3})+(?:,\d*)?$"),
)

_YMD = (r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
        r"(?:(?:\s+|T)(?P<H>\d{1,2})\s*[:时]\s*(?P<M>\d{1,2})\s*分?(?:\s*:?\s*(?P<S>\d{1,2})(?:\.\d+)?\s*秒?)?)?"
        r"\s*(?:Z|[+-]\d{2}:?\d{2})?$")
_COMPACT = r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:\s*(?P<H>\d{2}):?(?P<M>\d{2})(?::?(?P<S>\d{2}))?)?$"
_DMY = (r"^(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})[/.-](?P<y>\d{4})"
        r"(?:\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*(?P<p>[AaPp][Mm])?)?$")
_SERIAL = r"^\d{5}(?:\.\d+)?$"
ISO_DATE = r"\d{4}-\d{2}-\d{2}(?: 00:00:00)?"
ISO_DATETIME = r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?"


# ---------------------------------------------------------------- arrow helpers
def arrow(s: pd.Series) -> pa.Array:
    """The pyarrow string array of a str Series (vectorised RE2 regexes and casts run on it)."""
    a = pa.array(s.astype("str").array)
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


def _matches(a: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(a, pattern), False).to_numpy(zero_copy_only=False)


def _extract(arr: pa.Array, pattern: str, names: tuple[str, ...]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(matched mask, group name → float array, NaN where the group is empty)."""
    st = pc.extract_regex(arr, pattern)
    hit = st.is_valid().to_numpy(zero_copy_only=False)
    groups = {}
    for n in names:
        f = pc.struct_field(st, n)
        f = pc.if_else(pc.equal(f, ""), pa.scalar(None, f.type), f)
        groups[n] = pc.cast(f, pa.float64()).to_numpy(zero_copy_only=False)
    return hit, groups


def _shown(v: str) -> str:
    return v if len(v) <= SHOWN else v[:SHOWN] + "…"


def _num(x: float) -> str:
    return f"{x:.15g}"


# ---------------------------------------------------------------- decisions and results
@dataclass
class Decision:
    """One file's column: the format decided (from its values or the mapping file), the evidence
    (row counts per kind of value), an example of each kind, and how many rows it quarantined."""
    file: str
    column: str
    kind: str  # number | date
    decision: str
    source: str  # values | mapping
    evidence: dict[str, int]
    examples: dict[str, str] = field(default_factory=dict)
    quarantined: int = 0
    any_dmy_form: bool = False   # dates: some value is a/b/YYYY (decide_date_order's has_dmy_form)

    def to_dict(self) -> dict:
        return {"file": self.file, "column": self.column, "kind": self.kind, "decision": self.decision,
                "source": self.source, "evidence": self.evidence, "quarantined": self.quarantined}


Decisions = dict[str, Decision]  # file label ("" without source_file) → decision


@dataclass
class ColumnRead:
    """One column read: values (float64 or datetime64[us]), which were reformatted, and per row a
    problem code (OK, AMBIGUOUS, CONTRADICTS, MIXED, NON_FINITE) with its reason and rule label;
    the decisions used (one per input file)."""
    values: pd.Series
    reformatted: pd.Series
    problem: pd.Series
    reason: pd.Series
    rule: pd.Series
    decisions: list[Decision] = field(default_factory=list)


@dataclass
class _Group:
    """One file's part of a column, as distinct values with their row counts."""
    codes: np.ndarray
    uniq: pd.Series
    counts: np.ndarray

    def rows(self, mask: np.ndarray) -> int:
        return int(self.counts[mask].sum())

    def first(self, mask: np.ndarray) -> str:
        idx = np.flatnonzero(mask)
        return _shown(self.uniq.iat[idx[0]]) if len(idx) else ""


def _group(s: pd.Series) -> _Group:
    codes, uniq = pd.factorize(s)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniq))
    return _Group(codes, pd.Series(uniq, dtype="str"), counts)


def _files(df: pd.DataFrame, col: str) -> list[tuple[str, pd.Series, np.ndarray]]:
    """(file label, the file's values of `col`, their positions) for each file with a value."""
    s = df[col]
    if "source_file" not in df.columns:
        return [("", s, np.arange(len(s)))] if s.notna().any() else []
    codes, labels = pd.factorize(df["source_file"])
    if len(labels) == 1:
        return [(str(labels[0]), s, np.arange(len(s)))] if s.notna().any() else []
    out = []
    for i, label in enumerate(labels):
        pos = np.flatnonzero(codes == i)
        part = s.iloc[pos]
        if part.notna().any():
            out.append((str(label), part, pos))
    return out


def _decide(df: pd.DataFrame, col: str, forced: dict[str, str] | None, decide_group) -> Decisions:
    return {label: decide_group(_group(part), label, (forced or {}).get(label)) for label, part, _ in _files(df, col)}


def _read(df: pd.DataFrame, col: str, decided: Decisions, decide_group, apply_group, fill, dtype) -> ColumnRead:
    """Read `col` one file at a time under its decision (`apply_group(group, decision) -> parts`);
    a file without one (its values all filled in since) is decided from the values it has now.
    `decisions` lists the decisions made here."""
    s = df[col]
    n = len(s)
    values = np.full(n, fill, dtype=dtype)
    reformatted = np.zeros(n, dtype=bool)
    problem = np.zeros(n, dtype=np.int8)
    reason = np.full(n, None, dtype=object)
    rule = np.full(n, None, dtype=object)
    made = []
    for label, part, pos in _files(df, col):
        g = _group(part)
        d = decided.get(label)
        if d is None:
            d = decide_group(g, label, None)
            made.append(d)
        parts = apply_group(g, d)
        v, r, p, why, lab = (_rows(g.codes, x, f) for x, f in zip(parts, (fill, False, OK, None, None)))
        values[pos], reformatted[pos], problem[pos], reason[pos], rule[pos] = v, r, p, why, lab
        d.quarantined += int((p != OK).sum())
    idx = s.index
    return ColumnRead(values=pd.Series(values, index=idx, dtype=dtype),
                      reformatted=pd.Series(reformatted, index=idx), problem=pd.Series(problem, index=idx),
                      reason=pd.Series(reason, index=idx, dtype=object), rule=pd.Series(rule, index=idx, dtype=object),
                      decisions=made)


def _rows(codes: np.ndarray, per_unique: np.ndarray, fill):
    """A per-distinct-value array spread over the rows (missing rows get `fill`)."""
    if not len(per_unique):
        return np.full(len(codes), fill)
    valid = codes >= 0
    return np.where(valid, per_unique[np.where(valid, codes, 0)], fill)


def _where(label: str) -> str:
    return f" in {label}" if label else ""


# ---------------------------------------------------------------- numbers
def _clean_number_text(a: pa.Array) -> pa.Array:
    """Currency signs and spaces off, '- 3' → '-3', thousands spaces ('1 234,5') removed."""
    t = pc.utf8_trim_whitespace(pc.replace_substring_regex(a, _CURRENCY, ""))
    t = pc.replace_substring_regex(t, r"^([+-])\s+", r"\1")
    grouped = pc.fill_null(pc.match_substring_regex(t, _SPACE_GROUPS), False)
    return pc.if_else(grouped, pc.replace_substring_regex(t, r"[ '’]", ""), t)


def _number_classes(t: pa.Array) -> np.ndarray:
    cls = np.full(len(t), _N_INVALID, dtype=np.int8)
    todo = np.ones(len(t), dtype=bool)
    for code, pattern in _NUMBER_PATTERNS:
        hit = todo & _matches(t, pattern)
        cls[hit] = code
        todo &= ~hit
    return cls


def _cast(t: pa.Array, mask: np.ndarray, drop: str, comma_decimal: bool) -> np.ndarray:
    """float64 of t[mask] with `drop` removed (and ',' as the decimal point), NaN elsewhere."""
    out = np.full(len(t), np.nan)
    idx = np.flatnonzero(mask)
    if len(idx):
        sub = pc.replace_substring(t.take(pa.array(idx)), drop, "")
        if comma_decimal:
            sub = pc.replace_substring(sub, ",", ".")
        out[idx] = pc.cast(sub, pa.float64()).to_numpy(zero_copy_only=False)
    return out


def decide_decimal(point: int, comma: int, forced: str | None) -> str:
    """The column's decimal separator from its evidence counts (or the mapping file's setting):
    decimal_point, decimal_comma, mixed (as many of each) or none (no value shows it)."""
    if forced:
        return forced
    if point > comma:
        return DECIMAL_POINT
    if comma > point:
        return DECIMAL_COMMA
    return "mixed" if point else "none"


def _number_facts(g: _Group) -> tuple[pa.Array, pa.Array, np.ndarray]:
    a = arrow(g.uniq)
    t = _clean_number_text(a)
    return a, t, _number_classes(t)


def _decide_numbers(g: _Group, label: str, col: str, forced: str | None) -> Decision:
    _, t, cls = _number_facts(g)
    amb = (cls == _N_AMB_DOT) | (cls == _N_AMB_COMMA)
    point, comma = g.rows(cls == _N_POINT), g.rows(cls == _N_COMMA)
    plain = cls == _N_PLAIN
    overflow = plain & ~np.isfinite(_cast(t, plain, ",", False))
    evidence = {DECIMAL_POINT: point, DECIMAL_COMMA: comma, "ambiguous": g.rows(amb),
                "no_separator": g.rows(plain & ~overflow), "non_finite": g.rows((cls == _N_NON_FINITE) | overflow),
                "not_a_number": g.rows(cls == _N_INVALID)}
    return Decision(file=label, column=col, kind="number", decision=decide_decimal(point, comma, forced),
                    source="mapping" if forced else "values", evidence=evidence,
                    examples={DECIMAL_POINT: g.first(cls == _N_POINT), DECIMAL_COMMA: g.first(cls == _N_COMMA)})


def _apply_numbers(g: _Group, d: Decision):
    a, t, cls = _number_facts(g)
    decision = d.decision
    amb = (cls == _N_AMB_DOT) | (cls == _N_AMB_COMMA)
    use_point = (cls == _N_PLAIN) | (amb & (decision == DECIMAL_POINT))
    use_comma = amb & (decision == DECIMAL_COMMA)
    prob = np.zeros(len(cls), dtype=np.int8)
    if decision == DECIMAL_POINT:
        use_point |= cls == _N_POINT
        prob[cls == _N_COMMA] = CONTRADICTS
    elif decision == DECIMAL_COMMA:
        use_comma |= cls == _N_COMMA
        prob[cls == _N_POINT] = CONTRADICTS
    elif decision == "mixed":
        prob[(cls == _N_POINT) | (cls == _N_COMMA)] = MIXED
    if decision in ("mixed", "none"):
        prob[amb] = AMBIGUOUS
    values = np.where(use_point, _cast(t, use_point, ",", False), _cast(t, use_comma, ".", True))
    prob[(cls == _N_NON_FINITE) | ((use_point | use_comma) & ~np.isfinite(values))] = NON_FINITE
    values[prob != OK] = np.nan
    reformatted = ~np.isnan(values) & ~(_matches(a, _PLAIN) & use_point)
    why, lab = _number_reasons(g.uniq, t, cls, prob, d)
    return values, reformatted, prob, why, lab


def _number_reasons(uniq, t, cls, prob, d: Decision):
    why = np.full(len(cls), None, dtype=object)
    lab = np.full(len(cls), None, dtype=object)
    name = {_N_POINT: "decimal point", _N_COMMA: "decimal comma"}
    key = {_N_POINT: DECIMAL_POINT, _N_COMMA: DECIMAL_COMMA}
    col, where = d.column, _where(d.file)
    setting = f'set decimal = "." or "," for {col} in a mapping file'
    for i in np.flatnonzero(prob != OK):
        v, p, c = _shown(uniq.iat[i]), prob[i], cls[i]
        if p == NON_FINITE:
            why[i] = f"{col} '{v}' is not a finite number (infinity, NaN or beyond ±1.8e308)"
            lab[i] = f"{col} is not a finite number"
        elif p == AMBIGUOUS:
            text = t[i].as_py()
            as_point = text.replace(",", "") if c == _N_AMB_COMMA else text
            as_comma = text.replace(".", "") if c == _N_AMB_DOT else text.replace(",", ".")
            seen = ("as many values show a decimal point as a decimal comma" if d.decision == "mixed"
                    else "no value of the column shows its decimal separator")
            why[i] = (f"{col} '{v}' is ambiguous: {_num(float(as_point))} or {_num(float(as_comma))} "
                      f"({seen}{where}); {setting}")
            lab[i] = f"{col} is ambiguous (decimal separator)"
        elif p == CONTRADICTS:
            other = _N_POINT if c == _N_COMMA else _N_COMMA
            if d.source == "mapping":
                sep = "." if d.decision == DECIMAL_POINT else ","
                why[i] = f"{col} '{v}' has a {name[c]}, but the mapping file sets decimal = \"{sep}\" for {col}"
            else:
                why[i] = (f"{col} '{v}' has a {name[c]}, but the column's other values{where} use a {name[other]} "
                          f"({d.evidence[key[other]]:,} values, e.g. '{d.examples[key[other]]}'); fix the value "
                          f"or {setting}")
            lab[i] = f"{col} contradicts the column's decimal separator"
        else:  # MIXED
            other = _N_POINT if c == _N_COMMA else _N_COMMA
            why[i] = (f"{col} '{v}' has a {name[c]}, but as many values of the column{where} use a {name[other]} "
                      f"(e.g. '{d.examples[key[other]]}'); {setting}")
            lab[i] = f"{col} mixes decimal separators"
    return why, lab


def decide_numbers(df: pd.DataFrame, col: str, forced: dict[str, str] | None = None) -> Decisions:
    """Each file's decimal separator for `col`, from all its values (or set by the mapping file:
    {file label: decimal_point | decimal_comma})."""
    return _decide(df, col, forced, lambda g, label, f: _decide_numbers(g, label, col, f))


def read_number_column(df: pd.DataFrame, col: str, decided: Decisions | None = None,
                       forced: dict[str, str] | None = None) -> ColumnRead:
    """`col` as float64 under each file's decision (`decided`; a file not in it is decided here from
    `df`, or set by `forced`: {file label: decimal_point | decimal_comma})."""
    decide = lambda g, label, f: _decide_numbers(g, label, col, (forced or {}).get(label))  # noqa: E731
    return _read(df, col, decided or {}, decide, _apply_numbers, np.nan, "float64")


def parse_numbers(s: pd.Series, decimal: str | None = None) -> tuple[pd.Series, pd.Series]:
    """(float64, NaN for missing / unreadable / problem values; mask of values that needed
    cleaning) for one column; `decimal` = "." or "," sets the separator instead of the values."""
    r = read_number_column(pd.DataFrame({"v": s}), "v", forced={"": DECIMALS[decimal]} if decimal else None)
    return r.values, r.reformatted


# ---------------------------------------------------------------- dates
def compose_datetimes(y, m, d, hh=None, mm=None, ss=None) -> np.ndarray:
    """datetime64[us] from numeric parts (NaN time parts = 0); NaT where the parts are not a
    real date and time (2023-13-45, 2023-02-30, 25:00)."""
    hh, mm, ss = (np.zeros(len(y)) if v is None else np.nan_to_num(v) for v in (hh, mm, ss))
    ok = (~np.isnan(y) & ~np.isnan(m) & ~np.isnan(d) & (y >= 1) & (y <= 9999) & (m >= 1) & (m <= 12)
          & (d >= 1) & (d <= 31) & (hh < 24) & (mm < 60) & (ss < 60))
    yi, mi, di = (np.where(ok, v, 1).astype("int64") for v in (y, m, d))
    month = ((yi - 1970) * 12 + mi - 1).astype("datetime64[M]")
    day = month.astype("datetime64[D]") + (di - 1)
    ok &= day.astype("datetime64[M]") == month  # day 30 of February rolls over: not a date
    secs = (np.where(ok, hh, 0) * 3600 + np.where(ok, mm, 0) * 60 + np.where(ok, ss, 0)).astype("int64")
    out = day.astype("datetime64[us]") + secs.astype("timedelta64[s]")
    out[~ok] = np.datetime64("NaT")
    return out


def _parse_unique(u: pd.Series, dayfirst: bool) -> np.ndarray:
    """Parse distinct date strings by format group (RE2 over Arrow, numpy arithmetic): Y-M-D
    (also 年月日 and /), YYYYMMDD, a/b/YYYY (day first or month first as decided), Excel serial
    days, else (few values) dates with month names."""
    n = len(u)
    res = np.full(n, np.datetime64("NaT"), dtype=DT_UNIT)
    todo = np.ones(n, dtype=bool)
    arr = arrow(u)
    parts = ("y", "m", "d", "H", "M", "S")
    for pattern in (_YMD, _COMPACT):
        idx = np.flatnonzero(todo)
        if not len(idx):
            return res
        hit, g = _extract(arr.take(idx), pattern, parts)
        res[idx[hit]] = compose_datetimes(*(g[k][hit] for k in parts))
        todo[idx[hit]] = False
    idx = np.flatnonzero(todo)
    if len(idx):
        hit, g = _extract(arr.take(idx), _DMY, ("a", "b", "y", "H", "M", "S"))
        if hit.any():
            a, b = g["a"][hit], g["b"][hit]
            st = pc.extract_regex(arr.take(idx), _DMY)
            ampm = pc.ascii_lower(pc.struct_field(st, "p")).to_numpy(zero_copy_only=False)[hit]
            h = g["H"][hit]
            h = np.where((ampm == "pm") & (h < 12), h + 12, np.where((ampm == "am") & (h == 12), 0, h))
            res[idx[hit]] = compose_datetimes(g["y"][hit], b if dayfirst else a, a if dayfirst else b,
                                              h, g["M"][hit], g["S"][hit])
            todo[idx[hit]] = False
    idx = np.flatnonzero(todo)
    if len(idx):
        serial = _matches(arr.take(idx), _SERIAL)
        if serial.any():
            days = pc.cast(arr.take(idx[serial]), pa.float64()).to_numpy()
            res[idx[serial]] = (np.datetime64("1899-12-30", "us")
                                + (np.round(days * 86400) * 1_000_000).astype("timedelta64[us]"))
            todo[idx[serial]] = False
    for i in np.flatnonzero(todo):
        v = u.iat[i]
        if len(v) <= 64 and re.search(r"[A-Za-z]", v) and re.search(r"\d{4}", v):
            try:
                ts = pd.Timestamp(v)
                res[i] = (ts.tz_localize(None) if ts.tzinfo else ts).to_datetime64()
            except (ValueError, TypeError, OverflowError):
                pass
    return res


def decide_date_order(day_first: int, month_first: int, ambiguous: int, has_dmy_form: bool,
                      forced: str | None) -> str:
    """The order of a column's a/b/YYYY dates from its evidence (or the mapping file's setting):
    DMY, MDY, YMD (no a/b/YYYY date at all), mixed (as many of each) or ambiguous (none tells)."""
    if forced:
        return forced
    if day_first > month_first:
        return "DMY"
    if month_first > day_first:
        return "MDY"
    if day_first:
        return "mixed"
    if ambiguous:
        return "ambiguous"
    return "DMY" if has_dmy_form else "YMD"  # a/b/YYYY dates with day = month read the same either way


@dataclass
class _DateFacts:
    """Per distinct value: year first; a/b/YYYY with a > 12 (dmy), b > 12 (mdy), a = b (same),
    both ≤ 12 and dotted (dotted) or not (amb); the parts a and b."""
    ymd: np.ndarray
    hit: np.ndarray
    a: np.ndarray
    b: np.ndarray
    dmy: np.ndarray
    mdy: np.ndarray
    same: np.ndarray
    dotted: np.ndarray
    amb: np.ndarray


def _date_facts(g: _Group) -> _DateFacts:
    arr = arrow(g.uniq)
    n = len(arr)
    ymd = _matches(arr, _YMD) | _matches(arr, _COMPACT)
    hit, dots = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    a, b = np.full(n, np.nan), np.full(n, np.nan)
    idx = np.flatnonzero(~ymd)
    if len(idx):
        st = pc.extract_regex(arr.take(pa.array(idx)), _DMY)
        h = st.is_valid().to_numpy(zero_copy_only=False)
        hit[idx] = h
        for name, out in (("a", a), ("b", b)):
            f = pc.struct_field(st, name)
            f = pc.if_else(pc.equal(f, ""), pa.scalar(None, f.type), f)
            out[idx] = pc.cast(f, pa.float64()).to_numpy(zero_copy_only=False)
        dots[idx] = pc.fill_null(pc.equal(pc.struct_field(st, "sep"), "."), False).to_numpy(zero_copy_only=False) & h
    low = hit & (a <= 12) & (b <= 12)
    same = low & (a == b)
    return _DateFacts(ymd=ymd, hit=hit, a=a, b=b, dmy=hit & (a > 12) & (b <= 12), mdy=hit & (b > 12) & (a <= 12),
                      same=same, dotted=low & ~same & dots, amb=low & ~same & ~dots)


def _decide_dates(g: _Group, label: str, col: str, forced: str | None) -> Decision:
    f = _date_facts(g)
    n_day, n_month, n_amb = g.rows(f.dmy | f.dotted), g.rows(f.mdy), g.rows(f.amb)
    evidence = {"ymd": g.rows(f.ymd), "dmy": g.rows(f.dmy), "mdy": n_month, "dotted_dmy": g.rows(f.dotted),
                "ambiguous": n_amb, "day_equals_month": g.rows(f.same), "other": g.rows(~f.ymd & ~f.hit)}
    return Decision(file=label, column=col, kind="date",
                    decision=decide_date_order(n_day, n_month, n_amb, bool(f.hit.any()), forced),
                    source="mapping" if forced else "values", evidence=evidence,
                    examples={"day_first": g.first(f.dmy | f.dotted), "month_first": g.first(f.mdy)},
                    any_dmy_form=bool(f.hit.any()))


def _apply_dates(g: _Group, d: Decision, kind: str):
    f = _date_facts(g)
    prob = np.zeros(len(f.hit), dtype=np.int8)
    if d.decision == "DMY":
        prob[f.mdy] = CONTRADICTS
    elif d.decision == "MDY":
        prob[f.dmy] = CONTRADICTS
    elif d.decision == "YMD":
        prob[f.hit] = CONTRADICTS
    elif d.decision == "mixed":
        prob[f.dmy | f.mdy | f.dotted] = MIXED
    if d.decision in ("mixed", "ambiguous"):
        prob[f.amb] = AMBIGUOUS
    parsed = _parse_unique(g.uniq, dayfirst=d.decision != "MDY")
    parsed[prob != OK] = np.datetime64("NaT")
    iso = g.uniq.str.fullmatch(ISO_DATE if kind == "date" else ISO_DATETIME, na=False).to_numpy()
    why, lab = _date_reasons(g.uniq, f, prob, d)
    return parsed, ~np.isnat(parsed) & ~iso, prob, why, lab


def _date_reasons(uniq, f: _DateFacts, prob, d: Decision):
    why = np.full(len(prob), None, dtype=object)
    lab = np.full(len(prob), None, dtype=object)
    col, where = d.column, _where(d.file)
    setting = f'set date_format = "DMY" or "MDY" for {col} in a mapping file'
    for i in np.flatnonzero(prob != OK):
        v, p = _shown(uniq.iat[i]), prob[i]
        y = re.search(r"\d{4}", uniq.iat[i]).group(0)
        ai, bi = int(f.a[i]), int(f.b[i])
        if p == AMBIGUOUS:
            seen = ("as many dates are day first as month first" if d.decision == "mixed"
                    else "no date of the column has a day over 12")
            why[i] = (f"{col} '{v}' is ambiguous: {y}-{bi:02d}-{ai:02d} (day first) or {y}-{ai:02d}-{bi:02d} "
                      f"(month first); {seen}{where}; {setting}")
            lab[i] = f"{col} is ambiguous (day/month order)"
        elif p == CONTRADICTS:
            mine = "day first" if f.dmy[i] else "month first"
            if d.source == "mapping" and d.decision == "YMD":
                why[i] = f"{col} '{v}' is not year first, but the mapping file sets date_format = \"YMD\" for {col}"
            elif d.source == "mapping":
                why[i] = (f"{col} '{v}' can only be {mine}, but the mapping file sets date_format = "
                          f"\"{d.decision}\" for {col}")
            else:
                n, ex, other = ((d.evidence["mdy"], d.examples["month_first"], "month first") if f.dmy[i] else
                                (d.evidence["dmy"] + d.evidence["dotted_dmy"], d.examples["day_first"], "day first"))
                why[i] = (f"{col} '{v}' can only be {mine}, but the column's other dates{where} are {other} "
                          f"({n:,} values, e.g. '{ex}'); fix the value or {setting}")
            lab[i] = f"{col} contradicts the column's day/month order"
        else:  # MIXED
            why[i] = (f"{col} '{v}': the column{where} has as many day-first dates (e.g. '{d.examples['day_first']}') "
                      f"as month-first ones (e.g. '{d.examples['month_first']}'); {setting}")
            lab[i] = f"{col} mixes day/month orders"
    return why, lab


def decide_dates(df: pd.DataFrame, col: str, forced: dict[str, str] | None = None) -> Decisions:
    """Each file's day/month order for `col`, from all its values (or set by the mapping file:
    {file label: DMY | MDY | YMD})."""
    return _decide(df, col, forced, lambda g, label, f: _decide_dates(g, label, col, f))


def read_date_column(df: pd.DataFrame, col: str, kind: str = "datetime", decided: Decisions | None = None,
                     forced: dict[str, str] | None = None) -> ColumnRead:
    """`col` as datetime64[us] under each file's decision (`decided`; a file not in it is decided
    here from `df`, or set by `forced`: {file label: DMY | MDY | YMD})."""
    decide = lambda g, label, f: _decide_dates(g, label, col, (forced or {}).get(label))  # noqa: E731
    return _read(df, col, decided or {}, decide, lambda g, d: _apply_dates(g, d, kind), np.datetime64("NaT", "us"),
                 DT_UNIT)


def parse_dates(s: pd.Series, kind: str = "datetime", order: str | None = None) -> tuple[pd.Series, pd.Series]:
    """(datetime64[us], NaT for missing / unparseable / problem values; mask of parsed values that
    were not already in ISO form) for one column; `order` (DMY, MDY, YMD) instead of the values'
    decision. Each distinct string is parsed once: fast on big tables."""
    r = read_date_column(pd.DataFrame({"v": s}), "v", kind, forced={"": order} if order else None)
    return r.values, r.reformatted


def merge_decisions(parts: list[Decision], forced: str | None = None) -> Decision:
    """One file column's decision from the decisions of its parts (chunks of a file read in
    pieces): the evidence summed, the first example of each kind, and the format decided again
    from the summed evidence — the decision the whole column would get at once."""
    first = parts[0]
    evidence: dict[str, int] = {}
    examples: dict[str, str] = {}
    for d in parts:
        for k, v in d.evidence.items():
            evidence[k] = evidence.get(k, 0) + int(v)
        for k, v in d.examples.items():
            if not examples.get(k):
                examples[k] = v
    any_dmy = any(d.any_dmy_form for d in parts)
    if first.kind == "number":
        decision = decide_decimal(evidence.get(DECIMAL_POINT, 0), evidence.get(DECIMAL_COMMA, 0), forced)
    else:
        decision = decide_date_order(evidence.get("dmy", 0) + evidence.get("dotted_dmy", 0), evidence.get("mdy", 0),
                                     evidence.get("ambiguous", 0), any_dmy, forced)
    return Decision(file=first.file, column=first.column, kind=first.kind, decision=decision, source=first.source,
                    evidence=evidence, examples=examples, quarantined=sum(d.quarantined for d in parts),
                    any_dmy_form=any_dmy)
