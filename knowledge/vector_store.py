"""Where the feedback vectors live: Chroma embedded in the workspace, or a Chroma server.

``chroma_url = ""`` (the default): ``chromadb.PersistentClient`` at ``WORKSPACE/chroma``, collection
``guanxi_feedback``. ``chroma_url = "http://host:port"``: ``chromadb.HttpClient`` to a server started
with ``chroma run --path DIR --host HOST --port PORT``; the workspace's collection is
``<chroma_collection_prefix>-feedback-<workspace id>``, so many workspaces share one server without
clashing. The workspace id is minted once (``WORKSPACE/workspace_id.json``) and kept with the folder
it was minted for: a copied (or moved) workspace gets a new id, never two workspaces one collection.

Only Chroma's part moves to the server: the vector cache, the snapshot (vectors.npy, metadata, the
BM25 index) and the manifest stay in the workspace (knowledge/feedback_store.py), and searches run on
that local copy. We always pass our own vectors (no Chroma embedding function) and telemetry is off
in both modes; the client talks to nothing but the named server.

A server that does not answer is a `GuanxiError` naming the URL and the setting (`server_error`),
raised by `VectorStore.session` for a failure at connect time or in the middle of a sync.
"""
from __future__ import annotations

import json
import os
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from knowledge.errors import GuanxiError

EMBEDDED_COLLECTION = "guanxi_feedback"
ID_FILE = "workspace_id.json"
PREFIX_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]{0,99})?$")

__all__ = ["EMBEDDED_COLLECTION", "VectorStore", "vector_store", "require_reachable", "workspace_id",
           "parse_chroma_url", "check_prefix", "is_connection_error", "server_error"]


def parse_chroma_url(url: str) -> tuple[str, int, bool]:
    """``http(s)://host[:port]`` → (host, port, ssl); port defaults to 8000 (http) / 443 (https)."""
    raw = str(url).strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or \
            parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise GuanxiError(f"setting 'chroma_url': expected \"\" (the embedded store) or http://host:port of a "
                          f"Chroma server (`chroma run`), e.g. http://127.0.0.1:8000, got {raw!r}")
    ssl = parts.scheme == "https"
    return parts.hostname, int(port or (443 if ssl else 8000)), ssl


def check_prefix(prefix: str) -> str:
    if not PREFIX_RE.match(prefix):
        raise GuanxiError(f"setting 'chroma_collection_prefix': expected letters, digits, '.', '_' or '-' "
                          f"(starting with a letter or digit, at most 100), got {prefix!r}")
    return prefix


def workspace_id(root: str | Path, create: bool = True) -> str | None:
    """The workspace's stable id (16 hex digits) from ``WORKSPACE/workspace_id.json``; minted when
    missing or when the file was made for another folder (a copy or a move). None when there is
    none and ``create`` is false."""
    root = Path(root).resolve()
    p = root / ID_FILE
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        if data.get("root") == str(root) and re.fullmatch(r"[0-9a-f]{16}", str(data.get("id", ""))):
            return data["id"]
    except (OSError, ValueError, AttributeError):
        pass
    if not create:
        return None
    wid = uuid.uuid4().hex[:16]
    root.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f"{ID_FILE}.tmp{os.getpid()}")
    tmp.write_text(json.dumps({"id": wid, "root": str(root)}, indent=1), encoding="utf-8")
    os.replace(tmp, p)
    return wid


def is_connection_error(e: BaseException) -> bool:
    """A failure to reach the server (refused, timed out, dropped), not a request it rejected."""
    try:
        import httpx
        if isinstance(e, httpx.TransportError):
            return True
    except ImportError:  # pragma: no cover - httpx comes with chromadb
        pass
    if type(e).__name__ == "RetryError":   # tenacity, around chromadb's retried requests
        return True
    return isinstance(e, (ConnectionError, ValueError)) and "could not connect" in str(e).lower()


