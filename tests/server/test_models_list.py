"""``GET /v1/models``: the OpenAI shape plus each model's capabilities and upstream kind."""

from __future__ import annotations

from chatplug.types import CAPABILITIES
from http_helpers import get


async def test_each_model_lists_its_capabilities_and_upstream(scripted_server: str) -> None:
    answer = await get(scripted_server, "/v1/models")
    models = {item["id"]: item for item in answer.body["data"]}
    assert models["scripted/full"]["capabilities"] == sorted(CAPABILITIES)
    assert models["scripted/full"]["upstream"] == "official"
    assert models["scripted/text"]["capabilities"] == []
    assert models["scripted/text"]["upstream"] == "web-chat"


async def test_the_openai_fields_are_kept(scripted_server: str) -> None:
    answer = await get(scripted_server, "/v1/models")
    assert answer.body["object"] == "list"
    for item in answer.body["data"]:
        assert {"id", "object", "created", "owned_by"} <= item.keys()
        assert item["object"] == "model" and item["owned_by"] == "scripted"


async def test_one_model_has_its_capabilities_too(scripted_server: str) -> None:
    answer = await get(scripted_server, "/v1/models/text")
    assert answer.body["id"] == "text"
    assert answer.body["capabilities"] == [] and answer.body["upstream"] == "web-chat"
