"""The conversation log as ``chatplug chat`` uses it (docs/logs.md).

A chat is logged by default (source ``cli``) unless ``--no-log`` is given or logging is
switched off (``chatplug logs off``); ``-c`` / ``--cid`` continue a logged conversation.
Logging never makes a chat fail: when the database cannot be used the chat goes on and
one ``Warning:`` line says it was not logged.  Continuing needs the database, so there it
is an error (exit 16).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

import click

from ..history import LogsError, Recorder, new_id

if TYPE_CHECKING:  # pragma: no cover
    from ..history import ExchangeRecord

SOURCE = "cli"


class ChatLog:
    """Where a chat's turns are logged (``recorder`` is ``None`` when they are not), the
    conversation they belong to, and its logged history."""

    def __init__(
        self,
        recorder: Optional[Recorder] = None,
        conversation_id: Optional[str] = None,
        history: Optional[List[Dict[str, Any]]] = None,
        answered_by: Optional[Tuple[Optional[str], Optional[str]]] = None,
    ) -> None:
        self.recorder = recorder
        self.conversation_id = conversation_id or new_id()
        #: the messages of the continued conversation, as logged (images as references)
        self.history = history or []
        #: (provider, model) of the conversation's last exchange
        self.answered_by = answered_by
        self._warned = False

    def begin(
        self,
        messages: Sequence[Mapping[str, Any]],
        provider: Optional[str],
        model: Optional[str],
        options: Mapping[str, Any],
    ) -> Optional["ExchangeRecord"]:
        """A record of one turn (``None`` when nothing is logged)."""
        if self.recorder is None:
            return None
        return self.recorder.begin(
            list(messages),
            conversation_id=self.conversation_id,
            provider=provider,
            model=model,
            options=dict(options),
        )

    def write(self, record: Optional["ExchangeRecord"]) -> None:
        """Store ``record``; a failure is one warning line, never an error."""
        if record is None or self.recorder is None:
            return
        try:
            self.recorder.write(record)
        except Exception as error:  # sqlite3.Error, LogsError, OSError...
            self.warn(error)

    def warn(self, error: BaseException) -> None:
        if self._warned:
            return
        self._warned = True
        from .errors import safe_line

        path = self.recorder.path if self.recorder is not None else None
        where = f" ({path})" if path is not None else ""
        click.echo(f"Warning: this chat is not logged{where}: {safe_line(str(error))}", err=True)

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()


def open_chat_log(*, log: bool, resume: bool, conversation_id: Optional[str]) -> ChatLog:
    """The log of a chat: ``log`` unless switched off, the conversation to continue
    (``resume``: the latest one of the command line; or ``conversation_id``)."""
    continuing = resume or conversation_id is not None
    if not (log or continuing):
        return ChatLog()
    import sqlite3

    recorder = Recorder(source=SOURCE, strict=True)
    chat_log = ChatLog(recorder)
    try:
        if continuing:
            _continue(chat_log, recorder, conversation_id)
        if not (log and recorder.store.enabled):
            chat_log.recorder = None
    except (LogsError, sqlite3.Error, OSError) as error:
        if continuing:
            recorder.close()
            if isinstance(error, LogsError):
                raise
            raise LogsError(f"cannot read the logs database {recorder.path}: {error}") from None
        chat_log.warn(error)
        chat_log.recorder = None
    if chat_log.recorder is None:
        recorder.close()
    return chat_log


def _continue(chat_log: ChatLog, recorder: Recorder, conversation_id: Optional[str]) -> None:
    store = recorder.store
    if conversation_id is None:
        conversation_id = store.latest_conversation_id(SOURCE)
        if conversation_id is None:
            raise LogsError(
                "there is no logged chat to continue",
                hint="Start one with 'chatplug chat PROMPT'; 'chatplug logs' lists the chats.",
            )
    latest = store.latest(1, conversation_id=conversation_id)
    if not latest:
        raise LogsError(
            f"no logged conversation has the id {conversation_id!r}",
            hint="'chatplug logs' lists the latest exchanges with their conversation ids.",
        )
    chat_log.conversation_id = conversation_id
    chat_log.history = store.conversation(conversation_id)
    chat_log.answered_by = (latest[0].provider, latest[0].model)


def sendable(messages: Sequence[Mapping[str, Any]]) -> Tuple[List[Dict[str, Any]], int]:
    """``messages`` without the logs' image references (the logs keep no image data, so
    those images cannot be sent again), and how many were dropped."""
    result: List[Dict[str, Any]] = []
    dropped = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(_is_ref(part) for part in content):
            parts = [part for part in content if not _is_ref(part)]
            dropped += len(content) - len(parts)
            if all(isinstance(part, Mapping) and part.get("type") == "text" for part in parts):
                text = "\n".join(str(part.get("text", "")) for part in parts)
                content = text or "[an image that the logs do not keep]"
            else:
                content = parts
            message = {**message, "content": content}
        result.append(dict(message))
    return result, dropped


def note_dropped_images(count: int) -> None:
    """Say on stderr that images of a continued conversation are not sent again."""
    if count:
        images = "an image" if count == 1 else f"{count} images"
        click.echo(
            f"Note: {images} of the logged conversation cannot be sent again "
            "(the logs keep no image data); attach it again if the model must see it.",
            err=True,
        )


def _is_ref(part: Any) -> bool:
    return isinstance(part, Mapping) and part.get("type") == "image_ref"
