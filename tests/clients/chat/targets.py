"""What the client tests talk to: the models behind ``chatplug serve``, and shared inputs."""

from __future__ import annotations

from typing import Any, Dict

MODEL = "openai/gpt-4o-mini"
REASONING_MODEL = "openai/o4-mini"
TEXT_MODEL = "vitalentum/gpt-3.5-turbo"  # a seed provider: a text-only web chat
PROVIDERS = "openai,vitalentum"

WEATHER_TOOL: Dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
