"""Backup and restore of what exists nowhere else (seed 002: 建立数据备份机制): the event log
(``WORKSPACE/events.sqlite``) and the users file (``WORKSPACE/users.toml``). Everything else in a
workspace is rebuilt from the source files by `guanxi build`.

    guanxi backup --to /backups/                      # a new folder guanxi-backup-<ws>-<time>/ inside
    guanxi backup --to /backups/crm-2026-12-02.zip    # or one zip file
    guanxi restore /backups/crm-2026-12-02.zip --workspace WS [--force]

The log is copied with SQLite's online backup API (`EventLog.backup`): consistent while the app
writes, holding every event committed before the copy began. A backup is a folder or a zip with
``events.sqlite``, ``users.toml`` (when the workspace has one) and ``manifest.json`` (when, from
where, how many events, the last event id, sha256 of each file). Files are written owner-only
(0600): the users file holds password hashes. Restore checks the manifest's hashes and that the
log opens, and refuses to replace a log that holds events or a different users file unless
``force``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from knowledge.errors import GuanxiError
from knowledge.events import EVENTS_FILE, EventLog

__all__ = ["backup_workspace", "restore_workspace", "USERS_FILE", "MANIFEST"]

USERS_FILE = "users.toml"
MANIFEST = "manifest.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _private(path: Path) -> None:
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass


def backup_workspace(ws, to: str | Path) -> dict:
    """Write a backup of ``ws``'s event log and users file to ``to`` (a ``.zip`` file, an existing
    folder to put a new ``guanxi-backup-…`` folder in, or a new folder). Returns the manifest plus
    ``path``."""
    to = Path(to)
    root = Path(ws.root)
    log = EventLog(root / EVENTS_FILE)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    as_zip = to.suffix.lower() == ".zip"
    if as_zip:
        if to.exists():
            raise GuanxiError(f"{to}: already exists; a backup writes a new file")
        target = to
    elif to.is_dir():
        target = to / f"guanxi-backup-{root.name}-{stamp}"
        if target.exists():
            raise GuanxiError(f"{target}: already exists; wait a second and run the backup again")
    elif to.exists():
        raise GuanxiError(f"{to}: is a file; give a folder or a new .zip file name")
    else:
        target = to
    with tempfile.TemporaryDirectory(prefix=".guanxi-backup-", dir=(target.parent if target.parent.exists() else None)) as tmp:
        stage = Path(tmp)
        info = log.backup(stage / EVENTS_FILE) if log.exists() else {"events": 0, "last_id": 0}
        users = root / USERS_FILE
        if users.is_file():
            shutil.copyfile(users, stage / USERS_FILE)
        files = sorted(p.name for p in stage.iterdir())
        for name in files:
            _private(stage / name)
        manifest = {"created": time.strftime("%Y-%m-%d %H:%M:%S"), "workspace": str(root),
                    "events": int(info["events"]), "last_id": int(info["last_id"]),
                    "users": (stage / USERS_FILE).is_file(),
                    "sha256": {name: _sha256(stage / name) for name in files}}
        (stage / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        target.parent.mkdir(parents=True, exist_ok=True)
        if as_zip:
            part = target.with_name(target.name + ".part")
            with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as z:
                for p in sorted(stage.iterdir()):
                    z.write(p, p.name)
            _private(part)
            part.replace(target)
        else:
            shutil.copytree(stage, target)
            os.chmod(target, 0o700)
    return {**manifest, "path": str(target)}


def _unpack(source: Path, into: Path) -> Path:
    if source.is_dir():
        return source
    if not source.is_file():
        raise GuanxiError(f"{source}: no such backup (expected a folder or a .zip written by `guanxi backup`)")
    try:
        with zipfile.ZipFile(source) as z:
            names = set(z.namelist())
            wanted = {n for n in names if n in (EVENTS_FILE, USERS_FILE, MANIFEST)}
            if MANIFEST not in wanted:
                raise GuanxiError(f"{source}: not a Guanxi backup (no {MANIFEST} inside)")
            for n in wanted:
                z.extract(n, into)
    except zipfile.BadZipFile:
        raise GuanxiError(f"{source}: not a zip file; expected a folder or a .zip written by `guanxi backup`") from None
    return into


def restore_workspace(source: str | Path, ws, force: bool = False) -> dict:
    """Bring a backup back into ``ws`` (which may be new and unbuilt). Refuses, naming the file, a
    backup whose files do not match its manifest, and — unless ``force`` — a workspace whose log
    already holds events or whose users file differs. Returns {"events", "users", "replaced_events"}."""
    source = Path(source)
    root = Path(ws.root)
    with tempfile.TemporaryDirectory(prefix=".guanxi-restore-") as tmp:
        src = _unpack(source, Path(tmp))
        mpath = src / MANIFEST
        if not mpath.is_file():
            raise GuanxiError(f"{source}: not a Guanxi backup (no {MANIFEST})")
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise GuanxiError(f"{source}: {MANIFEST} is not valid JSON ({e})") from None
        for name, digest in (manifest.get("sha256") or {}).items():
            f = src / name
            if not f.is_file():
                raise GuanxiError(f"{source}: {name} is listed in the manifest but missing")
            if _sha256(f) != digest:
                raise GuanxiError(f"{source}: {name} does not match its checksum in the manifest (damaged copy?)")
        users_src, users_dst = src / USERS_FILE, root / USERS_FILE
        if users_src.is_file() and users_dst.is_file() and users_dst.read_bytes() != users_src.read_bytes() and not force:
            raise GuanxiError(f"{users_dst}: the workspace already has a different users file; pass --force to replace it")
        log = EventLog(root / EVENTS_FILE)
        result = {"events": 0, "users": False, "replaced_events": 0}
        if (src / EVENTS_FILE).is_file():
            r = log.restore_from(src / EVENTS_FILE, force=force, label=str(source))   # checks the copy and the target first
            result.update(events=r["events"], replaced_events=r["replaced"])
            if r["events"] != manifest.get("events", r["events"]):
                raise GuanxiError(f"{source}: the restored log holds {r['events']} events, the manifest says "
                                  f"{manifest.get('events')}")
        if users_src.is_file():
            root.mkdir(parents=True, exist_ok=True)
            part = users_dst.with_name(USERS_FILE + ".part")
            shutil.copyfile(users_src, part)
            _private(part)
            part.replace(users_dst)
            result["users"] = True
    return {**result, "workspace": str(root), "backup": str(source), "created": manifest.get("created")}
