"""Per-request route resolution: one provider's base URL, proxy, timeouts and default
options, each from the highest level of precedence that sets it.

Base URL: argument > ``CHATPLUG_<ID>_BASE_URL`` > the file > the plugin's default.
Proxy: argument > the environment (unless ``NO_PROXY`` or a loopback host exempts the URL)
> the file's ``[providers.<id>]``, then ``[defaults]`` > none.  Timeouts: argument > the
file (``[providers.<id>]`` over ``[defaults]``) > built-in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Mapping, Optional

from ..net import check_proxy, check_url, env_proxy, environment
from ..types import Timeout
from .model import DEFAULT_TIMEOUT, Route

if TYPE_CHECKING:  # pragma: no cover
    from .document import Config


def base_url_env(provider: str) -> str:
    """``CHATPLUG_<PROVIDER>_BASE_URL`` (upper-cased, ``-`` becomes ``_``)."""
    return f"CHATPLUG_{provider.upper().replace('-', '_')}_BASE_URL"


def resolve_route(
    config: "Config",
    name: str,
    *,
    base_url: Optional[str] = None,
    proxy: Optional[str] = None,
    timeout: Optional[Timeout] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> Route:
    """See :meth:`Config.route <chatplug.config.Config.route>`."""
    env = environment() if environ is None else environ
    table = config.providers.get(name)
    sources: Dict[str, str] = {}

    if base_url:
        sources["base_url"] = "argument"
    else:
        variable = base_url_env(name)
        base_url = env.get(variable) or None
        if base_url:
            check_url(base_url, f"environment variable {variable}")
            sources["base_url"] = f"env {variable}"
        elif table is not None and table.base_url:
            base_url, sources["base_url"] = table.base_url, "file"
        else:
            base_url, sources["base_url"] = None, "plugin default"

    chosen: Optional[str]
    if proxy is not None:
        chosen, sources["proxy"] = proxy, "argument"
        where = "the proxy argument"
    else:
        found = env_proxy(base_url, env)
        if found is not None:
            chosen, variable = found
            sources["proxy"] = f"env {variable}"
            where = f"environment variable {variable}"
        elif table is not None and table.proxy is not None:
            chosen, sources["proxy"] = table.proxy, "file"
            where = f"{config.location}: [providers.{name}] proxy"
        elif config.defaults.proxy is not None:
            chosen, sources["proxy"] = config.defaults.proxy, "file"
            where = f"{config.location}: [defaults] proxy"
        else:
            chosen, sources["proxy"] = None, "none"
            where = ""
    chosen = chosen or None  # "" means: no proxy
    if chosen is not None:
        check_proxy(chosen, where)

    if timeout is not None:
        resolved, sources["timeout"] = timeout, "argument"
    else:
        merged = dict(config.defaults.timeout)
        if table is not None:
            merged.update(table.timeout)
        resolved = Timeout(**merged) if merged else DEFAULT_TIMEOUT
        sources["timeout"] = "file" if merged else "default"

    options = table.options if table is not None else {}
    return Route(base_url, chosen, resolved, options, sources)
