"""chatplug.model_cache: a plugin's refreshed model lists on disk, per provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chatplug.model_cache import ModelCache

CACHE = ModelCache("acme-models")


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHATPLUG_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_a_written_list_is_read_back_from_the_plugins_folder(cache_dir: Path) -> None:
    path = CACHE.write("acme", ["m1", {"id": "m2"}], "http://127.0.0.1:9/v1")
    assert path == cache_dir / "acme-models" / "acme.json"
    assert CACHE.read("acme") == ["m1", {"id": "m2"}]
    record = json.loads(path.read_text(encoding="utf-8"))
    assert (record["provider"], record["base_url"]) == ("acme", "http://127.0.0.1:9/v1")
    assert list(path.parent.iterdir()) == [path]  # no temporary file left


def test_nothing_cached_or_an_unreadable_file_reads_as_empty(cache_dir: Path) -> None:
    assert CACHE.read("acme") == []
    (cache_dir / "acme-models").mkdir()
    (cache_dir / "acme-models" / "acme.json").write_text("{not json", encoding="utf-8")
    assert CACHE.read("acme") == []


def test_clear_says_whether_there_was_a_list() -> None:
    CACHE.write("acme", ["m1"], "http://x")
    assert CACHE.clear("acme") is True
    assert CACHE.clear("acme") is False
    assert CACHE.read("acme") == []


@pytest.mark.parametrize("provider", ["../etc", "Acme", ""])
def test_a_provider_id_that_is_not_one_is_refused(provider: str) -> None:
    with pytest.raises(ValueError, match="invalid provider id"):
        CACHE.path(provider)
