"""Where the local platform keeps its files: `.local/` at the repository root (git-ignored)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[4]


def local_dir() -> Path:
    return Path(os.environ.get("BACKBONE_LOCAL_DIR", REPO_ROOT / ".local"))