def server_error(url: str, e: BaseException | None = None) -> GuanxiError:
    why = f" ({type(e).__name__}: {str(e)[:200]})" if e is not None else ""
    return GuanxiError(
        f"the Chroma server at {url} (setting chroma_url) does not answer{why}. Start it "
        f"(`chroma run --path DIR --host HOST --port PORT`), fix chroma_url, or set chroma_url = \"\" to use "
        f"the store embedded in the workspace · 向量库服务器 {url} 无法连接（设置项 chroma_url）")


@dataclass(frozen=True)
class VectorStore:
    """One workspace's Chroma collection: embedded (``url == ""``) at ``path``, or on a server."""
    url: str
    path: Path
    collection: str
    workspace: str | None = None   # the workspace id (server mode)

    @property
    def server(self) -> bool:
        return bool(self.url)

    @property
    def key(self) -> str:
        """What the feedback manifest records: the snapshot mirrors this store."""
        return f"{self.url}#{self.collection}" if self.server else "embedded"

    def describe(self) -> str:
        if self.server:
            name = self.collection or "<prefix>-feedback-<workspace id> (named on the first index build)"
            return f"Chroma server {self.url}, collection {name}"
        return f"embedded Chroma at {self.path}, collection {self.collection}"

    def exists(self) -> bool:
        """Whether there can be a store to read (embedded: its folder; a server: always ask it)."""
        return self.server or self.path.is_dir()

    def connect(self):
        """A new client (the caller closes it); a server that does not answer → `server_error`."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if not self.server:
            _evict(self.path)
            self.path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(self.path), settings=settings)
        host, port, ssl = parse_chroma_url(self.url)
        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)
            client.heartbeat()
        except Exception as e:  # noqa: BLE001 - every way of not answering is the same message
            raise server_error(self.url, e) from None
        return client

    @contextmanager
    def session(self):
        """A client for one piece of work, closed afterwards; a server lost midway → `server_error`."""
        client = self.connect()
        try:
            yield client
        except Exception as e:
            if self.server and is_connection_error(e):
                raise server_error(self.url, e) from None
            raise
        finally:
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass


def vector_store(ws, settings=None, create_id: bool = True) -> VectorStore:
    """The vector store ``settings`` name for workspace ``ws`` (a Workspace or its folder)."""
    if isinstance(ws, (str, os.PathLike)):   # a folder (a Path's own .root is "/", not the workspace)
        root, path = Path(ws), Path(ws) / "chroma"
    else:
        root, path = Path(ws.root), Path(ws.chroma_dir)
    path = path.resolve()
    url = str(getattr(settings, "chroma_url", "") or "").strip().rstrip("/")
    if not url:
        return VectorStore("", path, EMBEDDED_COLLECTION)
    parse_chroma_url(url)
    prefix = check_prefix(str(getattr(settings, "chroma_collection_prefix", "guanxi") or ""))
    wid = workspace_id(root, create=create_id)
    if wid is None:
        return VectorStore(url, path, "", None)
    name = f"{prefix}-feedback-{wid}" if prefix else f"feedback-{wid}"
    return VectorStore(url, path, name, wid)


def require_reachable(settings) -> None:
    """Nothing for the embedded store; for a server, a heartbeat, else `server_error` (a build
    checks this first, so a server that is down stops it before the tables are built)."""
    url = str(getattr(settings, "chroma_url", "") or "").strip()
    if url:
        VectorStore(url.rstrip("/"), Path("."), "").connect().close()


def _evict(path: Path) -> None:
    """Drop this process's cached Chroma system for an embedded `path`. Chroma keeps one system per
    path per process; when another process (a build) wrote to the store since, that system is stale
    ("Error finding id"), so readers and writers start from a fresh one."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient as S
        key = str(Path(path).resolve())
        with S._refcount_lock:
            system = S._identifier_to_system.pop(key, None)
            S._identifier_to_refcount.pop(key, None)
        if system is not None:
            system.stop()
    except Exception:  # pragma: no cover - private API moved: fall back to Chroma's own caching
        pass
