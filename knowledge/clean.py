"""Cleaning rules over raw string tables (from knowledge.ingest).

Each rule is a small pure function `rule(df, ...) -> Outcome`: the kept rows, the quarantined
rows (with a row-specific `reason` and a generic `rule` label for counting) and counts of the
fixes it made. A `Ledger` applies rules in turn and keeps the books, so that for every table
rows_read == kept + quarantined + merged + dropped. The row index of the raw table is kept
throughout, so a quarantined row can be written with its original values.

`clean_customers`, `clean_products`, `clean_orders` and `clean_feedback` are the per-table
pipelines; the functions after them link tables (re-pointing, derived rows, categories).

Long on purpose: every cleaning rule of the seed documents, applied in order to one table at a
time with the counts that prove the row invariant; split up, the order and the counting would be
spread over several files.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from knowledge.formats import (SHOWN, ColumnRead, Decision, Decisions, arrow, decide_dates, decide_numbers,
                               read_date_column, read_number_column)
from knowledge.limits import OVERSIZE_COLUMN
from knowledge.own_columns import OWN_PREFIX, own_name
from knowledge.schema import TABLES

NA_TOKENS = frozenset({"", "NA", "N/A", "n/a", "#N/A", "null", "NULL", "Null", "None", "none", "nan", "NaN",
                       "-", "无", "空"})
# In a number column 'nan' is not a gap but a non-finite value (quarantined by parse_number_column).
NUMBER_NA_TOKENS = NA_TOKENS - {"nan", "NaN"}
EARLIEST = pd.Timestamp("1990-01-01")
MAX_AGE = 120
EXTREME_FACTOR = 10
# Parsing works in microseconds (knowledge.formats.DT_UNIT) so that years like 2999 or 1600 parse
# (then fail the range checks with a clear reason) instead of overflowing; to_schema casts to nanoseconds.
NAME_COLUMNS = {"name", "product_name", "customer:name"}
FREE_TEXT_COLUMNS = {"text", "resolution"}
ORDER_COLUMNS = TABLES["orders"].column_names

GENDERS = {"m": "M", "male": "M", "man": "M", "男": "M", "男性": "M", "先生": "M",
           "f": "F", "female": "F", "woman": "F", "女": "F", "女性": "F", "女士": "F"}
KINDS = {"投诉": "complaint", "complaint": "complaint", "complaints": "complaint", "差评": "complaint",
         "建议": "suggestion", "意见": "suggestion", "suggestion": "suggestion", "suggestions": "suggestion",
         "表扬": "praise", "好评": "praise", "称赞": "praise", "praise": "praise", "compliment": "praise",
         "咨询": "inquiry", "询问": "inquiry", "问询": "inquiry", "inquiry": "inquiry", "enquiry": "inquiry",
         "question": "inquiry"}
STATUSES = {"已解决": "resolved", "已处理": "resolved", "已关闭": "resolved", "已完成": "resolved", "完成": "resolved",
            "关闭": "resolved", "closed": "resolved", "resolved": "resolved", "done": "resolved",
            "solved": "resolved", "处理中": "open", "未处理": "open", "待处理": "open", "未解决": "open",
            "新建": "open", "open": "open", "pending": "open", "new": "open", "in progress": "open",
            "in_progress": "open"}


# ---------------------------------------------------------------- outcome and ledger
@dataclass
class Outcome:
    """What a rule did: rows kept, rows quarantined (+ `reason`, `rule`), fixes counted,
    rows merged into others or dropped as duplicates."""
    kept: pd.DataFrame
    quarantined: pd.DataFrame
    counts: Counter = field(default_factory=Counter)
    merged: int = 0
    dropped: int = 0
    decisions: list[Decision] = field(default_factory=list)


def _empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({"reason": pd.Series(dtype="str"), "rule": pd.Series(dtype="str")})


def keep_all(df: pd.DataFrame, counts: dict | None = None) -> Outcome:
    """An outcome that keeps every row."""
    return Outcome(df, _empty_quarantine(), Counter({k: int(v) for k, v in (counts or {}).items() if v}))


def reject(df: pd.DataFrame, checks: list[tuple[pd.Series, object, object]], counts: dict | None = None) -> Outcome:
    """Quarantine rows by (mask, reason, rule) checks; the first matching check gives the reason.
    `reason` and `rule` are strings or Series over (at least) the masked rows."""
    taken = pd.Series(False, index=df.index)
    parts = []
    for mask, reason, rule in checks:
        m = mask.fillna(False).astype(bool) & ~taken
        if m.any():
            q = df.loc[m].copy()
            q["reason"] = reason if isinstance(reason, str) else reason.reindex(q.index).astype("str")
            q["rule"] = rule if isinstance(rule, str) else rule.reindex(q.index).astype("str")
            parts.append(q)
            taken |= m
    out = keep_all(df.loc[~taken] if parts else df, counts)
    if parts:
        out.quarantined = pd.concat(parts) if len(parts) > 1 else parts[0]
    return out


class Ledger:
    """One table's cleaning so far: the kept rows, the quarantined rows and every count."""

    def __init__(self, name: str, df: pd.DataFrame):
        self.name = name
        self.rows_read = len(df)
        self.df = df
        self.quarantined: list[pd.DataFrame] = []
        self.fixes: Counter = Counter()
        self.merged = 0
        self.dropped = 0
        self.decisions: list[Decision] = []

    def apply(self, out: Outcome) -> "Ledger":
        self.df = out.kept
        if len(out.quarantined):
            self.quarantined.append(out.quarantined[["reason", "rule"]])
        self.fixes.update(out.counts)
        self.merged += out.merged
        self.dropped += out.dropped
        self.decisions += out.decisions
        return self

    def run(self, rule, *args, **kw) -> "Ledger":
        """Apply `rule(self.df, *args, **kw)`."""
        return self.apply(rule(self.df, *args, **kw))

    @property
    def quarantine(self) -> pd.DataFrame:
        """Every quarantined row: index = raw row index, columns reason and rule."""
        return pd.concat(self.quarantined) if self.quarantined else _empty_quarantine()

    @property
    def n_quarantined(self) -> int:
        return sum(len(q) for q in self.quarantined)

    def balanced(self) -> bool:
        """rows_read == kept + quarantined + merged + dropped."""
        return self.rows_read == len(self.df) + self.n_quarantined + self.merged + self.dropped


