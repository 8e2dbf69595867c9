"""Sessions: ``nox`` runs tests, each plugin alone with the core, lint and typecheck."""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
CORE = "./core"
PLUGINS = sorted(
    path.name
    for path in (ROOT / "plugins").glob("chatplug-*")
    if (path / "pyproject.toml").exists()
)
TEST_DEPS = [
    "pytest>=8",
    "pytest-asyncio>=0.23",
    "pytest-timeout",
    "hypothesis",
    "openai>=1.0",
    "openai-agents",  # tests/clients: the Agents SDK (Responses and Chat Completions models)
    "anthropic",  # tests/clients: the Messages API through serve
    "pydantic>=2",  # tests/clients: parse() with a Pydantic model
    "langchain-openai",  # tests/clients/chat: ChatOpenAI (the JavaScript clients: clients/js)
    "google-genai",  # plugins/chatplug-gemini: Google's own SDK against the emulator
    "pexpect",
    "gunicorn",
    "uvloop; sys_platform != 'win32'",  # tests/server: chatplug serve --loop uvloop
    "aiohttp-socks",
    "tomli",
    "uv",  # tests/kit builds a fresh venv for a generated plugin (pip is the fallback)
]

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests", "plugin", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The core, every plugin, and the end-to-end tests, all installed together."""
    session.install(CORE + "[socks,redis]", *[f"./plugins/{name}" for name in PLUGINS], *TEST_DEPS)
    session.run(
        "pytest",
        "core/tests",
        "tests",
        *[f"plugins/{name}/tests" for name in PLUGINS],
        *session.posargs,
        env=_test_env(session),
    )


def _test_env(session: nox.Session) -> dict:
    """Tests never write to the user's conversation log (``chatplug chat`` logs by default)."""
    return {"CHATPLUG_LOGS_DB": str(Path(session.create_tmp()) / "logs.db")}


@nox.session
@nox.parametrize("name", PLUGINS)
def plugin(session: nox.Session, name: str) -> None:
    """One plugin alone with the core: its own tests pass without the others installed."""
    session.install(CORE, f"./plugins/{name}", *TEST_DEPS)
    session.run("pytest", f"plugins/{name}/tests", *session.posargs, env=_test_env(session))


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks side by side; writes docs/benchmarks.md, .json and .png (``-- --quick``;
    ``-- --compare-with ec9d6af`` adds the text path against 0.1's, built from git).
    The Redis cost needs ``redis-server`` on the PATH (``.ci/run`` installs it)."""
    session.install(
        CORE + "[redis]", *[f"./plugins/{name}" for name in PLUGINS], "openai>=1.0", "matplotlib"
    )
    session.chdir("bench")
    session.run("python", "run.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff==0.17.6")  # pinned: a new ruff release must not turn CI red
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("mypy", CORE + "[socks,redis]", "pytest", "tomli", "platformdirs")
    session.run("mypy")
