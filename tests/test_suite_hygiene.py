"""The test suite's own rules: support modules are imported one way only."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _support_names() -> set[str]:
    """Top-level names under tests/ that are not test modules: helper modules and packages."""
    names = {p.stem for p in TESTS.glob("*.py") if not p.name.startswith("test_") and p.stem != "conftest"}
    names |= {d.name for d in TESTS.iterdir() if d.is_dir() and any(d.glob("*.py"))}
    return names


def test_support_modules_are_imported_only_as_tests_dot_module():
    """pytest puts tests/ on sys.path, so ``from bundles import X`` works beside ``from
    tests.bundles import X``, but loads the module a second time (its classes registered twice,
    two copies of its state). Every test imports ``tests.<module>``."""
    names = _support_names()
    assert "bundles" in names
    pattern = re.compile(
        rf"^\s*(?:from|import)\s+({'|'.join(map(re.escape, sorted(names)))})(?:\.|\s|$)", re.M
    )
    offenders = [
        f"{path.name}:{text[: m.start()].count(chr(10)) + 1}: {m.group(0).strip()}"
        for path in sorted(TESTS.rglob("*.py"))
        for text in [path.read_text()]
        for m in pattern.finditer(text)
    ]
    assert not offenders, "import these as tests.<module>:\n" + "\n".join(offenders)
