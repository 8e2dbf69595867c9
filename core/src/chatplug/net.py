"""Network rules: loopback hosts, URL and proxy checks, proxies from the environment
(``NO_PROXY`` included) and the SOCKS connector.

**Loopback** (:func:`is_loopback`), one rule for the whole of chatplug: ``localhost``, an
IPv4 address in ``127.0.0.0/8`` (also written as the IPv4-mapped ``::ffff:127.x.y.z``) and
``::1``; brackets, surrounding spaces, a trailing dot and letter case are ignored.  Nothing
else: not ``0.0.0.0`` or ``::`` (every interface), not other names (``*.localhost`` or a
name that happens to resolve to 127.0.0.1: nothing is looked up).  Requests to loopback
hosts never go through a proxy from the environment, and ``chatplug serve`` listens on a
loopback host without an API key.

**Proxies from the environment** (:func:`env_proxy`): ``CHATPLUG_PROXY`` first, then
``HTTPS_PROXY`` (https URLs, and plugin defaults, whose URL chatplug does not know) or
``HTTP_PROXY`` (http URLs), then ``ALL_PROXY``; lower-case spellings first, as curl reads
them.  Hosts matched by ``NO_PROXY`` (:func:`bypassed`) and loopback hosts go direct.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple, Union
from urllib.parse import unquote, urlsplit

from .errors import ConfigError
from .masking import mask_text

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

PROXY_ENV = "CHATPLUG_PROXY"
HTTP_SCHEMES = ("http", "https")
SOCKS_SCHEMES = ("socks5", "socks5h")
PROXY_SCHEMES = HTTP_SCHEMES + SOCKS_SCHEMES

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def _host(host: str) -> str:
    """``host`` without brackets, surrounding spaces or a trailing dot, lower-cased."""
    return host.strip().strip("[]").rstrip(".").lower()


def _address(host: str) -> Optional[IPAddress]:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@functools.lru_cache(maxsize=256)
def is_loopback(host: str) -> bool:
    """Whether ``host`` only reaches this machine (see the module docstring for the rule)."""
    host = _host(host)
    if host == "localhost":
        return True
    address = _address(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address is not None and address.is_loopback


# URLs and proxies ------------------------------------------------------------------------


def check_url(url: str, where: str) -> None:
    """Raise :class:`ConfigError` unless ``url`` is an ``http://`` or ``https://`` URL."""
    parts = urlsplit(url)
    if parts.scheme not in HTTP_SCHEMES or not parts.hostname:
        raise ConfigError(
            f"{where}: {mask_text(url)!r} is not an http:// or https:// URL",
            hint="Give the provider's base URL, e.g. http://127.0.0.1:11434/v1.",
        )


def is_socks(proxy: Optional[str]) -> bool:
    """Whether ``proxy`` is a SOCKS proxy URL (it needs a connector, not ``proxy=``)."""
    return bool(proxy) and str(proxy).split(":", 1)[0].lower() in SOCKS_SCHEMES


def check_proxy(proxy: str, where: str, *, usable: bool = True) -> None:
    """Raise :class:`ConfigError` (credentials masked) unless ``proxy`` is a valid proxy URL
    (and, with ``usable``, a SOCKS one has ``aiohttp-socks`` to serve it)."""
    shown = mask_text(proxy)
    try:
        parts = urlsplit(proxy)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme.lower() not in PROXY_SCHEMES or not parts.hostname:
        raise ConfigError(
            f"{where}: {shown!r} is not a proxy URL; expected http://, https://, socks5:// or "
            "socks5h:// followed by host:port",
            hint="e.g. http://127.0.0.1:3128 or socks5h://127.0.0.1:1080; credentials go before "
            "the host (user:password@), with '/', '@' and ':' in them percent-encoded "
            "(%2F, %40, %3A)",
        )
    if parts.scheme.lower() in SOCKS_SCHEMES:
        if port is None:
            raise ConfigError(f"{where}: the SOCKS proxy {shown!r} needs a port (host:port)")
        if usable:
            require_socks(proxy)


