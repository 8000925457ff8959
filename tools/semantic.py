"""The effective semantic model of a workspace: the shipped metrics and dimensions
(tools/data/semantic_model.toml, computed by `tools.kpi`) plus the workspace's own words and
verified questions (``WORKSPACE/semantic.toml``).

A company says "GMV", "成交额", "老客"; a manager's standing question has one right query::

    [terms]                      # word → metric, dimension or segment (the word wins over the built-in ones)
    GMV = "sales"                # a metric (TOML wants Chinese keys in quotes)
    "件单价" = "aov"
    "大区" = "province"          # a dimension
    "老客" = "segment:Loyal"     # a segment (any name segment_members accepts)

    [metrics.sales]              # rename or add words to a built-in metric
    zh = "成交额"
    synonyms = ["流水"]

    [[verified]]                 # asked exactly like this (after normalising), answered with this query
    question = "双十一战报"
    query = { metric = "sales", date_from = "2025-11-01", date_to = "2025-11-11", compare = "same_period_last_year" }

    [metrics.gross_profit]       # a metric over the company's own column (kept by `guanxi build`,
    zh = "毛利"                  # knowledge/own_columns.py): one whitelisted aggregate, no formula
    column = "orders.毛利"
    aggregate = "sum"            # sum | mean | min | max | median; divide_by = "sales" for a ratio

    [dimensions.store]           # a dimension over the company's own column; its labels are filters
    zh = "门店"
    column = "orders.门店"

Bad entries are refused with the file, the entry and what was expected (`SemanticError`).
"""
from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from knowledge.errors import GuanxiError
from knowledge.own_columns import own_name, parse_column_ref

__all__ = ["SemanticModel", "SemanticError", "semantic_model", "SHIPPED_MODEL", "normalise_question_key"]

SHIPPED_MODEL = Path(__file__).with_name("data") / "semantic_model.toml"
WORKSPACE_FILE = "semantic.toml"
QUERY_KEYS = ("metric", "by", "date_from", "date_to", "province", "city", "category", "channel", "order_channel",
              "top", "segment", "product", "compare", "explain_by")


class SemanticError(GuanxiError):
    """A semantic.toml entry Guanxi cannot use."""


def normalise_question_key(q: str) -> str:
    """A question as verified questions are matched: NFKC, lower case, no spaces or end punctuation."""
    q = unicodedata.normalize("NFKC", q or "").lower()
    return re.sub(r"[\s?？。.!！,，]+", "", q)


@dataclass
class SemanticModel:
    metrics: dict[str, dict]
    dimensions: dict[str, dict]
    terms: dict[str, tuple[str, str]] = field(default_factory=dict)   # word → (kind, name): metric / dimension / segment
    verified: list[dict] = field(default_factory=list)                 # {question, key, query}
    sources: list[str] = field(default_factory=list)
    own: dict[str, dict] = field(default_factory=dict)   # name → {table, header, kind, aggregate, ...}: own columns

    def own_metrics(self) -> dict[str, dict]:
        """The metrics over the company's own columns: name → {zh, en, unit, table, header, aggregate, divide_by}."""
        return {n: {**self.metrics[n]["own"], **{k: self.metrics[n][k] for k in ("zh", "en", "unit")}}
                for n, o in self.own.items() if o["kind"] == "metric"}

    def own_dimensions(self) -> dict[str, dict]:
        """The dimensions over the company's own columns: name → {zh, en, table, header}."""
        return {n: {**self.dimensions[n]["own"], **{k: self.dimensions[n][k] for k in ("zh", "en")}}
                for n, o in self.own.items() if o["kind"] == "dimension"}

    # ------------------------------------------------------------------ lookups
    def term_in(self, text: str, kind: str) -> tuple[str, str] | None:
        """(name, word) of the longest workspace term of ``kind`` found in ``text``."""
        low = text.lower()
        for word in sorted(self.terms, key=len, reverse=True):
            k, name = self.terms[word]
            if k == kind and _contains(low, word.lower()):
                return name, word
        return None

    def declares_metric(self, text: str, phrase: str) -> bool:
        """Whether a workspace metric word found in ``text`` is (or holds) ``phrase``: a word the
        shipped model has no metric for ("毛利") that this workspace declares."""
        term = self.term_in(text, "metric")
        return bool(term) and (term[1].lower() in phrase.lower() or phrase.lower() in term[1].lower())

    def own_values_in(self, ws, text: str) -> dict[str, list[str]]:
        """{own dimension: the labels named in ``text``} over the workspace's own dimensions, read
        from the served tables ("西湖店的毛利" → {"store": ["西湖店"]}; longest labels first)."""
        out = {}
        for name, own in self.own_dimensions().items():
            rest, hits = text, []
            for v in own_labels(ws, own["table"], own["header"]):
                if v in rest:
                    hits.append(v)
                    rest = rest.replace(v, " ")
            if hits:
                out[name] = hits
        return out

    def verified_query(self, question: str) -> dict | None:
        key = normalise_question_key(question)
        return next((dict(v["query"]) for v in self.verified if v["key"] == key), None)

    def to_dict(self) -> dict:
        return {"sources": self.sources, "metrics": self.metrics, "dimensions": self.dimensions,
                "terms": {w: f"{k}:{n}" for w, (k, n) in self.terms.items()},
                "verified": [{"question": v["question"], "query": v["query"]} for v in self.verified]}


