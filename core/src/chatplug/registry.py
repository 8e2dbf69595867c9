"""Provider discovery and loading: the :class:`Registry` of one process.

Providers are found through the entry-point group ``chatplug.providers`` (read from
installed metadata, without importing the plugins; see :mod:`chatplug.discovery`), loaded
on demand, registered with a pluggy ``PluginManager`` under their entry-point name and
validated (:class:`~chatplug.provider.Provider`).  A plugin that fails to import or to
validate is recorded with its error and skipped: it never takes the core or other plugins
down (whatever it raises, ``SystemExit`` included).  ``CHATPLUG_PLUGINS`` (a comma list of
provider names) limits what loads.  Each plugin's ``list_models`` runs in its own thread,
all at once, within ``list_models_timeout`` seconds (``CHATPLUG_LIST_MODELS_TIMEOUT``,
default 5): a plugin that hangs there is marked failed instead of stalling start-up.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
)

from ._guard import belongs_to_caller
from .discovery import (
    AVAILABLE,
    DISABLED,
    EMULATOR_GROUP,
    ENTRY_POINT_GROUP,
    FAILED,
    LIST_MODELS_TIMEOUT,
    LOADED,
    PLUGINS_ENV,
    PROVIDER_ID,
    PluginInfo,
    distribution_of,
    enabled_from_env,
    entry_points,
)
from .errors import ChatplugError, ModelNotFoundError, PluginLoadError, ProviderNotFoundError

if TYPE_CHECKING:  # pragma: no cover
    import sys

    import pluggy

    from .provider import Provider
    from .types import ModelInfo

    if sys.version_info >= (3, 10):
        from importlib import metadata
    else:
        import importlib_metadata as metadata

#: seconds each plugin's ``list_models`` may take (``0`` or ``none``: no limit)
LIST_MODELS_TIMEOUT_ENV = "CHATPLUG_LIST_MODELS_TIMEOUT"

__all__ = [
    "AVAILABLE",
    "DISABLED",
    "EMULATOR_GROUP",
    "ENTRY_POINT_GROUP",
    "FAILED",
    "LOADED",
    "PLUGINS_ENV",
    "PROVIDER_ID",
    "PluginInfo",
    "Provider",
    "Registry",
    "default_registry",
    "enabled_from_env",
    "entry_points",
]


#: an optional plugin attribute: ``(name, models, settings) -> list of ModelInfo``, the
#: catalogue of a virtual provider it serves (with its capabilities and upstream kind)
VIRTUAL_CATALOGUE = "CHATPLUG_VIRTUAL_CATALOGUE"


class Registry:
    """The providers of one process: discovered from entry points, loaded on demand."""

    def __init__(
        self,
        *,
        enabled: "Iterable[str] | bool | None" = True,
        discover: bool = True,
        list_models_timeout: "float | bool | None" = True,
    ) -> None:
        """``enabled``: provider names allowed to load (``True``: from ``CHATPLUG_PLUGINS``,
        ``None``: all).  ``discover=False`` ignores installed entry points (for tests that
        :meth:`register` plugins in-process).  ``list_models_timeout``: seconds each
        plugin's ``list_models`` may take (``True``: from ``CHATPLUG_LIST_MODELS_TIMEOUT``,
        else 5; ``None``: no limit)."""
        if enabled is True:
            self._enabled = enabled_from_env()
        else:
            self._enabled = (
                frozenset(enabled) if enabled is not None and enabled is not False else None
            )
        self._discover = discover
        self.list_models_timeout: Optional[float] = (
            list_models_timeout_from_env()
            if list_models_timeout is True
            else (None if list_models_timeout is False else list_models_timeout)
        )
        self._manager: Optional["pluggy.PluginManager"] = None
        self._infos: Optional[Dict[str, PluginInfo]] = None
        self._entries: Dict[str, "metadata.EntryPoint"] = {}
        self._providers: Dict[str, Provider] = {}
        self._all_loaded = False
        #: virtual providers: id -> (serving plugin's id, model ids, settings)
        self._virtual: Dict[str, Tuple[str, Tuple[str, ...], Dict[str, Any]]] = {}

    @property
    def _pm(self) -> "pluggy.PluginManager":
        """The pluggy manager, created on first load (listing plugins never needs it)."""
        if self._manager is None:
            import pluggy

            from . import hookspecs

            self._manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
            self._manager.add_hookspecs(hookspecs)
        return self._manager

    # discovery -----------------------------------------------------------------

    def plugins(self) -> List[PluginInfo]:
        """Every installed or registered provider, with its status; imports nothing."""
        return list(self._plugin_infos().values())

    def _plugin_infos(self) -> Dict[str, PluginInfo]:
        if self._infos is None:
            self._infos = {}
            if self._discover:
                for entry in entry_points(ENTRY_POINT_GROUP):
                    distribution, version = distribution_of(entry)
                    info = PluginInfo(entry.name, distribution, version, entry.value)
                    if not PROVIDER_ID.match(entry.name):
                        info.status = FAILED
                        info.error = (
                            f"invalid provider id {entry.name!r}: "
                            "use lowercase letters, digits and '-'"
                        )
                    elif self._enabled is not None and entry.name not in self._enabled:
                        info.status = DISABLED
                    self._infos[entry.name] = info
                    self._entries[entry.name] = entry
        return self._infos

    # loading -------------------------------------------------------------------

    def register(
        self,
        name: str,
        plugin: object,
        *,
        distribution: Optional[str] = None,
        version: Optional[str] = None,
    ) -> Provider:
        """Register ``plugin`` in-process under the provider id ``name`` (no entry point)."""
        info = PluginInfo(name, distribution, version, repr(plugin))
        self._plugin_infos()[name] = info
        provider = self._register(info, plugin)
        self._providers[name] = provider
        return provider

    def provider(self, name: str) -> Provider:
        """The loaded provider ``name``; raises a typed error when unknown, disabled or broken."""
        provider = self._providers.get(name)
        if provider is not None:
            return provider
        info = self._plugin_infos().get(name)
        if info is None or info.status == DISABLED:
            error = ProviderNotFoundError(name, self.names())
            if info is not None:  # installed, but left out: installing it again won't help
                available = error.message.split("; ", 1)[-1]
                error.message = f"provider {name!r} is installed but disabled; {available}"
                error.hint = (
                    "Add it to CHATPLUG_PLUGINS, or remove 'enabled = false' from its table "
                    "in chatplug.toml ('chatplug config path' shows where)."
                )
            raise error
        if info.status == FAILED:
            raise PluginLoadError(f"the plugin failed to load: {info.error}", provider=name)
        return self._load(info)

    def names(self) -> List[str]:
        """Provider ids that may load (not disabled)."""
        return [i.name for i in self._plugin_infos().values() if i.status != DISABLED]

    def load_all(self) -> List[Provider]:
        """Load every enabled provider (failures are recorded, not raised)."""
        if not self._all_loaded:
            for info in list(self._plugin_infos().values()):
                if info.status == AVAILABLE:
                    try:
                        self._load(info)
                    except PluginLoadError:
                        pass
            self._all_loaded = True
        return [self._providers[name] for name in sorted(self._providers)]

    def add_virtual_provider(
        self,
        name: str,
        plugin: str,
        *,
        models: Sequence[str] = (),
        settings: Optional[Mapping[str, Any]] = None,
    ) -> PluginInfo:
        """Declare provider ``name`` served by the hooks of provider ``plugin``.

        Nothing is imported until it is used.  Its catalogue is ``models`` (the first is the
        default), or else the serving plugin's own; ``settings`` reach the plugin as
        ``CompletionRequest.settings`` (e.g. ``api_key_env``).  Declaring ``name`` again
        replaces it; an installed provider's id cannot be reused.
        """
        if not PROVIDER_ID.match(name):
            raise ValueError(f"invalid provider id {name!r}: use lowercase letters, digits and '-'")
        infos = self._plugin_infos()
        if name == plugin or (name in infos and name not in self._virtual):
            raise ValueError(f"provider id {name!r} is already taken by an installed plugin")
        if plugin in self._virtual:
            raise ValueError(f"{name!r} must be served by an installed plugin, not {plugin!r}")
        if isinstance(models, str) or not all(isinstance(m, str) and m for m in models):
            raise ValueError(f"models of {name!r} must be a list of non-empty strings")
        base = infos.get(plugin)
        info = PluginInfo(
            name,
            base.distribution if base else None,
            base.version if base else None,
            f"{plugin} (virtual)",
            plugin=plugin,
        )
        if self._enabled is not None and name not in self._enabled:
            info.status = DISABLED
        infos[name] = info
        self._virtual[name] = (plugin, tuple(models), dict(settings or {}))
        self._providers.pop(name, None)
        self._all_loaded = False
        return info

    def disable(self, name: str) -> None:
        """Leave provider ``name`` out (``enabled = false`` in the configuration)."""
        info = self._plugin_infos().get(name)
        if info is not None:
            info.status = DISABLED
        self._providers.pop(name, None)

    def _load_virtual(self, info: PluginInfo) -> Provider:
        from .provider import Provider
        from .types import ModelInfo

        plugin, models, settings = self._virtual[info.name]
        try:
            base = self.provider(plugin)
        except ChatplugError as error:
            raise self._fail(
                info, f"served by plugin {plugin!r}, which cannot load: {error.message}"
            ) from error
        name = info.name
        hooks = dict(base._hooks)
        build = getattr(base.plugin, VIRTUAL_CATALOGUE, None)
        if callable(build):
            try:
                built = list(build(name, models, settings))
            except BaseException as error:  # plugin code may raise anything
                if belongs_to_caller(error):
                    raise
                raise self._fail(info, f"its catalogue is invalid: {error}") from error
            hooks["list_models"] = lambda: built
        elif models:
            catalogue = [ModelInfo(m, name, default=i == 0) for i, m in enumerate(models)]
            hooks["list_models"] = lambda: catalogue
        else:
            hooks["list_models"] = lambda: [replace(m, provider=name) for m in base.models()]
        provider = Provider(name, base.plugin, info, hooks)
        provider.settings = dict(settings)
        provider.list_models_timeout = self.list_models_timeout
        info.status, info.error = LOADED, None
        self._providers[name] = provider
        return provider

    def _load(self, info: PluginInfo) -> Provider:
        if info.name in self._virtual:
            return self._load_virtual(info)
        try:
            plugin = self._entries[info.name].load()
        except BaseException as error:  # a broken plugin must not take the core down
            if belongs_to_caller(error):
                raise
            raise self._fail(info, f"import failed: {type(error).__name__}: {error}") from error
        provider = self._register(info, plugin)
        self._providers[info.name] = provider
        return provider

    def _register(self, info: PluginInfo, plugin: object) -> Provider:
        try:
            self._pm.register(plugin, name=info.name)
        except BaseException as error:  # pluggy validation, a duplicate, a raising attribute
            if belongs_to_caller(error):
                raise
            raise self._fail(info, f"invalid hooks: {type(error).__name__}: {error}") from error
        hooks = {}
        problems = []
        import inspect

        from .hookspecs import REQUIRED_HOOKS
        from .provider import Provider

        for caller in self._pm.get_hookcallers(plugin) or []:
            if not caller.has_spec():
                problems.append(f"unknown hook {caller.name!r}")
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    hooks[caller.name] = impl.function
        problems += [
            f"missing required hook {hook!r}" for hook in REQUIRED_HOOKS if hook not in hooks
        ]
        stream = hooks.get("stream_completion")
        if stream is not None and not (
            inspect.isasyncgenfunction(stream) or not inspect.isfunction(stream)
        ):
            problems.append(
                "stream_completion must be an async generator ('async def' with 'yield')"
            )
        if problems:
            self._pm.unregister(plugin)
            raise self._fail(info, "; ".join(problems))
        info.status, info.error = LOADED, None
        provider = Provider(info.name, plugin, info, hooks)
        provider.list_models_timeout = self.list_models_timeout
        return provider

    def _fail(self, info: PluginInfo, message: str) -> PluginLoadError:
        info.status, info.error = FAILED, message
        return PluginLoadError(f"the plugin failed to load: {message}", provider=info.name)

    # the catalogue -------------------------------------------------------------

    def models(self, provider: Optional[str] = None) -> List[ModelInfo]:
        """Every model of every loaded provider (or of ``provider``)."""
        providers = [self.provider(provider)] if provider else self.load_all()
        for item in providers:  # every catalogue at once: one time limit for all
            item.fetch_models()
        models: List[ModelInfo] = []
        for item in providers:
            try:
                models.extend(item.models())
            except PluginLoadError as error:
                if provider:
                    raise
                self._fail(item.info, error.message)
        return models

    def candidates(
        self, model: Optional[str], provider: Optional[str], order: Sequence[str] = ()
    ) -> List[Tuple[Provider, ModelInfo]]:
        """The (provider, model) pairs able to serve a request, in fallback order.

        ``provider/model`` or ``provider=`` selects one provider; a bare model id or alias
        is looked up across providers; ``model=None`` takes each provider's default.
        ``order`` lists provider ids to try (and restricts the search to them); without it,
        a bare model id offered by several providers is tried by the kind of upstream
        (``ModelInfo.upstream``: official, self-hosted, unknown, web chat), then by
        provider id.
        """
        if model and provider is None and "/" in model:
            head, _, rest = model.partition("/")
            if head in self._plugin_infos() or (PROVIDER_ID.match(head) and head in self.names()):
                provider, model = head, rest
        if provider is not None:
            found = self.provider(provider)
            return [(found, self._catalogue_model(found, model))]
        providers = [self.provider(name) for name in order] if order else self.load_all()
        for item in providers:  # every catalogue at once: one time limit for all
            item.fetch_models()
        if model is None:
            return [(item, item.default_model) for item in providers if self._usable(item)]
        matches = []
        for item in providers:
            if not self._usable(item):
                continue
            try:
                matches.append((item, item.model(model)))
            except ModelNotFoundError:
                continue
        if not matches:
            available = [
                m.qualified_id for item in providers if self._usable(item) for m in item.models()
            ]
            raise ModelNotFoundError(model, available)
        if not order and len(matches) > 1:  # official APIs first, third-party web chats last
            matches.sort(key=_upstream_rank)
        return matches

    def _catalogue_model(self, provider: Provider, model: Optional[str]) -> ModelInfo:
        try:
            return provider.model(model)
        except PluginLoadError as error:
            self._fail(provider.info, error.message)
            raise

    def _usable(self, provider: Provider) -> bool:
        try:
            provider.models()
        except PluginLoadError as error:
            self._fail(provider.info, error.message)
            return False
        return True


def list_models_timeout_from_env() -> Optional[float]:
    """``CHATPLUG_LIST_MODELS_TIMEOUT`` in seconds (5 when unset; ``0``/``none``: no limit)."""
    raw = os.environ.get(LIST_MODELS_TIMEOUT_ENV, "").strip().lower()
    if not raw:
        return LIST_MODELS_TIMEOUT
    if raw in ("0", "none", "off"):
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{LIST_MODELS_TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if not seconds > 0:
        raise ValueError(f"{LIST_MODELS_TIMEOUT_ENV}={raw!r} must be positive (0: no limit)")
    return seconds


def _upstream_rank(pair: Tuple[Provider, ModelInfo]) -> int:
    from .types import UNKNOWN, UPSTREAM_KINDS

    kind = pair[1].upstream
    return UPSTREAM_KINDS.index(kind) if kind in UPSTREAM_KINDS else UPSTREAM_KINDS.index(UNKNOWN)


def __getattr__(name: str) -> Any:
    """``Provider``, still importable from here, imported on first use: listing the
    installed plugins needs neither it nor the request types under it."""
    if name == "Provider":
        from .provider import Provider

        return Provider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_default: Optional[Registry] = None
_default_key: Optional[FrozenSet[str]] = None


def default_registry() -> Registry:
    """The process-wide registry (re-created when ``CHATPLUG_PLUGINS`` changes)."""
    global _default, _default_key
    key = enabled_from_env()
    if _default is None or key != _default_key:
        _default, _default_key = Registry(), key
    return _default