def require_socks(proxy: str) -> None:
    """Raise :class:`ConfigError` naming the ``chatplug[socks]`` extra if it is missing."""
    try:
        import aiohttp_socks  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"the proxy {mask_text(proxy)!r} is a SOCKS proxy, which needs the optional "
            "dependency aiohttp-socks",
            hint="Install it with: pip install 'chatplug[socks]'",
        ) from None


def socks_connector(proxy: str, **kwargs: Any) -> "aiohttp.BaseConnector":
    """An aiohttp connector tunnelling every connection through the SOCKS5 ``proxy``.

    ``socks5h://`` resolves host names on the proxy; ``socks5://`` resolves them locally.
    """
    require_socks(proxy)
    from aiohttp_socks import ProxyConnector, ProxyType

    parts = urlsplit(proxy)
    return ProxyConnector(  # type: ignore[no-any-return]
        proxy_type=ProxyType.SOCKS5,
        host=parts.hostname or "",
        port=parts.port or 1080,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        rdns=parts.scheme.lower() == "socks5h",
        **kwargs,
    )


# the environment -------------------------------------------------------------------------


def environment() -> Dict[str, str]:
    """The variables that matter here (proxies, ``CHATPLUG_*``), read once: a client takes
    this snapshot when it is created."""
    return {
        key: value
        for key, value in os.environ.items()
        if key.startswith("CHATPLUG_") or key.upper().endswith("_PROXY")
    }


def _env(env: Mapping[str, str], name: str) -> Optional[str]:
    """A proxy variable, lower-case spelling first (as curl does); empty means unset."""
    for variable in (name.lower(), name.upper()):
        value = env.get(variable)
        if value and value.strip():
            return variable
    return None


def env_proxy(base_url: Optional[str], env: Mapping[str, str]) -> Optional[Tuple[str, str]]:
    """``(proxy, variable)`` from the environment for a request to ``base_url``, or ``None``
    (see the module docstring for the order and the exemptions)."""
    if not (
        env.get(PROXY_ENV, "").strip()
        or _env(env, "HTTPS_PROXY")
        or _env(env, "HTTP_PROXY")
        or _env(env, "ALL_PROXY")
    ):
        return None  # the common case, without parsing the URL
    host: Optional[str] = None
    scheme = "https"
    if base_url:
        parts = urlsplit(base_url)
        host, scheme = parts.hostname, parts.scheme.lower()
    if host is not None and (is_loopback(host) or bypassed(host, env)):
        return None
    if host is None and bypassed("", env):  # unknown URL: only NO_PROXY=* exempts it
        return None
    if env.get(PROXY_ENV, "").strip():
        return env[PROXY_ENV].strip(), PROXY_ENV
    names = ("HTTPS_PROXY", "ALL_PROXY") if scheme == "https" else ("HTTP_PROXY", "ALL_PROXY")
    for name in names:
        variable = _env(env, name)
        if variable is not None:
            return env[variable].strip(), variable
    return None


def bypassed(host: str, env: Mapping[str, str]) -> bool:
    """Whether ``NO_PROXY`` exempts ``host``: ``*``, exact names, domain suffixes
    (``example.com`` and ``.example.com`` both match ``api.example.com``), IPs and CIDRs."""
    variable = _env(env, "NO_PROXY")
    if variable is None:
        return False
    host = _host(host)
    address = _address(host)
    for entry in env[variable].split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry.strip("[]"), strict=False):
                    return True
            except ValueError:
                pass
            continue
        if entry.count(":") == 1:  # host:port -> host
            entry = entry.split(":", 1)[0]
        entry = entry.lstrip("*").lstrip(".").rstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


__all__ = [
    "HTTP_SCHEMES",
    "PROXY_ENV",
    "PROXY_SCHEMES",
    "SOCKS_SCHEMES",
    "bypassed",
    "check_proxy",
    "check_url",
    "env_proxy",
    "environment",
    "is_loopback",
    "is_socks",
    "require_socks",
    "socks_connector",
]
