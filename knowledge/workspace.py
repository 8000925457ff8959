"""The workspace folder: where every built table, artefact and index lives.

```
WORKSPACE/
  current.json                                          the served build: generation, built_at, fingerprint
  builds/<generation>/                                  one build (a "generation"):
    tables/{customers,products,orders,feedback}.parquet   clean tables (knowledge/schema.py)
    tables/customer_orders.parquet                        one row per (customer, order id): RFM's totals
                                                          (knowledge/engine.py customer_orders_sql)
    quarantine/<table>.csv                                rejected rows with a `reason` column
    quality_report.json                                   counts of every fix
    artefacts/*.parquet, artefacts/*.json                 precomputed analyses (tools/precompute.py)
    build.json                                            written last: the build is complete
  chroma/, index/feedback/                              feedback vector store (knowledge/feedback_store.py)
  workspace_id.json                                     the id naming its collection on a Chroma server
                                                        (knowledge/vector_store.py; minted anew for a copy)
  raw/                                                  demo input files (demo workspaces only)
  events.sqlite                                         the event log (knowledge/events.py): campaigns, contacts,
                                                        complaint status, notes — append-only, survives rebuilds
```

Builds are all-or-nothing: `guanxi build` / `guanxi demo` write a new generation beside the served
one (`Workspace.staging`) and switch `current.json` to it only once its tables and analyses are
complete (`Workspace.publish`, an atomic rename). A build killed midway leaves the previous
generation served (or, on a first build, a workspace that is clearly "not built"). A folder with
`tables/` at its root and no `current.json` (older workspaces, or `build_tables` called directly)
is read in place.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from functools import cached_property
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

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


BUILDS = "builds"
CURRENT = "current.json"


def read_current(root: str | Path) -> dict | None:
    """The served build of a workspace folder (current.json), or None."""
    p = Path(root) / CURRENT
    try:
        info = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return info if isinstance(info, dict) and info.get("generation") else None


def _write_json_atomic(path: Path, value: dict) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(value, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


class Workspace:
    """Paths and cached loading of a workspace. Cheap to create; loads lazily."""

    def __init__(self, root: str | Path, generation: str | None = None):
        """``generation``: a build to read or write (`staging`); default: the served one, read
        from current.json once, here — this object keeps reading that build even if a newer
        one is published meanwhile (tables and artefacts always of one build)."""
        self.root = Path(root)
        self._tables: dict[str, pd.DataFrame] = {}
        self._artefacts: dict[str, object] = {}
        if generation is None:
            info = read_current(self.root)
            if info and (self.root / BUILDS / info["generation"]).is_dir():
                generation = info["generation"]
        self.generation = generation

    def __repr__(self) -> str:
        gen = f", generation={self.generation!r}" if self.generation else ""
        return f"Workspace({str(self.root)!r}{gen})"

    # generations
    @classmethod
    def staging(cls, root: str | Path) -> "Workspace":
        """A new, empty generation of ``root`` to build into; not served until `publish`."""
        gen = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.time_ns() % 1_000_000:06d}"
        ws = cls(root, generation=gen)
        ws.base.mkdir(parents=True, exist_ok=True)
        return ws

    @property
    def base(self) -> Path:
        """The folder of this generation's tables and artefacts (the root for an in-place workspace)."""
        return self.root / BUILDS / self.generation if self.generation else self.root

    @cached_property
    def build_info(self) -> dict:
        """This generation's build.json (generation, built_at, fingerprint, rows); {} in place."""
        p = self.base / "build.json"
        try:
            return json.loads(p.read_text(encoding="utf-8")) if self.generation and p.is_file() else {}
        except (OSError, json.JSONDecodeError):
            return {}

    def build_label(self) -> str:
        """"build 2026-05-01 12:00:03 · data 1a2b3c4d5e6f" — which build an answer comes from ('' in place)."""
        info = self.build_info
        if not info:
            return ""
        return f"build {info.get('built_at', '?')} · data {str(info.get('fingerprint', '?'))[:12]}"

    def data_fingerprint(self) -> str:
        """sha1 over the four table files of this generation (what the analyses were computed from)."""
        h = hashlib.sha1()
        for t in TABLES:
            h.update(t.encode())
            p = self.table_path(t)
            if p.is_file():
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
        return h.hexdigest()

    def publish(self) -> dict:
        """Mark this staged generation complete (build.json) and serve it (current.json, atomic
        rename); older generations but the previous one are removed. Returns the build info."""
        if not self.generation:
            raise GuanxiError("only a staged generation (Workspace.staging) can be published")
        if not all(self.table_path(t).is_file() for t in TABLES) or not self.artefact_path("meta", ".json").is_file():
            raise GuanxiError(f"build {self.generation} is incomplete (tables or analyses missing): not published")
        previous = read_current(self.root)
        info = {"generation": self.generation, "built_at": time.strftime("%Y-%m-%d %H:%M:%S"),
                "fingerprint": self.data_fingerprint(),
                "rows": {t: int(pq.read_metadata(self.table_path(t)).num_rows) for t in TABLES}}
        _write_json_atomic(self.base / "build.json", info)
        _write_json_atomic(self.root / CURRENT, info)
        self.__dict__.pop("build_info", None)
        keep = {self.generation, (previous or {}).get("generation")}
        for p in (self.root / BUILDS).iterdir():   # the previous one stays: a server may still read it
            if p.is_dir() and p.name not in keep:
                shutil.rmtree(p, ignore_errors=True)
        return info

    # paths
    @property
    def tables_dir(self) -> Path:
        return self.base / "tables"

    @property
    def quarantine_dir(self) -> Path:
        return self.base / "quarantine"

    @property
    def artefacts_dir(self) -> Path:
        return self.base / "artefacts"

    @property
    def chroma_dir(self) -> Path:
        return self.root / "chroma"

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def quality_report_path(self) -> Path:
        return self.base / "quality_report.json"

    @property
    def audit_log_path(self) -> Path:
        return self.root / "audit.jsonl"

    @property
    def users_path(self) -> Path:
        return self.root / "users.toml"

    @property
    def events_path(self) -> Path:
        """The event log (knowledge/events.py): beside the generations, never rebuilt."""
        return self.root / "events.sqlite"

    def table_path(self, name: str) -> Path:
        return self.tables_dir / f"{name}.parquet"

    # state
    def is_built(self) -> bool:
        return all(self.table_path(t).is_file() for t in TABLES)

    def require_built(self) -> "Workspace":
        if not self.is_built():
            if (self.root / BUILDS).is_dir() and not read_current(self.root):
                raise GuanxiError(
                    f"workspace {self.root} has no complete build yet: a build is under way or was interrupted "
                    f"before its tables and analyses were done; wait for it or run `guanxi demo --workspace "
                    f"{self.root}` / `guanxi build --data DIR --workspace {self.root}` again")
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

    def table_rows(self, name: str) -> int:
        """A table's row count, from its Parquet footer (nothing loaded)."""
        import pyarrow.parquet as pq
        path = self.table_path(name)
        if not path.is_file():
            self.require_built()
        return int(pq.ParquetFile(path).metadata.num_rows)

    def table_columns(self, name: str, columns: list[str], filters=None):
        """Some columns of a table (rows matching pyarrow ``filters``, e.g. [("customer_id", "in", ids)])
        as a pyarrow Table, read from Parquet without loading or caching the whole table — for the
        order table, which may hold tens of millions of lines."""
        import pyarrow.parquet as pq
        path = self.table_path(name)
        if not path.is_file():
            self.require_built()
        have = set(pq.read_schema(path).names)
        return pq.read_table(path, columns=[c for c in columns if c in have], filters=filters)

    def drop_cached(self, name: str) -> None:
        """Forget a table read before (it was written again behind this object's back)."""
        self._tables.pop(name, None)
        self.__dict__.pop("_as_of_value", None)

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

    def write_artefact(self, name: str, value, row_group_size: int | None = None) -> Path:
        """Write an artefact (a DataFrame as Parquet, in row groups of ``row_group_size`` rows when given —
        rows read by their statistics —, anything else as JSON)."""
        self.artefacts_dir.mkdir(parents=True, exist_ok=True)
        if isinstance(value, pd.DataFrame):
            path = self.artefact_path(name)
            value.to_parquet(path, index=False, row_group_size=row_group_size)
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
                self.__dict__["_as_of_value"] = default_as_of(
                    self.table_columns("orders", ["order_date"]).to_pandas())
        return self.__dict__["_as_of_value"]
