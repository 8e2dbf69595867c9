"""``catalogue`` and ``unknown_model``: the plugin's model list, and a model it lacks."""

from __future__ import annotations

import time
from typing import Dict, List, Optional, Sequence, Tuple

from ....errors import ChatplugError, ModelNotFoundError
from ....registry import PROVIDER_ID
from ....types import ModelInfo
from ..subject import SIMPLE, UNKNOWN_MODEL, ConformanceFailure, Subject, describe


async def check_catalogue(subject: Subject) -> None:
    from ....registry import Provider

    name = subject.provider
    if not PROVIDER_ID.match(name):
        raise ConformanceFailure(
            f"{name!r} is not a valid provider id: use lowercase letters, digits and '-'"
        )
    client = subject.client()
    try:
        provider: Provider = client.registry.provider(name)
    except ChatplugError as error:
        raise ConformanceFailure(f"the provider could not be loaded: {describe(error)}") from None
    hook = getattr(provider.plugin, "list_models", None)
    if hook is None:  # pragma: no cover - the registry refuses such plugins
        raise ConformanceFailure("the plugin has no list_models hook")
    started = time.monotonic()
    try:
        models = hook()
    except Exception as error:
        raise ConformanceFailure(f"list_models raised {describe(error)}") from None
    elapsed = time.monotonic() - started
    problems: List[str] = []
    if elapsed > 1.0:
        problems.append(
            f"list_models took {elapsed:.1f}s; it must be a fast static list (no network)"
        )
    if not isinstance(models, (list, tuple)) or not models:
        raise ConformanceFailure(
            f"list_models returned {models!r}; "
            "it must return a non-empty list of chatplug.ModelInfo"
        )
    for item in models:
        if not isinstance(item, ModelInfo):
            raise ConformanceFailure(
                f"list_models returned {item!r}, which is not a chatplug.ModelInfo"
            )
    problems += _catalogue_problems(name, models)
    if problems:
        raise ConformanceFailure("the model catalogue is invalid:\n  - " + "\n  - ".join(problems))
    try:
        again = hook()
    except Exception as error:
        raise ConformanceFailure(
            f"list_models raised on a second call: {describe(error)}"
        ) from None
    if list(again) != list(models):
        problems.append("list_models returned a different catalogue on a second call")
    aliases = {alias: model.id for model in models for alias in model.aliases}
    defaults = [model.id for model in models if model.default]
    try:
        for alias, target in aliases.items():
            resolved = provider.model(alias)
            if resolved.id != target:
                problems.append(f"alias {alias!r} resolves to {resolved.id!r}, not {target!r}")
        for model in models:
            if model.id not in aliases and provider.model(model.id).id != model.id:
                problems.append(f"model id {model.id!r} does not resolve to itself")
        if defaults and provider.model(None).id != defaults[0]:
            problems.append(f"model=None resolves to {provider.model(None).id!r}, not the default")
    except ChatplugError as error:
        problems.append(f"resolving the catalogue failed: {describe(error)}")
    if problems:
        raise ConformanceFailure("the model catalogue is invalid:\n  - " + "\n  - ".join(problems))


def _catalogue_problems(name: str, models: Sequence[ModelInfo]) -> List[str]:
    """What is wrong with the ids, providers, aliases and defaults of ``models``."""
    problems: List[str] = []
    ids = [model.id for model in models]
    for model in models:
        if not isinstance(model.id, str) or not model.id.strip() or model.id != model.id.strip():
            problems.append(f"model id {model.id!r} is empty or has surrounding whitespace")
        elif any(ch.isspace() for ch in model.id):
            problems.append(f"model id {model.id!r} contains whitespace")
        if model.provider != name:
            problems.append(
                f"model {model.id!r} says provider={model.provider!r}; it must be {name!r} "
                "(the entry point's name)"
            )
        for alias in model.aliases:
            if not isinstance(alias, str) or not alias.strip():
                problems.append(f"model {model.id!r} has an empty alias {alias!r}")
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.append(f"duplicate model ids: {', '.join(map(str, duplicates))}")
    defaults = [model.id for model in models if model.default]
    if len(defaults) != 1:
        problems.append(
            f"exactly one model must have default=True; found {len(defaults)}"
            + (f" ({', '.join(defaults)})" if defaults else "")
        )
    aliases: Dict[str, str] = {}
    for model in models:
        for alias in model.aliases:
            if alias in aliases and aliases[alias] != model.id:
                problems.append(
                    f"alias {alias!r} is claimed by {aliases[alias]!r} and {model.id!r}"
                )
            aliases[alias] = model.id
    return problems


async def check_unknown_model(subject: Subject) -> None:
    async with subject.client() as client:
        ways: Tuple[Tuple[str, Optional[str], str], ...] = (
            ("provider= and model=", subject.provider, UNKNOWN_MODEL),
            ("'provider/model'", None, f"{subject.provider}/{UNKNOWN_MODEL}"),
        )
        for how, provider, model in ways:
            try:
                async with client.stream(list(SIMPLE), provider=provider, model=model) as stream:
                    async for _ in stream:
                        pass
            except ModelNotFoundError:
                continue
            except Exception as error:
                raise ConformanceFailure(
                    f"asking for an unknown model ({how}) raised {describe(error)}; "
                    "expected ModelNotFoundError (is the catalogue valid?)"
                ) from None
            raise ConformanceFailure(
                f"asking for the unknown model {UNKNOWN_MODEL!r} ({how}) streamed an answer "
                "instead of raising ModelNotFoundError"
            )
