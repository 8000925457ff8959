"""Bounds on one input file: its size and the length of any one field (settings max_file_mb and
max_field_chars, knowledge.settings).

A file over the size limit is refused before it is read (an .xlsx by the unpacked size of its
parts). A field over the length limit is never loaded whole: text files are scanned first in
fixed-size chunks (numpy over the bytes, quote-aware: an escaped quote toggles the quote state
twice), and when a field is too long the file is read through `TruncatingStream`, which replaces
that field by its first `KEEP_CHARS` characters and a marker saying how long it was. After
reading, `flag_oversize` finds the marked (and any other over-long) values: the row is then
quarantined by knowledge.clean (`OVERSIZE_COLUMN` holds the reason), so peak memory stays a small
multiple of the file-size limit whatever the fields hold.
"""
from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from knowledge.errors import GuanxiError
from knowledge.formats import arrow
from knowledge.settings import Settings

OVERSIZE_COLUMN = "oversize_fields"
KEEP_CHARS = 200
SCAN_CHUNK = 1 << 22
MARK = "…[guanxi: field truncated, {n:,} {unit}]"
MARK_ASCII = "...[guanxi: field truncated, {n:,} {unit}]"
MARK_PATTERN = r"\[guanxi: field truncated, [\d,]+ (?:bytes|characters)\]$"


@dataclass(frozen=True)
class Limits:
    """The import bounds: characters per field, megabytes per file."""
    max_field_chars: int
    max_file_mb: int

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "Limits":
        s = settings or Settings()
        return cls(max_field_chars=s.max_field_chars, max_file_mb=s.max_file_mb)

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb << 20

    def field_reason(self) -> str:
        return (f"the limit is {self.max_field_chars:,} characters (setting max_field_chars, "
                f"GUANXI_MAX_FIELD_CHARS)")


# ---------------------------------------------------------------- files
def _too_big(name: str, size: int, limits: Limits, what: str) -> GuanxiError:
    return GuanxiError(f"{name}: {what} {size / (1 << 20):,.1f} MB, over the limit of {limits.max_file_mb:,} MB "
                       f"per file (setting max_file_mb, GUANXI_MAX_FILE_MB); split the file or raise the limit")


def check_file_size(path: Path, limits: Limits) -> None:
    """Refuse a file over max_file_mb (an .xlsx also when its unpacked parts are)."""
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise _too_big(path.name, size, limits, "the file is")


def check_workbook_size(path: Path, limits: Limits) -> None:
    """Refuse a workbook whose unpacked XML is over max_file_mb (a small .xlsx can unpack huge)."""
    import zipfile
    with zipfile.ZipFile(path) as z:
        size = sum(i.file_size for i in z.infolist())
    if size > limits.max_file_bytes:
        raise _too_big(path.name, size, limits, "the workbook unpacks to")


# ---------------------------------------------------------------- fields of text files
def _units(encoding: str, path: Path) -> tuple[np.dtype, int]:
    """(code unit dtype, bytes to skip at the start): bytes, or 16-bit units for UTF-16."""
    enc = codecs.lookup(encoding).name
    if not enc.startswith("utf-16"):
        return np.dtype("u1"), 0
    with path.open("rb") as f:
        bom = f.read(2)
    if enc in ("utf-16-be",) or bom == codecs.BOM_UTF16_BE:
        return np.dtype(">u2"), 2 if bom == codecs.BOM_UTF16_BE else 0
    return np.dtype("<u2"), 2 if bom == codecs.BOM_UTF16_LE else 0


def long_field_spans(path: Path, encoding: str, sep: str, limit_units: int) -> list[tuple[int, int]]:
    """Byte spans [start, end) of the fields longer than `limit_units` code units (quotes
    included), scanning the file in chunks. A delimiter or line break inside quotes does not end
    a field; the quote state is the parity of the quotes so far."""
    dtype, skip = _units(encoding, path)
    size = dtype.itemsize
    seps = [ord(c) for c in (" \t" if sep == "whitespace" else sep)] + [10, 13]
    spans: list[tuple[int, int]] = []
    parity = np.uint8(0)
    last = skip // size - 1   # unit offset of the last boundary
    base = skip // size
    with path.open("rb") as f:
        f.seek(skip)
        rest = b""
        while chunk := f.read(SCAN_CHUNK):
            chunk = rest + chunk
            cut = len(chunk) - len(chunk) % size
            chunk, rest = chunk[:cut], chunk[cut:]
            units = np.frombuffer(chunk, dtype=dtype)
            inside = np.bitwise_xor.accumulate((units == 34).view(np.uint8)) ^ parity
            boundary = np.zeros(len(units), dtype=bool)
            for s in seps:
                boundary |= units == s
            pos = np.flatnonzero(boundary & (inside == 0)) + base
            if len(pos):
                starts = np.concatenate(([last + 1], pos[:-1] + 1))
                big = (pos - starts) > limit_units
                spans += [(int(a) * size, int(b) * size) for a, b in zip(starts[big], pos[big])]
                last = int(pos[-1])
            if len(units):
                parity = inside[-1]
            base += len(units)
    if base - (last + 1) > limit_units:
        spans.append(((last + 1) * size, base * size))
    return spans