# ---------------------------------------------------------------- strings
def nfkc(s: pd.Series) -> pd.Series:
    """Full-width → half-width (Unicode NFKC): 'Ｃ００１' → 'C001'."""
    return pd.Series(pc.utf8_normalize(arrow(s), "NFKC"), index=s.index, dtype="str")


def collapse_spaces(s: pd.Series) -> pd.Series:
    """Trimmed, with runs of whitespace (also ideographic and no-break spaces) as one space."""
    a = pc.replace_substring_regex(arrow(s), r"[\s\x{3000}\x{a0}]+", " ")
    return pd.Series(pc.utf8_trim_whitespace(a), index=s.index, dtype="str")


def blank_to_na(s: pd.Series, tokens: frozenset[str] = NA_TOKENS) -> pd.Series:
    """The missing-value tokens ('', NA, null, -, 无, 空, ...) as missing."""
    a = arrow(s)
    na = pc.is_in(a, value_set=pa.array(sorted(tokens), type=a.type))
    return pd.Series(pc.if_else(na, pa.scalar(None, a.type), a), index=s.index, dtype="str")


def isin(s: pd.Series, values) -> pd.Series:
    """Vectorised `s.isin(values)` for strings (missing → False)."""
    a = arrow(s)
    hit = pc.fill_null(pc.is_in(a, value_set=pa.array(list(values), type=a.type)), False)
    return pd.Series(hit.to_numpy(zero_copy_only=False), index=s.index)


def lookup(s: pd.Series, mapping: dict[str, str]) -> pd.Series:
    """Vectorised `s.map(mapping)` for strings: the mapped value, missing where unmapped."""
    a = arrow(s)
    keys = pa.array(list(mapping), type=a.type)
    values = pa.array([None if pd.isna(v) else str(v) for v in mapping.values()], type=a.type)
    return pd.Series(pc.take(values, pc.index_in(a, value_set=keys)), index=s.index, dtype="str")


def _changed(old: pd.Series, new: pd.Series) -> int:
    return int((old.notna() & new.notna() & (old != new)).sum())