def _contains(low: str, word: str) -> bool:
    if re.fullmatch(r"[a-z0-9 _-]+", word):
        return re.search(r"(?<![a-z0-9])" + re.escape(word) + r"(?![a-z0-9])", low) is not None
    return word in low


@lru_cache(maxsize=1)
def _shipped_data() -> dict:
    return tomllib.loads(SHIPPED_MODEL.read_text(encoding="utf-8"))   # read once per process


def _shipped() -> tuple[dict, dict]:
    data = _shipped_data()
    return ({k: dict(v) for k, v in data["metrics"].items()}, {k: dict(v) for k, v in data["dimensions"].items()})


def _load_workspace(path: Path, model: SemanticModel) -> None:
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise SemanticError(f"{where}: not valid TOML ({e})") from None
    except UnicodeDecodeError:
        raise SemanticError(f"{where}: not UTF-8 text") from None
    unknown = set(data) - {"terms", "metrics", "dimensions", "verified"}
    if unknown:
        raise SemanticError(f"{where}: unknown section(s) {sorted(unknown)}; expected terms, metrics, dimensions, verified")
    for word, target in (data.get("terms") or {}).items():
        if not isinstance(target, str) or not target.strip():
            raise SemanticError(f"{where}: terms.{word} = {target!r}: expected a metric, a dimension or "
                                f"\"segment:NAME\" as a string")
        t = target.strip()
        if t.startswith("segment:"):
            name = t.split(":", 1)[1].strip()
            if not name:
                raise SemanticError(f"{where}: terms.{word}: \"segment:\" needs a segment name")
            model.terms[word] = ("segment", name)
        elif t in model.metrics:
            model.terms[word] = ("metric", t)
        elif t in model.dimensions:
            model.terms[word] = ("dimension", t)
        else:
            raise SemanticError(f"{where}: terms.{word} = {t!r} names no metric or dimension; metrics: "
                                f"{', '.join(model.metrics)}; dimensions: {', '.join(model.dimensions)}; "
                                f"or \"segment:NAME\"")
    for kind, table in (("metrics", model.metrics), ("dimensions", model.dimensions)):
        for name, entry in (data.get(kind) or {}).items():
            if not isinstance(entry, dict):
                raise SemanticError(f"{where}: {kind}.{name}: expected a table with zh / en / synonyms")
            if name not in table and "column" not in entry:
                raise SemanticError(f"{where}: {kind}.{name}: no such {kind[:-1]}; known: {', '.join(table)} — or "
                                    f"declare one over your own data with column = \"orders.HEADER\"")
            if name not in table:
                _own_entry(where, kind, name, entry, model)
            elif "column" in entry:
                raise SemanticError(f"{where}: {kind}.{name}: {name} is a built-in {kind[:-1]} and cannot be "
                                    f"redefined over a column; give yours another name")
            allowed = {"zh", "en", "synonyms", "description"} | (OWN_KEYS[kind] if name in model.own else set())
            bad = set(entry) - allowed
            if bad:
                raise SemanticError(f"{where}: {kind}.{name}: unknown key(s) {sorted(bad)}; expected {', '.join(sorted(allowed))}")
            syn = entry.get("synonyms", [])
            if not isinstance(syn, list) or not all(isinstance(x, str) for x in syn):
                raise SemanticError(f"{where}: {kind}.{name}.synonyms: expected a list of strings")
            for k in ("zh", "en", "description"):
                if k in entry:
                    if not isinstance(entry[k], str):
                        raise SemanticError(f"{where}: {kind}.{name}.{k}: expected a string")
                    table[name][k] = entry[k]
            table[name]["synonyms"] = list(dict.fromkeys(list(table[name].get("synonyms", [])) + syn))
            for w in syn + [entry[k] for k in ("zh", "en") if k in entry]:
                model.terms.setdefault(w, (kind[:-1], name))
    for i, v in enumerate(data.get("verified") or []):
        item = f"{where}: verified[{i}]"
        if not isinstance(v, dict) or not isinstance(v.get("question"), str) or not isinstance(v.get("query"), dict):
            raise SemanticError(f"{item}: expected question = \"...\" and query = {{ metric = \"...\", ... }}")
        q = dict(v["query"])
        bad = set(q) - set(QUERY_KEYS)
        if bad:
            raise SemanticError(f"{item}: unknown query key(s) {sorted(bad)}; expected {', '.join(QUERY_KEYS)}")
        if q.get("metric") not in model.metrics:
            raise SemanticError(f"{item}: query.metric = {q.get('metric')!r}: expected one of {', '.join(model.metrics)}")
        if q.get("by") is not None and q["by"] not in model.dimensions:
            raise SemanticError(f"{item}: query.by = {q['by']!r}: expected one of {', '.join(model.dimensions)}")
        model.verified.append({"question": v["question"], "key": normalise_question_key(v["question"]), "query": q})
    model.sources.append(where)


