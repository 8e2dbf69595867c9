"""Reading the logs: latest, filters, full-text search, conversations, usage totals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

import pytest
from chatplug.history import LogsError, LogStore, Recorder

from .conftest import Log


def _turn(
    log: Log, messages: List[Dict[str, Any]], answer: str, cid: str, **kw: Any
) -> List[Dict[str, Any]]:
    """Log one turn of conversation ``cid``; return the messages that continue it."""
    log(messages, answer, conversation_id=cid, **kw)
    return [*messages, {"role": "assistant", "content": answer}]


def test_latest_lists_the_newest_first_and_at_most_n(log: Log, store: LogStore) -> None:
    for index in range(5):
        log(f"prompt {index}", f"answer {index}")
    assert [row.answer for row in store.latest(3)] == ["answer 4", "answer 3", "answer 2"]


def test_latest_filters_by_provider_and_model(log: Log, store: LogStore) -> None:
    log("a", "1", provider="acme", model="small")
    log("b", "2", provider="acme", model="large")
    log("c", "3", provider="other", model="small")
    assert [row.answer for row in store.latest(provider="acme")] == ["2", "1"]
    assert [row.answer for row in store.latest(model="small")] == ["3", "1"]
    assert [row.answer for row in store.latest(provider="acme", model="small")] == ["1"]


def test_latest_filters_by_conversation(log: Log, store: LogStore) -> None:
    first = log("a", "1")
    log("b", "2")
    log("c", "3", conversation_id=first.conversation_id)
    assert [row.answer for row in store.latest(conversation_id=first.conversation_id)] == ["3", "1"]


def test_since_leaves_out_older_exchanges(log: Log, store: LogStore, recorder: Recorder) -> None:
    old = recorder.begin("old one")
    old.created_at = "2020-01-01T00:00:00.000Z"
    recorder.write(old.finish(text="old"))
    log("new one", "new")
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    assert [row.answer for row in store.latest(since=since)] == ["new"]


def test_search_finds_a_word_from_an_answer(log: Log, store: LogStore) -> None:
    log("what herb goes with fish?", "Dill, or parsley with lemon.")
    log("capital of France?", "Paris.")
    assert [row.answer for row in store.search("parsley")] == ["Dill, or parsley with lemon."]


def test_search_finds_a_word_from_a_prompt(log: Log, store: LogStore) -> None:
    log("translate bonjour", "hello")
    log("something else", "else")
    assert [row.prompt for row in store.search("bonjour")] == ["translate bonjour"]


def test_search_ranks_the_better_match_first(log: Log, store: LogStore) -> None:
    log("q1", "a long answer that mentions kubernetes once among many other unrelated words")
    log("kubernetes?", "kubernetes kubernetes")
    log("q3", "nothing relevant")
    assert [row.prompt for row in store.search("kubernetes")] == ["kubernetes?", "q1"]


def test_search_needs_every_word(log: Log, store: LogStore) -> None:
    log("q1", "red apple")
    log("q2", "green apple")
    assert [row.prompt for row in store.search("green apple")] == ["q2"]


def test_search_matches_a_prefix_with_a_star(log: Log, store: LogStore) -> None:
    log("q1", "parsing is fun")
    assert [row.prompt for row in store.search("pars*")] == ["q1"]
    assert store.search("pars") == []


@pytest.mark.parametrize("text", ["gpt-4o", 'say "hi"', "what's up", "NOT", "a:b", "(x"])
def test_search_text_with_punctuation_or_operators_is_taken_literally(
    log: Log, store: LogStore, text: str
) -> None:
    log(f"about {text}", "ok")
    assert [row.prompt for row in store.search(text)] == [f"about {text}"]


def test_search_with_nothing_to_look_for_is_an_error(store: LogStore) -> None:
    with pytest.raises(LogsError, match="empty"):
        store.search("   ")


def test_search_applies_the_filters(log: Log, store: LogStore) -> None:
    log("q1", "shared word", provider="acme")
    log("q2", "shared word", provider="other")
    assert [row.prompt for row in store.search("shared", provider="other")] == ["q2"]


def test_get_returns_one_exchange_or_none(log: Log, store: LogStore) -> None:
    record = log("hi", "hello")
    found = store.get(record.id)
    assert found is not None and found.answer == "hello"
    assert store.get("01NOPE") is None


def test_the_latest_conversation_is_that_of_the_newest_exchange(log: Log, store: LogStore) -> None:
    assert store.latest_conversation_id() is None
    first = log("a", "1", source="cli")
    log("b", "2", source="serve")
    assert store.latest_conversation_id() == store.latest(1)[0].conversation_id
    assert store.latest_conversation_id(source="cli") == first.conversation_id


def test_a_conversation_returns_its_earlier_turns_in_order(log: Log, store: LogStore) -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    history = _turn(log, messages, "hello", "c1")
    history = _turn(log, [*history, {"role": "user", "content": "how are you?"}], "fine", "c1")
    assert store.conversation("c1") == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "how are you?"},
        {"role": "assistant", "content": "fine"},
    ]
    assert store.conversation("c1") == history


def test_a_turn_stores_only_the_messages_it_added(log: Log, store: LogStore) -> None:
    history = _turn(log, [{"role": "user", "content": "hi"}], "hello", "c1")
    _turn(log, [*history, {"role": "user", "content": "more"}], "sure", "c1")
    newest = store.latest(1)[0]
    assert (newest.prior_messages, newest.messages) == (2, [{"role": "user", "content": "more"}])
    assert newest.prompt == "more"


def test_a_request_that_rewrites_the_history_replaces_it(log: Log, store: LogStore) -> None:
    history = _turn(log, [{"role": "user", "content": "hi"}], "hello", "c1")
    _turn(log, [*history, {"role": "user", "content": "2+2?"}], "5", "c1")
    edited = [*history, {"role": "user", "content": "2+2, exactly?"}]  # the second turn redone
    _turn(log, edited, "4", "c1")
    assert store.conversation("c1") == [*edited, {"role": "assistant", "content": "4"}]


def test_a_conversation_keeps_the_tool_calls_of_its_answers(log: Log, store: LogStore) -> None:
    call = {"id": "c_1", "type": "function", "function": {"name": "now", "arguments": "{}"}}
    log("what time is it?", "", conversation_id="c1", tool_calls=[call], finish_reason="tool_calls")
    tool_result = {"role": "tool", "tool_call_id": "c_1", "content": "12:00"}
    history = store.conversation("c1")
    log([*history, tool_result], "It is noon.", conversation_id="c1")
    assert store.conversation("c1") == [
        {"role": "user", "content": "what time is it?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        tool_result,
        {"role": "assistant", "content": "It is noon."},
    ]


def test_a_conversation_leaves_out_failed_exchanges(log: Log, store: LogStore) -> None:
    history = _turn(log, [{"role": "user", "content": "hi"}], "hello", "c1")
    log(
        [*history, {"role": "user", "content": "lost"}],
        "par",
        error=TimeoutError(),
        conversation_id="c1",
    )
    assert store.conversation("c1") == history


def test_stats_sum_usage_per_provider_and_model(log: Log, store: LogStore) -> None:
    log(
        "a",
        "1",
        provider="acme",
        model="m",
        usage={"input_tokens": 10, "output_tokens": 5, "cached_tokens": 2},
    )
    log(
        "b",
        "2",
        provider="acme",
        model="m",
        usage={"input_tokens": 7, "output_tokens": 3, "reasoning_tokens": 1},
    )
    log("c", "3", provider="acme", model="m", error=TimeoutError("slow"))
    log(
        "d",
        "4",
        provider="other",
        model="x",
        usage={"input_tokens": 1, "output_tokens": 1, "estimated": True},
    )
    stats = {(row.provider, row.model): row.as_dict() for row in store.stats()}
    assert stats[("acme", "m")] == {
        "provider": "acme", "model": "m", "exchanges": 3, "errors": 1,
        "input_tokens": 17, "output_tokens": 8, "cached_tokens": 2, "reasoning_tokens": 1,
        "estimated": 0, "without_usage": 1,
    }  # fmt: skip
    assert (stats[("other", "x")]["exchanges"], stats[("other", "x")]["estimated"]) == (1, 1)
    assert [row.provider for row in store.stats()] == ["acme", "other"]  # busiest first


def test_stats_count_only_the_period(log: Log, store: LogStore, recorder: Recorder) -> None:
    old = recorder.begin("old", provider="acme", model="m")
    old.created_at = "2020-01-01T00:00:00.000Z"
    recorder.write(old.finish(usage={"input_tokens": 100, "output_tokens": 100}))
    log("new", "ok", provider="acme", model="m", usage={"input_tokens": 1, "output_tokens": 2})
    (row,) = store.stats(since=datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert (row.exchanges, row.input_tokens, row.output_tokens) == (1, 1, 2)
