"""Found in user-acceptance review: asking for an installed but disabled provider.

``CHATPLUG_PLUGINS=vitalentum chatplug chat -p openai`` answered "unknown provider 'openai'"
with the hint to ``pip install`` it, although it is installed.
"""

from __future__ import annotations

import pytest
from chatplug import ProviderNotFoundError, hookimpl
from chatplug.registry import Registry
from chatplug.types import ModelInfo


class Acme:
    @hookimpl
    def list_models(self) -> list:  # type: ignore[type-arg]
        return [ModelInfo("m1", "acme", default=True)]

    @hookimpl
    async def stream_completion(self, request, session):  # type: ignore[no-untyped-def]
        yield "hi"


def test_a_disabled_provider_is_not_found_and_the_error_says_it_is_disabled() -> None:
    registry = Registry(discover=False, enabled=None)
    registry.register("acme", Acme())
    registry.disable("acme")
    with pytest.raises(ProviderNotFoundError) as caught:
        registry.provider("acme")
    assert "disabled" in str(caught.value)
    assert caught.value.hint is not None
    assert "CHATPLUG_PLUGINS" in caught.value.hint and "pip install" not in caught.value.hint


def test_an_unknown_provider_still_suggests_installing_one() -> None:
    registry = Registry(discover=False, enabled=None)
    with pytest.raises(ProviderNotFoundError) as caught:
        registry.provider("nosuch")
    assert "disabled" not in str(caught.value)
    assert caught.value.hint is not None and "pip install" in caught.value.hint