def conform_columns(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Add the table's absent columns as all-missing strings (so every rule sees them)."""
    missing = [c for c in TABLES[table].column_names if c not in df.columns]
    if not missing:
        return df
    return df.assign(**{c: pd.Series(np.nan, index=df.index, dtype="str") for c in missing})


def reject_oversize(df: pd.DataFrame) -> Outcome:
    """Quarantine rows with a field over the length limit (cut while reading, knowledge.limits)."""
    if OVERSIZE_COLUMN not in df.columns:
        return keep_all(df)
    bad = df[OVERSIZE_COLUMN].notna()
    return reject(df, [(bad, df.loc[bad, OVERSIZE_COLUMN].astype("str"), "field over max_field_chars")])


def prepare(df: pd.DataFrame, table: str) -> Outcome:
    """Add absent columns, trim every value, NFKC ids/numbers/dates, collapse spaces in short
    text, strip '.0' from numeric ids ('12345.0'), and turn missing tokens into missing."""
    df = conform_columns(df, table)
    dtypes = {c.name: c.dtype for c in TABLES[table].columns}
    counts: Counter = Counter()
    out = {}
    for col in df.columns:
        if col in ("source_file", "source_row", OVERSIZE_COLUMN):
            continue
        s = df[col].astype("str")
        dtype = dtypes.get(col, "str")
        if col.endswith("_id"):
            new = pd.Series(pc.replace_substring_regex(pc.utf8_trim_whitespace(arrow(nfkc(s))), r"^(\d+)\.0+$",
                                                       r"\1"), index=s.index, dtype="str")
            counts["ids_normalised"] += _changed(s, new)
        elif dtype != "str" or col in ("customer:phone", "customer:email"):
            new = nfkc(s).str.strip()
        elif col in FREE_TEXT_COLUMNS:
            new = s.str.strip()
            counts["values_trimmed"] += _changed(s, new)
        else:
            new = collapse_spaces(s)
            counts["names_trimmed" if col in NAME_COLUMNS else "values_trimmed"] += _changed(s, new)
        out[col] = blank_to_na(new, NUMBER_NA_TOKENS if dtype in ("int", "float") else NA_TOKENS)
    return keep_all(df.assign(**out), counts)


# ---------------------------------------------------------------- dates
def quoted(s: pd.Series) -> pd.Series:
    """Values as quoted in a reason: at most SHOWN characters."""
    long = s.str.len() > SHOWN
    return s.where(~long, s.str.slice(0, SHOWN) + "…")


def _format_problems(r: ColumnRead) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(mask, reason, rule) of the values the column's format decision cannot read."""
    mask = r.problem != 0
    return mask, r.reason[mask], r.rule[mask]


Formats = dict[str, dict[str, str]]  # column → {file label: format set in the mapping file}


def decide_formats(led: "Ledger", table: str, formats: Formats | None,
                   own_numbers: tuple[str, ...] = ()) -> dict[str, Decisions]:
    """Each date and number column's format per file (and each of ``own_numbers``, the table's own
    number columns), decided from all its values (the rows kept so far: every row but blank or
    over-long ones) or set in the mapping file; the decisions go into the ledger (the quality
    report) and the parse rules apply them to the rows left then."""
    out = {}
    for c in TABLES[table].columns:
        forced = (formats or {}).get(c.name)
        if c.dtype in ("date", "datetime"):
            out[c.name] = decide_dates(led.df, c.name, forced)
        elif c.dtype in ("int", "float"):
            out[c.name] = decide_numbers(led.df, c.name, forced)
        else:
            continue
        led.decisions += out[c.name].values()
    for col in own_numbers:
        if col in led.df.columns:
            out[col] = decide_numbers(led.df, col, (formats or {}).get(col))
            led.decisions += out[col].values()
    return out


def parse_date_column(df: pd.DataFrame, col: str, kind: str, required: bool,
                      decided: Decisions | None = None) -> Outcome:
    """Parse `col` into datetimes, each file's day/month order decided (knowledge.formats) from
    all its values before (`decided`) or else from `df`. Ambiguous or contradicting dates are
    quarantined; unparseable ones too when required, else cleared (counted)."""
    r = read_date_column(df, col, kind, decided)
    problem, why, rule = _format_problems(r)
    bad = df[col].notna() & r.values.isna() & ~problem
    counts = {"dates_reformatted": r.reformatted.sum()}
    new = df.assign(**{col: r.values})
    checks = [(problem, why, rule)]
    if required:
        checks.append((bad, f"{col} '" + quoted(df.loc[bad, col]) + "' is not a date", f"{col} is not a date"))
    else:
        counts[f"invalid_{col}_cleared"] = bad.sum()
    out = reject(new, checks, counts)
    out.decisions = r.decisions
    return out


def check_date_range(df: pd.DataFrame, col: str, today: pd.Timestamp, earliest: pd.Timestamp = EARLIEST) -> Outcome:
    """Quarantine dates after `today` or before `earliest` (1990-01-01)."""
    d = df[col]
    future = d.dt.normalize() > today
    early = d < earliest
    text = d.dt.strftime("%Y-%m-%d")
    return reject(df, [(future, f"{col} " + text[future] + " is in the future", f"{col} in the future"),
                       (early, f"{col} " + text[early] + f" is before {earliest:%Y-%m-%d}",
                        f"{col} before {earliest:%Y-%m-%d}")])


def check_age(df: pd.DataFrame, today: pd.Timestamp, col: str = "birthday") -> Outcome:
    """Quarantine customers whose birthday gives an age below 0 or above 120."""
    b = df[col]
    before_birthday = (b.dt.month * 100 + b.dt.day) > (today.month * 100 + today.day)
    age = today.year - b.dt.year - before_birthday.astype("int64")
    bad = b.notna() & ((age < 0) | (age > MAX_AGE))
    reason = (f"{col} " + b[bad].dt.strftime("%Y-%m-%d") + " gives age "
              + age[bad].astype("Int64").astype("str") + f" (expected 0-{MAX_AGE})")
    return reject(df, [(bad, reason, f"age outside 0-{MAX_AGE}")])


# ---------------------------------------------------------------- numbers
def _fmt_numbers(v: pd.Series) -> pd.Series:
    return v.map(lambda x: f"{x:g}").astype("str")


def parse_number_column(df: pd.DataFrame, col: str, required: bool, integer: bool = False,
                        decided: Decisions | None = None) -> Outcome:
    """Parse `col` as numbers, each file's decimal separator decided (knowledge.formats) from all
    its values before (`decided`) or else from `df`. Ambiguous, contradicting and non-finite
    values are quarantined; unparseable ones (or not whole, for integer columns) too when
    required, else cleared (counted)."""
    r = read_number_column(df, col, decided)
    values = r.values
    problem, why, rule = _format_problems(r)
    bad = df[col].notna() & values.isna() & ~problem
    counts = {"numbers_reformatted": r.reformatted.sum()}
    not_whole = values.notna() & (values != values.round()) if integer else pd.Series(False, index=df.index)
    checks = [(problem, why, rule)]
    if required:
        checks += [(bad, f"{col} '" + quoted(df.loc[bad, col]) + "' is not a number", f"{col} is not a number"),
                   (not_whole, f"{col} '" + quoted(df.loc[not_whole, col]) + "' is not a whole number",
                    f"{col} is not a whole number")]
    else:
        values = values.mask(not_whole)
        counts[f"invalid_{col}_cleared"] = bad.sum() + not_whole.sum()
    out = reject(df.assign(**{col: values}), checks, counts)
    out.decisions = r.decisions
    return out


def require(df: pd.DataFrame, col: str, note: str = "") -> Outcome:
    """Quarantine rows where the required `col` is missing."""
    return reject(df, [(df[col].isna(), f"missing required field {col}{note}", f"missing required field {col}")])


def check_not_negative(df: pd.DataFrame, col: str, note: str = "") -> Outcome:
    """Quarantine rows where `col` is below zero."""
    bad = df[col] < 0
    return reject(df, [(bad, f"{col} " + _fmt_numbers(df.loc[bad, col]) + f" is negative{note}",
                        f"{col} is negative")])


def check_positive(df: pd.DataFrame, col: str) -> Outcome:
    """Quarantine rows where `col` is zero (negatives are caught by check_not_negative)."""
    return reject(df, [(df[col] == 0, f"{col} is 0", f"{col} is 0")])


def check_rating(df: pd.DataFrame, col: str = "rating", low: float = 1, high: float = 5) -> Outcome:
    """Quarantine ratings outside 1-5."""
    r = df[col]
    bad = r.notna() & ((r < low) | (r > high))
    return reject(df, [(bad, f"{col} " + _fmt_numbers(r[bad]) + f" is outside {low:g}-{high:g}",
                        f"{col} outside {low:g}-{high:g}")])


def strip_rating_units(df: pd.DataFrame, col: str = "rating") -> Outcome:
    """'4星', '4分', '4 stars' → '4'."""
    return keep_all(df.assign(**{col: df[col].str.replace(r"\s*(?:星|分|stars?)$", "", regex=True, case=False)}))


# ---------------------------------------------------------------- contact fields and vocabularies
def normalise_phone_values(s: pd.Series) -> tuple[pd.Series, int, int]:
    """(phones as digits with +86/0086 removed for CN mobiles, changed count, invalid cleared)."""
    d = nfkc(s).str.replace(r"[\s\-()（）.]", "", regex=True)
    d = d.str.replace(r"^(?:\+86|0086|86)(1\d{10})$", r"\1", regex=True)
    invalid = d.notna() & ~d.str.fullmatch(r"\+?\d{5,15}", na=False)
    d = d.mask(invalid)
    return d, _changed(s, d), int(invalid.sum())


def normalise_phones(df: pd.DataFrame, col: str = "phone") -> Outcome:
    """Phones to digits: spaces, dashes, parentheses and the +86/0086 prefix of CN mobiles removed;
    values that are not a phone number are cleared."""
    new, changed, invalid = normalise_phone_values(df[col])
    return keep_all(df.assign(**{col: new}), {"phones_normalised": changed, "invalid_phone_cleared": invalid})


def normalise_email_values(s: pd.Series) -> tuple[pd.Series, int, int]:
    """(e-mails trimmed and lower-cased, changed count, invalid cleared)."""
    e = s.str.strip().str.lower()
    invalid = e.notna() & ~e.str.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", na=False)
    e = e.mask(invalid)
    return e, _changed(s, e), int(invalid.sum())


def normalise_emails(df: pd.DataFrame, col: str = "email") -> Outcome:
    """E-mails lower-cased; values without user@domain.tld are cleared."""
    new, changed, invalid = normalise_email_values(df[col])
    return keep_all(df.assign(**{col: new}), {"emails_normalised": changed, "invalid_email_cleared": invalid})


def unify_vocabulary(df: pd.DataFrame, col: str, vocabulary: dict[str, str], fix: str) -> Outcome:
    """Map values through `vocabulary` (case-insensitive); unknown values are cleared and counted."""
    s = df[col]
    key = s.str.strip().str.lower().str.replace(r"\s+", " ", regex=True)
    new = lookup(key, vocabulary)
    unknown = s.notna() & new.isna()
    return keep_all(df.assign(**{col: new}), {fix: _changed(s, new), f"unrecognised_{col}_cleared": unknown.sum()})


def unify_gender(df: pd.DataFrame) -> Outcome:
    """男/M/male/Male → M, 女/F/female → F."""
    return unify_vocabulary(df, "gender", GENDERS, "genders_unified")


def unify_kind(df: pd.DataFrame) -> Outcome:
    """投诉→complaint, 建议→suggestion, 表扬/好评→praise, 咨询→inquiry."""
    return unify_vocabulary(df, "kind", KINDS, "kinds_unified")


def unify_status(df: pd.DataFrame) -> Outcome:
    """已解决/已处理/closed/done → resolved; 处理中/未处理/待处理/pending/new → open."""
    return unify_vocabulary(df, "status", STATUSES, "statuses_unified")


def normalise_tags(df: pd.DataFrame, col: str = "tags") -> Outcome:
    """Tag separators (，、, | /) → ';' without surrounding spaces."""
    s = df[col]
    new = s.str.replace(r"\s*[;；,，、|/]\s*", ";", regex=True).str.strip(";")
    return keep_all(df.assign(**{col: new.where(new != "")}), {"tags_normalised": _changed(s, new)})


# ---------------------------------------------------------------- duplicates
def natural_order(ids: pd.Series) -> np.ndarray:
    """Positions that sort ids naturally: shorter first, then by text ('C9' < 'C10'), then by position."""
    a = arrow(ids)
    t = pa.table({"n": pc.utf8_length(a), "s": a, "i": pa.array(np.arange(len(a)))})
    return pc.sort_indices(t, sort_keys=[("n", "ascending"), ("s", "ascending"), ("i", "ascending")]).to_numpy()


def sort_by_id(df: pd.DataFrame, col: str) -> pd.DataFrame:
    """Rows in natural id order; ties keep their current order (deterministic)."""
    return df.iloc[natural_order(df[col].reset_index(drop=True))]


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        p = self.parent
        while p[i] != i:
            p[i] = p[p[i]]
            i = p[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def customer_keys(df: pd.DataFrame) -> dict[str, pd.Series]:
    """The keys that identify one person: the id, the phone, the e-mail, name + birthday."""
    nb = df["name"].str.lower() + "|" + df["birthday"].dt.strftime("%Y-%m-%d")
    return {"customer_id": df["customer_id"], "phone": df["phone"], "email": df["email"], "name_birthday": nb}


def duplicate_groups(df: pd.DataFrame) -> np.ndarray:
    """Group number per row (positional): rows sharing any customer key, transitively."""
    n = len(df)
    uf = UnionFind(n)
    for key in customer_keys(df).values():
        _union_equal(uf, key)
    return np.array([uf.find(i) for i in range(n)], dtype="int64")


def _union_equal(uf: UnionFind, key: pd.Series) -> None:
    """Union the rows (positions) whose `key` is equal and not missing."""
    codes, _ = pd.factorize(key.reset_index(drop=True))
    s = pd.Series(codes)
    dup = s[(s >= 0) & s.duplicated(keep=False)]
    first = pd.Series(dup.index, index=dup.index).groupby(dup.to_numpy()).transform("first")
    for i, j in zip(first.index.to_numpy(), first.to_numpy()):
        if i != j:
            uf.union(int(i), int(j))


def _row_ref(df: pd.DataFrame, i) -> str:
    if "source_file" in df.columns and "source_row" in df.columns:
        return f"{df.at[i, 'source_file']} row {df.at[i, 'source_row']}"
    return f"row {i}"


def quarantine_id_conflicts(df: pd.DataFrame) -> tuple[Outcome, set[str]]:
    """Rows sharing a customer_id are one person when linked, directly or through a chain, by the
    same name (case, spaces and full-width forms aside), phone, e-mail or birthday. An id used by
    more than one person (a name differs and nothing links them) is a conflict: every row with that
    id is quarantined, naming the others; merging would keep one person's contacts and lose the
    other's. Returns the outcome and the conflicting ids (orders and feedback cannot be attributed)."""
    ids = df["customer_id"]
    dup = (ids.notna() & ids.duplicated(keep=False)).to_numpy()
    if not dup.any():
        return keep_all(df), set()
    d = df[dup]
    scope = d["customer_id"] + "\x1f"
    uf = UnionFind(len(d))
    for key in (_name_key(d["name"]).str.replace(" ", "", regex=False), d["phone"], d["email"],
                d["birthday"].dt.strftime("%Y-%m-%d")):
        _union_equal(uf, scope + key)
    person = pd.Series([uf.find(i) for i in range(len(d))], index=d.index)
    people = person.groupby(d["customer_id"]).nunique()
    conflicted = set(people.index[people > 1])
    if not conflicted:
        return keep_all(df), set()
    bad = isin(ids, conflicted)
    reasons = {}
    for cid, g in df[bad].groupby("customer_id", sort=False):
        listed = "; ".join(f"'{quoted(g['name']).at[i]}' ({_row_ref(df, i)})" for i in g.index)
        n = int(people[cid])
        reasons[cid] = (f"customer_id {cid} is used by {n} different people: {listed} — the names differ and no "
                        f"phone, e-mail or birthday links them; give each person their own id")
    return reject(df, [(bad, lookup(ids[bad], reasons), "customer_id used by different people")],
                  {"customer_id_conflicts": len(conflicted)}), conflicted


def reject_conflicting_customers(df: pd.DataFrame, conflicted: set[str], table: str) -> Outcome:
    """Orders of an id used by different people cannot be attributed: quarantined. Feedback
    (customer optional) keeps its text and loses the customer (counted)."""
    if not conflicted:
        return keep_all(df)
    bad = isin(df["customer_id"], conflicted)
    if table == "feedback":
        return keep_all(df.assign(customer_id=df["customer_id"].mask(bad)), {"customer_id_cleared_id_conflict": bad.sum()})
    reason = ("customer_id " + df.loc[bad, "customer_id"] + " is used by different people in the customers table "
              "(see quarantine/customers.csv): the line cannot be attributed to one of them")
    return reject(df, [(bad, reason, "customer_id used by different people")])


def merge_duplicate_customers(df: pd.DataFrame) -> tuple[Outcome, dict[str, str]]:
    """The same customer twice (same id, phone, e-mail, or name + birthday; chains too) → one row:
    the lowest customer_id survives, its gaps filled from the duplicates. Returns the outcome and
    {duplicate id: survivor id} for re-pointing orders and feedback."""
    if df.empty:
        return keep_all(df), {}
    group = duplicate_groups(df)
    sizes = np.bincount(group, minlength=len(df))[group]
    multi = sizes > 1
    if not multi.any():
        return keep_all(df), {}
    dups = df[multi].assign(_g=group[multi])
    dups = dups.iloc[natural_order(dups["customer_id"].reset_index(drop=True))]
    dups = dups.assign(_row=dups.index).sort_values("_g", kind="stable")
    merged = dups.groupby("_g", sort=False).first()  # survivor first: its values win, gaps filled
    merged.index = pd.Index(merged.pop("_row"))
    survivor = dups.groupby("_g", sort=False)["customer_id"].transform("first")
    id_map = {o: s for o, s in zip(dups["customer_id"], survivor) if o != s}
    kept = pd.concat([df[~multi], merged[df.columns]]).sort_index()
    n_merged = int(multi.sum() - len(merged))
    return Outcome(kept, _empty_quarantine(), Counter({"customers_merged": n_merged}), merged=n_merged), id_map


def drop_exact_duplicates(df: pd.DataFrame, columns: list[str], eligible: pd.Series | None = None) -> Outcome:
    """Drop rows equal to an earlier row in every one of `columns` (counted)."""
    dup = df.duplicated(subset=columns, keep="first")
    if eligible is not None:
        dup &= eligible.reindex(df.index, fill_value=True)
    return Outcome(df[~dup], _empty_quarantine(), Counter(), dropped=int(dup.sum()))


def drop_duplicate_ids(df: pd.DataFrame, col: str) -> Outcome:
    """Keep the first row of each id; later rows with the same id are dropped (counted)."""
    return drop_exact_duplicates(df, [col])


def repoint_customers(df: pd.DataFrame, id_map: dict[str, str], fix: str) -> Outcome:
    """customer_id of merged duplicates → the surviving customer_id."""
    if not id_map:
        return keep_all(df)
    new = lookup(df["customer_id"], id_map)
    hit = new.notna()
    return keep_all(df.assign(customer_id=new.where(hit, df["customer_id"]).astype("str")), {fix: hit.sum()})


# ---------------------------------------------------------------- orders
def default_quantity(df: pd.DataFrame) -> Outcome:
    """A missing quantity is 1."""
    miss = df["quantity"].isna()
    return keep_all(df.assign(quantity=df["quantity"].fillna("1")), {"quantity_defaulted": miss.sum()})


def derive_amount(df: pd.DataFrame) -> Outcome:
    """A missing amount is quantity × unit_price."""
    fill = df["amount"].isna() & df["unit_price"].notna() & df["quantity"].notna()
    amount = df["amount"].where(~fill, (df["quantity"] * df["unit_price"]).round(2))
    return keep_all(df.assign(amount=amount), {"amounts_derived": fill.sum()})


def derive_order_ids(df: pd.DataFrame) -> Outcome:
    """A missing order_id is <customer_id>-<YYYYMMDD>."""
    miss = df["order_id"].isna()
    if not miss.any():
        return keep_all(df)
    codes, days = pd.factorize(df.loc[miss, "order_date"].dt.normalize())
    text = pd.Index(days).strftime("%Y%m%d").to_numpy()[codes]
    ids = df.loc[miss, "customer_id"] + "-" + pd.Series(text, index=df.index[miss], dtype="str")
    return keep_all(df.assign(order_id=df["order_id"].fillna(ids)), {"order_ids_derived": miss.sum()})


def product_id_for_name(name: str) -> str:
    """A stable id for a product known only by name: 'P-' + 8 hex of a hash of the name."""
    return "P-" + hashlib.blake2b(name.encode("utf-8"), digest_size=4).hexdigest()


def _name_key(s: pd.Series) -> pd.Series:
    return nfkc(s).str.lower().str.replace(r"\s+", " ", regex=True).str.strip()


def link_products(orders: pd.DataFrame, products: pd.DataFrame) -> Outcome:
    """Orders with a product name but no product_id get the id of the product of that name
    (else 'P-<hash>'); missing product_name / category are filled from products."""
    counts: Counter = Counter()
    need = orders["product_id"].isna() & orders["product_name"].notna()
    if need.any():
        keys = _name_key(orders.loc[need, "product_name"])
        pk = products.assign(_k=_name_key(products["name"])).dropna(subset=["_k"])
        known = dict(zip(pk["_k"], pk["product_id"]))
        uniq = pd.unique(keys)
        ids = {k: known.get(k) or product_id_for_name(k) for k in uniq}
        new_ids = lookup(keys, ids)
        counts["product_ids_matched_by_name"] = int(isin(keys, known).sum())
        counts["product_ids_derived"] = int(need.sum()) - counts["product_ids_matched_by_name"]
        orders = orders.assign(product_id=orders["product_id"].fillna(new_ids).astype("str"))
    by_id = products.drop_duplicates("product_id").set_index("product_id")
    for col, src, fix in (("product_name", "name", "product_names_filled"), ("category", "category", "categories_filled")):
        gap = orders[col].isna() & orders["product_id"].notna()
        if gap.any() and len(by_id):
            fill = lookup(orders.loc[gap, "product_id"], by_id[src].to_dict())
            orders = orders.assign(**{col: orders[col].fillna(fill).astype("str")})
            counts[fix] = int(fill.notna().sum())
    return keep_all(orders, counts)


def _most_frequent(df: pd.DataFrame, key: str, col: str) -> pd.Series:
    """Per key, the most frequent non-missing value of col (ties: alphabetically first)."""
    vc = df[[key, col]].dropna().value_counts().reset_index(name="n")
    vc = vc.sort_values([key, "n", col], ascending=[True, False, True], kind="stable")
    return vc.drop_duplicates(key).set_index(key)[col]


def products_from_orders(orders: pd.DataFrame, known_ids: set[str]) -> pd.DataFrame:
    """A product row per product_id in orders but not in `known_ids`: the most frequent name
    (else the id) and category, price = the median unit price (else amount / quantity)."""
    o = orders[orders["product_id"].notna() & ~isin(orders["product_id"], known_ids)]
    if o.empty:
        return pd.DataFrame(columns=TABLES["products"].column_names)
    unit = o["unit_price"].fillna(o["amount"] / o["quantity"])
    price = unit.groupby(o["product_id"]).median()
    ids = pd.Index(sorted(price.index))
    name = _most_frequent(o, "product_id", "product_name").reindex(ids)
    out = pd.DataFrame({"product_id": ids.astype("str"),
                        "name": name.fillna(pd.Series(ids, index=ids)).to_numpy(),
                        "category": _most_frequent(o, "product_id", "category").reindex(ids).to_numpy(),
                        "price": price.reindex(ids).round(2).to_numpy()})
    return out


def customers_from_orders(orders: pd.DataFrame, known_ids: set[str]) -> pd.DataFrame:
    """A customer row per customer_id in orders but not in `known_ids`: name from the order's
    customer-name column (else the id), signup_date = first order date, and the first
    province / city / gender / phone / email seen on their orders."""
    o = orders[~isin(orders["customer_id"], known_ids)]
    cols = TABLES["customers"].column_names
    if o.empty:
        return pd.DataFrame(columns=cols)
    o = o.sort_values("order_date", kind="stable")
    g = o.groupby("customer_id", sort=True)
    out = pd.DataFrame({"signup_date": g["order_date"].min().dt.normalize()})
    for col in ("name", "gender", "phone", "email", "city", "province"):
        src = "customer:" + col
        out[col] = g[src].first() if src in o.columns else pd.Series(np.nan, index=out.index, dtype="str")
    out["name"] = out["name"].fillna(pd.Series(out.index, index=out.index))
    out = out.rename_axis("customer_id").reset_index()
    out["phone"] = normalise_phone_values(out["phone"].astype("str"))[0]
    out["email"] = normalise_email_values(out["email"].astype("str"))[0]
    out["gender"] = unify_vocabulary(out.assign(gender=out["gender"].astype("str")), "gender", GENDERS, "g").kept["gender"]
    return out.reindex(columns=cols)


def category_spellings(values: list[pd.Series], counted: pd.Series | None = None) -> dict[str, str]:
    """Spelling → the one spelling of its category, for categories written several ways
    (case, spacing, full-width): the most frequent spelling wins, ties alphabetically.
    ``counted``: more spellings with their counts (a table read in chunks)."""
    vals = [v.dropna().value_counts() for v in values if v is not None and len(v)]
    if counted is not None and len(counted):
        vals.append(counted)
    if not vals:
        return {}
    vc = vals[0] if len(vals) == 1 else pd.concat(vals).groupby(level=0).sum()
    spell = pd.Series(vc.index, dtype="str")
    frame = pd.DataFrame({"s": spell, "n": vc.to_numpy(),
                          "k": nfkc(spell).str.lower().str.replace(r"\s+", "", regex=True)})
    frame = frame.sort_values(["k", "n", "s"], ascending=[True, False, True], kind="stable")
    frame["c"] = frame.groupby("k")["s"].transform("first")
    frame = frame[frame["s"] != frame["c"]]
    return dict(zip(frame["s"], frame["c"]))


def unify_categories(df: pd.DataFrame, spellings: dict[str, str], col: str = "category") -> Outcome:
    """Apply category_spellings: one spelling per category."""
    if not spellings or col not in df:
        return keep_all(df)
    new = lookup(df[col], spellings)
    hit = new.notna()
    return keep_all(df.assign(**{col: new.where(hit, df[col]).astype("str")}), {"categories_unified": hit.sum()})


def extreme_amounts(orders: pd.DataFrame, factor: float = EXTREME_FACTOR) -> tuple[pd.DataFrame, float]:
    """Order lines with amount over `factor` × the median amount (flagged, not dropped)."""
    if orders.empty:
        return orders.iloc[:0], 0.0
    median = float(orders["amount"].median())
    if not median > 0:
        return orders.iloc[:0], median
    return orders[orders["amount"] > factor * median], median


# ---------------------------------------------------------------- per-table pipelines
def clean_customers(raw: pd.DataFrame, today: pd.Timestamp,
                    formats: Formats | None = None) -> tuple[Ledger, dict[str, str], set[str]]:
    """Customers: required id and name, dates, age 0-120, contacts, gender, id conflicts
    quarantined, duplicates merged. Returns the ledger, {merged id: survivor id} and the ids used
    by different people."""
    led = Ledger("customers", raw).run(reject_oversize).run(prepare, "customers")
    f = decide_formats(led, "customers", formats)
    led.run(require, "customer_id").run(require, "name")
    led.run(parse_date_column, "birthday", "date", required=False, decided=f["birthday"])
    led.run(parse_date_column, "signup_date", "date", required=False, decided=f["signup_date"])
    led.run(check_age, today).run(check_date_range, "signup_date", today)
    led.run(normalise_phones).run(normalise_emails).run(unify_gender).run(normalise_tags)
    out, conflicted = quarantine_id_conflicts(led.df)
    led.apply(out)
    out, id_map = merge_duplicate_customers(led.df)
    return led.apply(out), id_map, conflicted


def clean_products(raw: pd.DataFrame, today: pd.Timestamp, formats: Formats | None = None) -> Ledger:
    """Products: required id and name, price a non-negative number, one row per id."""
    led = Ledger("products", raw).run(reject_oversize).run(prepare, "products")
    f = decide_formats(led, "products", formats)
    led.run(require, "product_id").run(require, "name")
    led.run(parse_number_column, "price", required=False, decided=f["price"]).run(check_not_negative, "price")
    return led.run(drop_duplicate_ids, "product_id")


HAD_ORDER_ID = "_had_order_id"   # clean_orders(dedupe=False): whether the input line had an order id


def clean_orders(raw: pd.DataFrame, today: pd.Timestamp, id_map: dict[str, str] | None = None,
                 formats: Formats | None = None, conflicted: set[str] | None = None,
                 own_numbers: tuple[str, ...] = (), decided: dict[str, Decisions] | None = None,
                 dedupe: bool = True) -> Ledger:
    """Order lines: required customer and date, quantity (default 1) a positive whole number,
    amount (default quantity × unit_price) not negative, own number columns parsed, ids derived,
    exact duplicates dropped; lines of a customer_id used by different people quarantined.
    A file read in chunks (knowledge.stream) passes the formats decided over the whole file
    (``decided``) and ``dedupe=False``: the duplicates are found across chunks, from the
    HAD_ORDER_ID column kept instead."""
    led = Ledger("orders", raw).run(reject_oversize).run(prepare, "orders")
    f = decided if decided is not None else decide_formats(led, "orders", formats, own_numbers)
    led.run(require, "customer_id").run(reject_conflicting_customers, conflicted or set(), "orders")
    led.run(require, "order_date")
    led.run(parse_date_column, "order_date", "datetime", required=True, decided=f["order_date"])
    led.run(check_date_range, "order_date", today)
    led.run(default_quantity).run(parse_number_column, "quantity", required=True, integer=True,
                                  decided=f["quantity"])
    led.run(parse_number_column, "unit_price", required=False, decided=f["unit_price"])
    led.run(parse_number_column, "amount", required=True, decided=f["amount"])
    led.run(check_not_negative, "quantity", " (a return or cancellation)").run(check_positive, "quantity")
    led.run(check_not_negative, "unit_price").run(derive_amount)
    led.run(require, "amount", " (and no unit_price to compute it)").run(check_not_negative, "amount")
    for col in own_numbers:   # unreadable values are cleared, never quarantined (as for unit_price)
        if col in led.df.columns:
            led.run(parse_number_column, col, required=False, decided=f[col])
    led.run(repoint_customers, id_map or {}, "orders_repointed")
    # Without an order id, identical lines may be two real purchases on the same day (CDNOW):
    # only lines that carry an order id in the input can be proven duplicates.
    had_order_id = led.df["order_id"].notna()
    led.run(derive_order_ids)
    if not dedupe:
        led.df = led.df.assign(**{HAD_ORDER_ID: had_order_id})
        return led
    return led.run(drop_exact_duplicates, ORDER_COLUMNS, had_order_id)


def clean_feedback(raw: pd.DataFrame, today: pd.Timestamp, id_map: dict[str, str] | None = None,
                   formats: Formats | None = None, conflicted: set[str] | None = None) -> Ledger:
    """Feedback: required id, time and text, dates in range, rating 1-5, kind and status
    unified, customers re-pointed (cleared when the id is used by different people), one row per id."""
    led = Ledger("feedback", raw).run(reject_oversize).run(prepare, "feedback").run(strip_rating_units)
    f = decide_formats(led, "feedback", formats)
    led.run(require, "feedback_id").run(require, "created_at").run(require, "text")
    led.run(parse_date_column, "created_at", "datetime", required=True, decided=f["created_at"])
    led.run(check_date_range, "created_at", today)
    led.run(parse_date_column, "resolved_at", "datetime", required=False, decided=f["resolved_at"])
    led.run(check_date_range, "resolved_at", today)
    led.run(parse_number_column, "rating", required=False, decided=f["rating"])
    led.run(check_rating).run(unify_kind).run(unify_status)
    led.run(reject_conflicting_customers, conflicted or set(), "feedback")
    led.run(repoint_customers, id_map or {}, "feedback_repointed")
    return led.run(drop_duplicate_ids, "feedback_id")


def to_schema(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Exactly the schema's columns, in order, with their dtypes: str → str (missing = NaN),
    date → datetime64[ns] at midnight, datetime → datetime64[ns], int → int64 (Int64 with gaps),
    float → float64."""
    out = {}
    for c in TABLES[table].columns:
        s = df[c.name] if c.name in df else pd.Series(np.nan, index=df.index)
        if c.dtype == "str":
            s = s.astype("str")
        elif c.dtype in ("date", "datetime"):
            s = pd.to_datetime(s).astype("datetime64[ns]")
            s = s.dt.normalize() if c.dtype == "date" else s
        elif c.dtype == "int":
            s = pd.to_numeric(s)
            s = s.astype("Int64") if s.isna().any() else s.astype("int64")
        else:
            s = pd.to_numeric(s).astype("float64")
        out[c.name] = s.reset_index(drop=True)
    for col in df.columns:   # the company's own columns (knowledge.own_columns): numbers already parsed
        if col.startswith(OWN_PREFIX):
            s = df[col]
            out[col] = (s.astype("float64") if pd.api.types.is_numeric_dtype(s) else s.astype("str")).reset_index(drop=True)
    return pd.DataFrame(out)


def parse_own_numbers(led: "Ledger", table: str, own: dict[str, dict[str, str]] | None,
                      formats: Formats | None = None) -> None:
    """The table's own metric columns (knowledge.own_columns) as numbers, each file's decimal
    separator decided as for amount; unreadable values cleared and counted, as for unit_price."""
    for header, kind in (own or {}).get(table, {}).items():
        col = own_name(header)
        if kind != "number" or col not in led.df.columns:
            continue
        decided = decide_numbers(led.df, col, (formats or {}).get(col))
        led.decisions += decided.values()
        led.run(parse_number_column, col, required=False, decided=decided)


def quarantine_frame(raw: pd.DataFrame, led: Ledger) -> pd.DataFrame:
    """The quarantined rows with their original values, source_file, source_row and reason."""
    q = led.quarantine
    cols = [c for c in raw.columns if c not in ("source_file", "source_row", OVERSIZE_COLUMN)]
    out = raw.loc[q.index, cols].copy()
    out["source_file"] = raw.loc[q.index, "source_file"].to_numpy()
    out["source_row"] = raw.loc[q.index, "source_row"].to_numpy()
    out["reason"] = q["reason"].to_numpy()
    return out.sort_values(["source_file", "source_row"], kind="stable")
