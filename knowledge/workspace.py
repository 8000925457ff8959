"""The workspace folder: where every built table, artefact and index lives.

```
WORKSPACE/
  tables/{customers,products,orders,feedback}.parquet   clean tables (knowledge/schema.py)
  quarantine/<table>.csv                                rejected rows with a `reason` column
  quality_report.json                                   counts of every fix
  artefacts/*.parquet, artefacts/*.json                 precomputed analyses (tools/precompute.py)
  chroma/                                               feedback vector store
  raw/                                                  demo input files (demo workspaces only)
```
"""
from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.schema import TABLES


def default_as_of(orders: pd.DataFrame) -> pd.Timestamp:
    """The day after the last order, at midnight (so every order counts and recency ≥ 1 day) — the
    one definition of the default as-of date. Falls back to today (midnight) when there are no orders.
    """
    if orders is None or len(orders) == 0 or "order_date" not in orders:
        return pd.Timestamp.today().normalize()
    last = pd.to_datetime(orders["order_date"]).max()
    if pd.isna(last):
        return pd.Timestamp.today().normalize()
    return pd.Timestamp(last).normalize() + pd.Timedelta(days=1)


class Workspace:
    """Paths and cached loading of a workspace. Cheap to create; loads lazily."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._tables: dict[str, pd.DataFrame] = {}
        self._artefacts: dict[str, object] = {}

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    # paths
    @property
    def tables_dir(self) -> Path:
        return self.root / "tables"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def artefacts_dir(self) -> Path:
        return self.root / "artefacts"

    @property
    def chroma_dir(self) -> Path:
        return self.root / "chroma"

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def quality_report_path(self) -> Path:
        return self.root / "quality_report.json"

    @property
    def audit_log_path(self) -> Path:
        return self.root / "audit.jsonl"

    @property
    def users_path(self) -> Path:
        return self.root / "users.toml"

    def table_path(self, name: str) -> Path:
        return self.tables_dir / f"{name}.parquet"

    # state
    def is_built(self) -> bool:
        return all(self.table_path(t).is_file() for t in TABLES)

    def require_built(self) -> "Workspace":
        if not self.is_built():
            raise GuanxiError(
                f"workspace {self.root} has no built tables; run `guanxi demo --workspace {self.root}` "
                f"or `guanxi build --data DIR --workspace {self.root}` first")
        return self

    # tables
    def table(self, name: str) -> pd.DataFrame:
        """A clean table (cached). Callers must not mutate it."""
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}; known: {', '.join(TABLES)}")
        if name not in self._tables:
            path = self.table_path(name)
            if not path.is_file():
                self.require_built()
            self._tables[name] = pd.read_parquet(path)
        return self._tables[name]

    def write_table(self, name: str, df: pd.DataFrame) -> Path:
        self.tables_dir.mkdir(parents=True, exist_ok=True)
        path = self.table_path(name)
        df.reset_index(drop=True).to_parquet(path, index=False)
        self._tables.pop(name, None)
        self.__dict__.pop("_as_of_value", None)
        return path

    # artefacts
    def artefact_path(self, name: str, suffix: str = ".parquet") -> Path:
        return self.artefacts_dir / f"{name}{suffix}"

    def has_artefact(self, name: str) -> bool:
        return self.artefact_path(name).is_file() or self.artefact_path(name, ".json").is_file()

    def artefact(self, name: str):
        """A precomputed artefact: a DataFrame (.parquet) or a dict (.json); None when absent."""
        if name not in self._artefacts:
            p, j = self.artefact_path(name), self.artefact_path(name, ".json")
            if p.is_file():
                self._artefacts[name] = pd.read_parquet(p)
            elif j.is_file():
                self._artefacts[name] = json.loads(j.read_text(encoding="utf-8"))
            else:
                return None
        return self._artefacts[name]

    def write_artefact(self, name: str, value) -> Path:
        self.artefacts_dir.mkdir(parents=True, exist_ok=True)
        if isinstance(value, pd.DataFrame):
            path = self.artefact_path(name)
            value.to_parquet(path, index=False)
        else:
            path = self.artefact_path(name, ".json")
            path.write_text(json.dumps(value, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        self._artefacts.pop(name, None)
        self.__dict__.pop("_as_of_value", None)
        return path

    @cached_property
    def quality_report(self) -> dict:
        if not self.quality_report_path.is_file():
            return {}
        return json.loads(self.quality_report_path.read_text(encoding="utf-8"))

    def as_of(self) -> pd.Timestamp:
        """The workspace's as-of date (midnight), the one definition every answer uses: the date the
        analyses were built for (artefacts/meta.json), else the day after the last order."""
        if "_as_of_value" not in self.__dict__:
            meta = self.artefact("meta")
            if isinstance(meta, dict) and meta.get("as_of"):
                self.__dict__["_as_of_value"] = pd.Timestamp(meta["as_of"]).normalize()
            else:
                self.__dict__["_as_of_value"] = default_as_of(self.table("orders"))
        return self.__dict__["_as_of_value"]
