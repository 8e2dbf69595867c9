"""AiChatOnline's two sites: where the web app and its API live, and how a browser calls them."""

from __future__ import annotations

from typing import Dict

from chatplug import browser_headers

PROVIDER = "aichatonline"
MODEL = "gpt-4o-mini"
SITE_URL = "https://aichatonline.org"
API_URL = "https://aichatonlineorg.erweima.ai"
UNIQUE_ID_PATH = "/api/v1/user/getUniqueId"
CHAT_PATH = "/aichatonline/api/chat/gpt"
UNIQUE_ID_HEADER = "UniqueId"
#: a getUniqueId answer larger than this is not the small JSON document we expect
UNIQUE_ID_MAX_BYTES = 64 * 1024
EXCERPT = 80
#: the hint of an error that means the upstream's protocol changed
OUTDATED = "The upstream's protocol may have changed; the plugin may be out of date."


def site_headers(**extra: str) -> Dict[str, str]:
    # the API lives on another site than the web app: a browser sends "cross-site"
    return browser_headers(
        SITE_URL, SITE_URL + "/chatgpt/chat/", sec_fetch_site="cross-site", **extra
    )


def random_string(length: int = 10) -> str:
    """A random ``[0-9a-f]`` string, as the web app sends for ``canvas`` and conversation ids."""
    import secrets

    return secrets.token_hex((length + 1) // 2)[:length]


def excerpt(raw: bytes) -> str:
    return raw[:EXCERPT].decode(errors="replace")
