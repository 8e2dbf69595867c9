"""A loaded provider: one plugin's hook implementations under one provider id.

The registry collects each plugin's hook functions once, at registration (pluggy
validates their names and arguments), and :class:`Provider` calls the selected
provider's functions directly: one plain call per hook, no pluggy hook relay on the
request path (see :mod:`chatplug.hookspecs`).  The catalogue is validated here; the
``list_models`` hook runs in its own thread with a time limit, so that a plugin that
hangs in it is reported (and left out) instead of stalling its caller.
"""

from __future__ import annotations

import time
from dataclasses import replace
from types import CodeType
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    Dict,
    Iterator,
    Optional,
    Sequence,
    Tuple,
)

from ._guard import start_in_thread, wait_in_thread
from .discovery import LIST_MODELS_TIMEOUT, PluginInfo
from .errors import ChatplugError, ModelNotFoundError, PluginLoadError
from .messages import format_prompt as default_format_prompt
from .types import CompletionRequest, Message, ModelInfo

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Future


class Provider:
    """A loaded provider: the hook implementations of one plugin under one provider id."""

    def __init__(
        self,
        name: str,
        plugin: object,
        info: PluginInfo,
        hooks: Dict[str, Callable[..., Any]],
    ) -> None:
        self.name = name
        self.plugin = plugin
        self.info = info
        self._hooks = hooks
        self._models: Optional[Tuple[ModelInfo, ...]] = None
        self._lookup: Dict[str, ModelInfo] = {}
        #: settings every request to this provider carries (``CompletionRequest.settings``)
        self.settings: Dict[str, Any] = {}
        #: seconds ``list_models`` may take (``None``: no limit)
        self.list_models_timeout: Optional[float] = LIST_MODELS_TIMEOUT
        self._catalogue: Optional["Future[Any]"] = None
        self._catalogue_deadline = 0.0
        self._catalogue_error: Optional[PluginLoadError] = None

    def __repr__(self) -> str:
        return f"<Provider {self.name!r} from {self.info.distribution or self.info.value}>"

    def fetch_models(self) -> None:
        """Start ``list_models`` in its own thread (once); :meth:`models` waits for it.

        Starting every provider's first lets a registry wait for all of them at once.
        """
        if self._catalogue is None and self._models is None:
            limit = self.list_models_timeout
            self._catalogue_deadline = time.monotonic() + (limit or 0.0)
            self._catalogue = start_in_thread(
                self._hooks["list_models"], f"chatplug-{self.name}-list_models"
            )

    def models(self) -> Tuple[ModelInfo, ...]:
        """The validated catalogue (cached); exactly one model is the default.

        A ``list_models`` that raises, returns something invalid or runs over
        :attr:`list_models_timeout` is a :class:`PluginLoadError` (remembered: asking again
        raises it again at once).
        """
        if self._models is None:
            if self._catalogue_error is not None:
                raise self._catalogue_error
            self.fetch_models()
            assert self._catalogue is not None
            limit = self.list_models_timeout
            remaining = None if limit is None else self._catalogue_deadline - time.monotonic()
            try:
                catalogue = wait_in_thread(
                    self._catalogue, remaining, self.name, "list_models", limit
                )
                models = _validate_catalogue(self.name, catalogue)
            except PluginLoadError as error:
                self._catalogue_error = error
                raise
            except ChatplugError as error:  # it raised, or ran over the time limit
                failure = PluginLoadError(error.message, provider=self.name, hint=error.hint)
                self._catalogue_error = failure
                raise failure from (error.__cause__ or error)
            self._models, self._lookup = models, _lookup_table(models)
        return self._models

    def hook_functions(self) -> Iterator[Tuple[str, Callable[..., Any]]]:
        """``(hook name, function)`` of the plugin's hook implementations."""
        return iter(self._hooks.items())

    def code_objects(self) -> Iterator[CodeType]:
        """The code of the plugin's hook functions (to recognise its frames on a stack)."""
        for _, function in self.hook_functions():
            code = getattr(getattr(function, "__func__", function), "__code__", None)
            if isinstance(code, CodeType):
                yield code

    @property
    def default_model(self) -> ModelInfo:
        return next(model for model in self.models() if model.default)

    def model(self, model: Optional[str]) -> ModelInfo:
        """Resolve a model id or alias (``None``: the default); aliases win over ids."""
        models = self.models()
        if model is None:
            return self.default_model
        found = self._lookup.get(model)
        if found is None:
            names = [m.id for m in models] + [a for m in models for a in m.aliases]
            raise ModelNotFoundError(model, names, provider=self.name)
        return found

    def format_prompt(self, messages: Sequence[Message], model: str) -> str:
        hook = self._hooks.get("format_prompt")
        if hook is not None:
            prompt = hook(messages=messages, model=model)
            if prompt is not None:
                return str(prompt)
        return default_format_prompt(messages)

    def stream(self, request: CompletionRequest, session: Any) -> AsyncIterator[str]:
        stream = self._hooks["stream_completion"](request=request, session=session)
        if not hasattr(stream, "__anext__"):
            raise PluginLoadError(
                f"stream_completion returned {type(stream).__name__}, not an async iterator",
                provider=self.name,
                hint="Declare stream_completion with 'async def' and 'yield' text pieces.",
            )
        return stream  # type: ignore[no-any-return]


def _validate_catalogue(name: str, models: Any) -> Tuple[ModelInfo, ...]:
    if not isinstance(models, (list, tuple)) or not models:
        raise PluginLoadError(
            f"list_models returned {models!r}; expected a non-empty list of ModelInfo",
            provider=name,
        )
    bad = [m for m in models if not isinstance(m, ModelInfo)]
    if bad:
        raise PluginLoadError(
            f"list_models returned a non-ModelInfo item: {bad[0]!r}", provider=name
        )
    foreign = [m.id for m in models if m.provider != name]
    if foreign:
        raise PluginLoadError(
            f"list_models returned models of another provider: {', '.join(foreign)}",
            provider=name,
            hint=f"Set ModelInfo.provider to {name!r}.",
        )
    models = [_capabilities(name, model) for model in models]
    defaults = [m for m in models if m.default]
    if len(defaults) > 1:
        raise PluginLoadError(
            f"several default models: {', '.join(m.id for m in defaults)}", provider=name
        )
    if not defaults:
        models = [replace(models[0], default=True), *models[1:]]
    return tuple(models)


def _capabilities(name: str, model: ModelInfo) -> ModelInfo:
    """``capabilities`` as a frozenset of strings (a list or set is accepted and frozen)."""
    declared = model.capabilities
    if type(declared) is frozenset:
        return model
    if isinstance(declared, str) or not all(isinstance(c, str) for c in declared):
        raise PluginLoadError(
            f"model {model.id!r} declares capabilities {declared!r}; expected a set of names",
            provider=name,
            hint="Use frozenset({chatplug.types.TOOLS, ...}).",
        )
    return replace(model, capabilities=frozenset(declared))


def _lookup_table(models: Sequence[ModelInfo]) -> Dict[str, ModelInfo]:
    table = {model.id: model for model in models}
    for model in models:  # aliases win over plain ids
        for alias in model.aliases:
            table[alias] = model
    return table