#: the keys of a metric or dimension over the company's own column (besides zh, en, synonyms, description)
OWN_KEYS = {"metrics": {"column", "aggregate", "unit", "divide_by"}, "dimensions": {"column"}}
OWN_AGGREGATES = ("sum", "mean", "min", "max", "median")
OWN_UNITS = ("amount", "count", "number", "share", "days")
OWN_DIVISORS = ("sales", "orders", "customers", "units")   # divide_by: a ratio to one of these, e.g. 毛利率


def _own_entry(where: str, kind: str, name: str, entry: dict, model: "SemanticModel") -> None:
    """A metric or dimension over the company's own column (knowledge.own_columns), validated."""
    item = f"{where}: {kind}.{name}"
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
        raise SemanticError(f"{item}: the name must be lower-case letters, digits and _ (like gross_profit); "
                            f"put the Chinese word in zh = \"...\"")
    try:
        table, header = parse_column_ref(entry["column"], item)
    except GuanxiError as e:
        raise SemanticError(str(e)) from None
    own = {"table": table, "header": header, "column": f"{table}.{header}", "kind": kind[:-1]}
    if kind == "metrics":
        agg = entry.get("aggregate", "sum")
        if agg not in OWN_AGGREGATES:
            raise SemanticError(f"{item}.aggregate = {agg!r}: expected one of {', '.join(OWN_AGGREGATES)}")
        unit = entry.get("unit", "number")
        if unit not in OWN_UNITS:
            raise SemanticError(f"{item}.unit = {unit!r}: expected one of {', '.join(OWN_UNITS)}")
        div = entry.get("divide_by")
        if div is not None and (div not in OWN_DIVISORS or table != "orders"):
            raise SemanticError(f"{item}.divide_by = {div!r}: expected one of {', '.join(OWN_DIVISORS)}, "
                                f"for a column of orders")
        own.update(aggregate=agg, divide_by=div)
        how = f"{agg} of {table}.{header}" + (f" / {div}" if div else "")
        scope = " over the order lines in the period" if table == "orders" else \
            " over the customers who bought in the period"
        model.metrics[name] = {"zh": str(entry.get("zh") or entry.get("en") or name),
                               "en": str(entry.get("en") or name.replace("_", " ")), "unit": unit,
                               "description": how + scope, "synonyms": [], "own": own}
    else:
        model.dimensions[name] = {"zh": str(entry.get("zh") or entry.get("en") or name),
                                  "en": str(entry.get("en") or name.replace("_", " ")),
                                  "description": f"the labels of {table}.{header}", "synonyms": [], "own": own}
    model.own[name] = own


MAX_OWN_LABELS = 5000   # labels of one own dimension matched in questions (a free-text column is not a dimension)


def own_labels(ws, table: str, header: str) -> list[str]:
    """The distinct labels (2+ characters, longest first) of an own column in the served build;
    [] when the build does not hold it. Read once per workspace object."""
    cache = ws.__dict__.setdefault("_own_labels", {})
    if (table, header) not in cache:
        df = ws.table(table)
        col = own_name(header)
        vals = df[col].dropna().astype(str).str.strip().unique().tolist() if col in df.columns else []
        vals = [v for v in vals if len(v) >= 2][:MAX_OWN_LABELS]
        cache[(table, header)] = sorted(vals, key=len, reverse=True)
    return cache[(table, header)]


_SHIPPED_MODEL: list[SemanticModel] = []


def semantic_model(ws=None) -> SemanticModel:
    """The shipped model, with ``WORKSPACE/semantic.toml`` applied when the workspace has one (read
    again only when the file changes). Callers must not change the model they get."""
    if not _SHIPPED_MODEL:
        _SHIPPED_MODEL.append(SemanticModel(*_shipped(), sources=[str(SHIPPED_MODEL)]))
    if ws is None:
        return _SHIPPED_MODEL[0]
    path = Path(ws.root) / WORKSPACE_FILE
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return _SHIPPED_MODEL[0]
    cache = ws.__dict__.setdefault("_semantic_cache", {})
    if cache.get("stamp") != stamp:
        model = SemanticModel(*_shipped(), sources=[str(SHIPPED_MODEL)])
        _load_workspace(path, model)
        cache.update(stamp=stamp, model=model)
    return cache["model"]
