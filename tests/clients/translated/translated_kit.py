"""What the client tests of ``/v1/responses`` and ``/v1/messages`` share: ``chatplug serve``'s
app in-process (with the API key ``KEY``) around a client, and in front of an emulator."""

from __future__ import annotations

from typing import Any, AsyncIterator, Dict, List, NamedTuple

import pytest
from chatplug import AsyncClient, Registry
from chatplug.emulation import RunningEmulator, emulator_factory, run_emulator
from chatplug.registry import EMULATOR_GROUP, entry_points
from chatplug.server import create_app

KEY = "sk-clients-test"
SEED = "vitalentum"


async def serve(client: AsyncClient) -> AsyncIterator[str]:
    """The app around ``client`` on 127.0.0.1 (a free port), with the API key ``KEY``."""
    async with run_emulator(create_app(client, api_key=KEY, access_log=False)) as served:
        yield served.root


class Served(NamedTuple):
    """The server in front of an emulated provider: its URL, the provider's default model,
    and the emulator."""

    url: str
    model: str
    upstream: RunningEmulator


async def emulated(provider: str) -> AsyncIterator[Served]:
    """The server in front of ``provider``'s emulator (skipped when it is not installed)."""
    if provider not in {entry.name for entry in entry_points(EMULATOR_GROUP)}:
        pytest.skip(f"the {provider} plugin is not installed")
    async with run_emulator(emulator_factory(provider)()) as upstream:
        registry = Registry(enabled=[provider])
        model = registry.provider(provider).default_model.qualified_id
        client = AsyncClient(registry=registry, base_urls={provider: upstream.url}, config=False)
        async with client:
            async for url in serve(client):
                yield Served(url, model, upstream)


def messages_after_tool_use(
    asked: List[Dict[str, Any]], answer: Any, result: str
) -> List[Dict[str, Any]]:
    """The Messages conversation that answers ``answer``'s last ``tool_use`` with ``result``:
    the answer's blocks (thinking included) sent back as they are."""
    use = answer.content[-1]
    assert use.type == "tool_use"
    turn = [{"type": "tool_result", "tool_use_id": use.id, "content": result}]
    return [
        *asked,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in answer.content]},
        {"role": "user", "content": turn},
    ]


def input_after_function_call(asked: str, response: Any, result: str) -> List[Any]:
    """The Responses input that answers ``response``'s last ``function_call`` with
    ``result``: the output items (reasoning included) sent back as they are."""
    call = response.output[-1]
    assert call.type == "function_call"
    items: List[Any] = [{"role": "user", "content": asked}]
    items += [item.model_dump(exclude_none=True) for item in response.output]
    items.append({"type": "function_call_output", "call_id": call.call_id, "output": result})
    return items