def _decoded_prefix(f, start: int, end: int, encoding: str, chars: int) -> tuple[str, bool]:
    """(up to `chars + 1` characters of the span, whether the span holds more than `chars`)."""
    dec = codecs.getincrementaldecoder(_bare(encoding))("replace")
    f.seek(start)
    text, pos = "", start
    while pos < end and len(text) <= chars:
        data = f.read(min(1 << 16, end - pos))
        if not data:
            break
        pos += len(data)
        text += dec.decode(data, final=pos >= end)
    return text[:chars + 1], len(text) > chars


def _bare(encoding: str) -> str:
    """The encoding without a BOM (a replacement written in the middle of a file has none)."""
    enc = codecs.lookup(encoding).name
    return {"utf-8-sig": "utf-8", "utf-16": "utf-16-le"}.get(enc, enc)


def _stream_encoding(encoding: str, dtype: np.dtype) -> str:
    enc = _bare(encoding)
    return "utf-16-be" if enc == "utf-16-le" and dtype.byteorder == ">" else enc


def truncation_patches(path: Path, encoding: str, sep: str, max_chars: int) -> list[tuple[int, int, bytes]]:
    """(start, end, replacement) for every field over `max_chars` characters: a quoted field with
    its first KEEP_CHARS characters (quotes dropped) and the marker with its size in bytes."""
    spans = long_field_spans(path, encoding, sep, max_chars)
    if not spans:
        return []
    dtype, _ = _units(encoding, path)
    patches = []
    with path.open("rb") as f:
        for start, end in spans:
            text, over = _decoded_prefix(f, start, end, encoding, max_chars)
            if not over:
                continue  # more bytes than characters (CJK in UTF-8): within the limit
            enc = _stream_encoding(encoding, dtype)
            try:
                mark = MARK.format(n=end - start, unit="bytes")
                mark.encode(enc)
            except UnicodeEncodeError:
                mark = MARK_ASCII.format(n=end - start, unit="bytes")
            value = '"' + text.replace('"', "")[:KEEP_CHARS] + mark + '"'
            patches.append((start, end, value.encode(enc, errors="replace")))
    return patches


class TruncatingStream(io.RawIOBase):
    """A file's bytes with each (start, end) span replaced by its replacement bytes."""

    def __init__(self, path: Path, patches: list[tuple[int, int, bytes]]):
        self._f = path.open("rb")
        self._patches = sorted(patches)
        self._i = 0
        self._pos = 0
        self._pending = b""

    def readable(self) -> bool:
        return True

    def _next(self, n: int) -> bytes:
        if self._i < len(self._patches):
            start, end, data = self._patches[self._i]
            if self._pos < start:
                out = self._f.read(min(n, start - self._pos))
                self._pos += len(out)
                return out
            self._f.seek(end)
            self._pos = end
            self._i += 1
            return data
        out = self._f.read(n)
        self._pos += len(out)
        return out

    def readinto(self, b) -> int:
        if not self._pending:
            self._pending = self._next(len(b))
        k = min(len(b), len(self._pending))
        b[:k] = self._pending[:k]
        self._pending = self._pending[k:]
        return k

    def close(self) -> None:
        self._f.close()
        super().close()


def open_truncated(path: Path, patches: list[tuple[int, int, bytes]]) -> io.BufferedReader:
    return io.BufferedReader(TruncatingStream(path, patches), buffer_size=1 << 20)


# ---------------------------------------------------------------- values after reading
def flag_oversize(df: pd.DataFrame, limits: Limits, marked: bool) -> dict[str, pd.Series]:
    """Over-long values of a frame just read: each is cut to KEEP_CHARS characters and the marker
    (in place); returns header → Series (over the affected rows) of 'N bytes|characters'.
    `marked`: the file was read through TruncatingStream (look for its marker too)."""
    out: dict[str, pd.Series] = {}
    for pos, col in enumerate(df.columns):
        s = df.iloc[:, pos]
        a = arrow(s)
        long = pc.fill_null(pc.greater(pc.utf8_length(a), limits.max_field_chars), False)
        long = long.to_numpy(zero_copy_only=False)
        mark = (pc.fill_null(pc.match_substring_regex(a, MARK_PATTERN), False).to_numpy(zero_copy_only=False)
                if marked else np.zeros(len(s), dtype=bool))
        if not (long.any() or mark.any()):
            continue
        sizes = {}
        for i in np.flatnonzero(long | mark):
            v = s.iat[i]
            if mark[i]:
                m = re.search(r"([\d,]+) (bytes|characters)\]$", v)
                sizes[i] = f"{m.group(1)} {m.group(2)}"
            else:
                sizes[i] = f"{len(v):,} characters"
                df.iat[i, pos] = v[:KEEP_CHARS] + MARK.format(n=len(v), unit="characters")
        idx = df.index[list(sizes)]
        out[str(col)] = pd.Series(list(sizes.values()), index=idx, dtype=object)
    return out

