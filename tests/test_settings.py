"""Settings chosen in one notebook and reused in others live once, in recutils.settings."""

import json
import re
from pathlib import Path

import pytest

from recutils import settings
from recutils.interactions import DEFAULT_EVENT_WEIGHTS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# a parameters cell that writes one of the shared settings as a literal copies it by hand
COPIED = re.compile(
    r"^(EVENT_WEIGHTS|LIGHTGCN|SASREC)\s*=\s*\{|^POPULARITY_WEIGHT\s*=\s*[\d.]+", re.MULTILINE
)


def _parameters(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    return "".join(tagged[0]["source"]) if tagged else ""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_shared_settings_are_not_copied_by_hand(path):
    copied = COPIED.findall(_parameters(path))
    assert not copied, f"{path.name} copies {copied} by hand: start from recutils.settings"


def test_the_settings_are_plain_values():
    assert settings.EVENT_WEIGHTS == DEFAULT_EVENT_WEIGHTS
    assert set(settings.LIGHTGCN) == {"layers", "epochs"}
    assert set(settings.SASREC) == {"max_length", "factors", "layers", "heads"}
    assert 0 < settings.CONTENT_POPULARITY_WEIGHT
