"""What the suite checks (a provider, optionally in-process), its fixed inputs and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    Dict,
    FrozenSet,
    List,
    Mapping,
    Optional,
    Tuple,
)

from ...errors import ChatplugError
from . import limits

if TYPE_CHECKING:  # pragma: no cover
    from aiohttp import web

    from ...client import AsyncClient
    from ...emulation import AppFactory
    from ...types import ModelInfo

CONVERSATION: Tuple[Dict[str, str], ...] = (
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "Grüß dich! Say something about Köln ☕"},
    {"role": "assistant", "content": "Köln has a cathedral — der Dom."},
    {"role": "user", "content": "Merci, et ça va? 👋 Ещё раз, пожалуйста."},
)
SIMPLE: Tuple[Dict[str, str], ...] = ({"role": "user", "content": "Hello there — héllo ✓"},)
PROXY_HEADER = "x-chatplug-conformance-proxy"
PREFIX = "/chatplug-prefix"
UNKNOWN_MODEL = "chatplug-conformance-no-such-model"
#: the question of the ``parallel_tool_calls`` check (``parallel_tool_calls`` left unset)
TOOL_QUESTION: Tuple[Dict[str, str], ...] = (
    {"role": "user", "content": "Call get_weather and get_time"},
)
_CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
#: the tools of :data:`TOOL_QUESTION`
TOOLS: Tuple[Dict[str, Any], ...] = (
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city",
            "parameters": _CITY,
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "The local time in a city",
            "parameters": _CITY,
        },
    },
)
#: the ``max_tokens`` of the ``finish_length`` check: less than any emulator's reply
MAX_TOKENS = 3


class ConformanceFailure(AssertionError):
    """A check failed; the message says what is wrong, in plain words."""


class NotApplicable(Exception):
    """The check does not apply to this plugin: it passes, and the message says why."""


def describe(error: BaseException) -> str:
    """``TypeName: message`` of an exception, for failure messages."""
    text = str(error) or repr(error)
    return f"{type(error).__name__}: {text}"


def strip_provider(text: str, provider: str) -> str:
    prefix = f"{provider}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


@dataclass
class Subject:
    """What is checked: a provider id, optionally with an in-process plugin and emulator."""

    provider: str
    plugin: Optional[object] = None
    emulator: Optional["AppFactory"] = None
    #: extra AsyncClient arguments, e.g. ``config=`` with the provider's settings
    client_options: Mapping[str, Any] = field(default_factory=dict)

    def client(self, **kwargs: Any) -> "AsyncClient":
        from ..helpers import make_client

        options: Dict[str, Any] = {"timeout": limits.CHECK_TIMEOUT, "retry": limits.NO_RETRY}
        options.update(self.client_options)
        options.update(kwargs)
        return make_client(self.provider, self.plugin, **options)

    def require_provider(self) -> None:
        """Fail with a clear message when the provider is not installed or does not load."""
        from ...errors import ProviderNotFoundError
        from ...registry import ENTRY_POINT_GROUP, entry_points
        from ..helpers import make_registry

        try:
            make_registry(self.provider, self.plugin).provider(self.provider)
        except ProviderNotFoundError:
            installed = ", ".join(e.name for e in entry_points(ENTRY_POINT_GROUP)) or "none"
            raise ConformanceFailure(
                f"the provider {self.provider!r} is not installed (installed providers: "
                f"{installed}): install the plugin (pip install -e .), with its entry point "
                f'named {self.provider!r} in [project.entry-points."chatplug.providers"]'
            ) from None
        except ChatplugError as error:
            raise ConformanceFailure(
                f"the provider could not be loaded: {describe(error)}"
            ) from None

    def models(self) -> "List[ModelInfo]":
        """The provider's catalogue (``list_models``), as the core sees it."""
        from ..helpers import make_registry

        return list(make_registry(self.provider, self.plugin).provider(self.provider).models())

    def model_declaring(self, capabilities: FrozenSet[str]) -> "Optional[ModelInfo]":
        """The default model when it declares one of ``capabilities`` (any capability when
        empty), else the first such model of the catalogue; ``None`` when no model does."""
        models = sorted(self.models(), key=lambda model: not model.default)
        for model in models:
            if (model.capabilities & capabilities) if capabilities else model.capabilities:
                return model
        return None

    def app(self) -> "web.Application":
        if self.emulator is not None:
            return self.emulator()
        from ...emulation import emulator_factory
        from ...errors import ProviderNotFoundError

        try:
            factory = emulator_factory(self.provider)
        except ProviderNotFoundError:
            raise ConformanceFailure(
                f"no emulator is registered for {self.provider!r}: add "
                f'[project.entry-points."chatplug.emulators"] {self.provider} = '
                '"<your module>.emulator:create_app" to pyproject.toml (and reinstall), '
                "or pass emulator= to the suite"
            ) from None
        except ChatplugError as error:
            raise ConformanceFailure(
                f"the emulator of {self.provider!r} failed to load: {error}"
            ) from None
        return factory()


@dataclass(frozen=True)
class Check:
    """One conformance check: ``run(subject)`` raises :class:`ConformanceFailure`."""

    name: str
    description: str
    run: Callable[[Subject], Awaitable[None]]


@dataclass
class CheckResult:
    name: str
    description: str
    passed: bool
    message: str = ""
    seconds: float = 0.0
