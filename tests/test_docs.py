"""The repository stands alone: its documents link only to files inside it, and they exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "DEVELOPERS.md", *(ROOT / "docs").glob("*.md")])
_INLINE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_DEFINITION = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_CODE_PATH = re.compile(r"`(\.\.?/[^`\s]+)`")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def local_targets(text: str) -> list[str]:
    """The relative link targets of a Markdown text (and paths written as ``../x``)."""
    targets = _INLINE.findall(text) + _DEFINITION.findall(text) + _CODE_PATH.findall(text)
    return [t for t in targets if not _SCHEME.match(t) and not t.startswith("#")]


def broken(document: Path) -> list[str]:
    problems = []
    for target in local_targets(document.read_text()):
        path = target.split("#", 1)[0]
        if not path:
            continue
        resolved = (document.parent / path).resolve()
        if path.startswith("/") or not resolved.is_relative_to(ROOT.resolve()):
            problems.append(f"{target} leaves the repository")
        elif not resolved.exists():
            problems.append(f"{target} does not exist")
    return problems


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_inside_the_repository_and_resolve(document: Path) -> None:
    assert broken(document) == []


def test_the_api_reference_is_linked_from_the_readme_and_the_index() -> None:
    assert "docs/api.md" in local_targets((ROOT / "README.md").read_text())
    assert "api.md" in local_targets((ROOT / "docs" / "index.md").read_text())


def test_the_check_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "sample.md"
    sample.write_text(
        "See [the contract](../shared/API.md), [x][1], `../../etc/passwd` and [ok](#top),\n"
        "[web](https://example.com), [missing](nowhere.md).\n\n[1]: /etc/hosts\n"
    )
    assert local_targets(sample.read_text()) == [
        "../shared/API.md",
        "nowhere.md",
        "/etc/hosts",
        "../../etc/passwd",
    ]
    assert len(broken(sample)) == 4


def _section(text: str, heading: str) -> str:
    return text.split(heading, 1)[1].split("\n## ", 1)[0]


def test_settings_md_lists_each_setting_under_the_class_that_reads_it() -> None:
    from minicommerce import Settings
    from minicommerce_server.settings import ServerSettings

    text = (ROOT / "docs" / "settings.md").read_text()
    shop = _section(text, "## The shop's settings")
    server = _section(text, "## The server's settings")
    for name in Settings.model_fields:
        assert f"`MINICOMMERCE_{name.upper()}`" in shop, name
    for name in set(ServerSettings.model_fields) - set(Settings.model_fields):
        assert f"`MINICOMMERCE_{name.upper()}`" in server, name
        assert f"`MINICOMMERCE_{name.upper()}`" not in shop, name
