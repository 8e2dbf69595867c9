"""The error hierarchy: every failure chatplug reports is a :class:`ChatplugError`.

Each error names what went wrong (and, where known, the provider) and carries a ``hint``
saying what to do about it.  ``exit_code`` is the status the ``chatplug`` command exits with.
"""

from __future__ import annotations

from typing import Mapping, Optional


class ChatplugError(Exception):
    """Base class of every error chatplug raises."""

    exit_code = 1
    default_hint: Optional[str] = None

    def __init__(
        self,
        message: str,
        *,
        provider: Optional[str] = None,
        hint: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.hint = hint if hint is not None else self.default_hint
        #: characters of text already yielded to the caller when the error happened
        self.partial_length: Optional[int] = None

    def __str__(self) -> str:
        prefix = f"{self.provider}: " if self.provider else ""
        text = f"{prefix}{self.message}"
        if self.partial_length:
            text += f" (after {self.partial_length} characters of partial text)"
        return text


class PluginError(ChatplugError):
    """A provider plugin misbehaved: it raised an unexpected exception (a plugin bug)."""

    exit_code = 3
    default_hint = "Report this to the plugin's authors; try another provider meanwhile."


class PluginLoadError(PluginError):
    """A provider plugin could not be imported, or its hooks failed validation."""

    exit_code = 15
    default_hint = "Reinstall or upgrade the plugin, or leave it out with CHATPLUG_PLUGINS."


class ProviderNotFoundError(ChatplugError):
    """No loaded provider has the requested name."""

    exit_code = 4

    def __init__(self, name: str, available: "list[str]") -> None:
        listed = ", ".join(available) if available else "none installed"
        super().__init__(
            f"unknown provider {name!r}; available providers: {listed}",
            hint="Run 'chatplug plugins' to see installed providers; "
            "install one with 'pip install chatplug-<name>'.",
        )
        self.name = name
        self.available = list(available)


class ModelNotFoundError(ChatplugError):
    """The requested model is not offered by the provider (or by any provider)."""

    exit_code = 5

    def __init__(
        self, model: str, available: "list[str]", *, provider: Optional[str] = None
    ) -> None:
        listed = ", ".join(available) if available else "none"
        super().__init__(
            f"unknown model {model!r}; available models: {listed}",
            provider=provider,
            hint="Run 'chatplug models' to list every model and alias.",
        )
        self.model = model
        self.available = list(available)


class InvalidRequestError(ChatplugError):
    """The request is malformed (messages, options); nothing was sent."""

    exit_code = 13  # not 2: that is click's usage error (a bad flag)


class UnsupportedCapabilityError(InvalidRequestError):
    """The request needs a capability (``tools``, ``images``...) that the chosen model does
    not declare; nothing was sent.  ``alternatives`` are installed models that have it."""

    def __init__(
        self,
        capability: str,
        model: str,
        alternatives: "list[str]",
        *,
        provider: Optional[str] = None,
    ) -> None:
        listed = ", ".join(alternatives) if alternatives else "none installed"
        super().__init__(
            f"the model {model} does not support {capability}; models that do: {listed}",
            provider=provider,
            hint=f"Pick a model with {capability!r} (-m provider/model), or leave out what "
            f"needs it.",
        )
        self.capability = capability
        self.model = model
        self.alternatives = list(alternatives)


class UpstreamError(ChatplugError):
    """Base class of failures that come from talking to an upstream service."""

    exit_code = 6
    #: whether trying the same request again may succeed
    retryable = False


class UpstreamHTTPError(UpstreamError):
    """The upstream answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: str = "",
        provider: Optional[str] = None,
        hint: Optional[str] = None,
    ) -> None:
        super().__init__(message, provider=provider, hint=hint)
        self.status = status
        self.body = body
        self.retryable = status >= 500

    def __str__(self) -> str:
        text = super().__str__()
        if self.body:
            text += f": {self.body}"
        return text


class AuthenticationError(UpstreamHTTPError):
    """The upstream refused the credentials (HTTP 401/403)."""

    exit_code = 7


class RateLimitedError(UpstreamHTTPError):
    """The upstream rate-limited the request (HTTP 429)."""

    exit_code = 8

    def __init__(
        self,
        message: str,
        *,
        status: int = 429,
        body: str = "",
        retry_after: Optional[float] = None,
        provider: Optional[str] = None,
        hint: Optional[str] = None,
    ) -> None:
        super().__init__(message, status=status, body=body, provider=provider, hint=hint)
        self.retry_after = retry_after
        self.retryable = True


class UpstreamConnectionError(UpstreamError):
    """The upstream could not be reached, or dropped the connection."""

    exit_code = 14
    retryable = True
    default_hint = "Check the network, the provider's base_url, or pass --proxy."


class UpstreamTimeoutError(UpstreamError):
    """A timeout expired; ``phase`` says which: connect, first_byte, idle or total.

    Only a connect timeout is retried; the others move on to the next provider.
    """

    exit_code = 9

    def __init__(
        self,
        phase: str,
        seconds: Optional[float],
        *,
        provider: Optional[str] = None,
    ) -> None:
        after = f" after {seconds:g}s" if seconds is not None else ""
        super().__init__(
            f"{phase} timeout{after}",
            provider=provider,
            hint=f"Raise the {phase} timeout, or try another provider.",
        )
        self.phase = phase
        self.seconds = seconds
        self.retryable = phase == "connect"


class StreamProtocolError(UpstreamError):
    """The upstream's stream was malformed, truncated, or too large to buffer."""

    exit_code = 10
    default_hint = "The upstream may have changed its protocol; upgrade the plugin."


class ConfigError(ChatplugError):
    """The configuration (``chatplug.toml``, its environment variables or a proxy URL) is
    invalid; the message names the file, the key and what is expected."""

    exit_code = 12
    default_hint = "Fix the configuration file ('chatplug config path' shows where it is)."


class AllProvidersFailedError(ChatplugError):
    """Every candidate provider failed; ``errors`` keeps each provider's cause."""

    exit_code = 11

    def __init__(self, errors: Mapping[str, ChatplugError]) -> None:
        causes = "; ".join(f"{name}: {_describe(err)}" for name, err in errors.items())
        super().__init__(
            f"all providers failed ({causes})",
            hint="Try again later, or choose another provider with --provider.",
        )
        self.errors = dict(errors)


def _describe(error: ChatplugError) -> str:
    # The provider name is already the key, so avoid repeating it.
    provider, error.provider = error.provider, None
    try:
        return f"{type(error).__name__}: {error}"
    finally:
        error.provider = provider


__all__ = [
    "AllProvidersFailedError",
    "AuthenticationError",
    "ChatplugError",
    "ConfigError",
    "InvalidRequestError",
    "ModelNotFoundError",
    "PluginError",
    "PluginLoadError",
    "ProviderNotFoundError",
    "RateLimitedError",
    "StreamProtocolError",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamHTTPError",
    "UpstreamTimeoutError",
]
