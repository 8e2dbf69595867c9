"""``chatplug logs`` and its sub-commands, on a real database file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

from chatplug.cli.logs import logs_command
from chatplug.history import LogsError, LogStore, Recorder
from click.testing import CliRunner, Result

from .conftest import Log


def run(*args: str) -> Result:
    return CliRunner().invoke(logs_command, list(args))


def ids(result: Result) -> List[str]:
    assert result.exit_code == 0, result.output
    return [item["id"] for item in json.loads(result.stdout)]


def test_logs_lists_the_latest_exchanges_newest_first(log: Log) -> None:
    first = log("what is the capital of France?", "Paris.", provider="acme", model="m1")
    second = log("and of Italy?", "Rome.", provider="acme", model="m1")
    result = run()
    assert result.exit_code == 0
    assert result.output.index(second.id) < result.output.index(first.id)
    assert "> what is the capital of France?" in result.output
    assert "< Paris." in result.output and "acme/m1" in result.output


def test_logs_n_limits_the_list(log: Log) -> None:
    records = [log(f"q{index}", f"a{index}") for index in range(4)]
    assert ids(run("-n", "2", "--json")) == [records[3].id, records[2].id]


def test_logs_json_carries_the_whole_exchange(log: Log) -> None:
    record = log(
        "hi", "hello", provider="acme", model="m1", usage={"input_tokens": 3, "output_tokens": 4}
    )
    (item,) = json.loads(run("--json").stdout)
    assert item["id"] == record.id and item["answer"] == "hello"
    assert item["usage"] == {
        "input_tokens": 3, "output_tokens": 4, "cached_tokens": None, "reasoning_tokens": None,
        "estimated": False,
    }  # fmt: skip
    assert item["messages"] == [{"role": "user", "content": "hi"}] and item["error"] is None


def test_logs_filters_by_model_provider_and_conversation(log: Log) -> None:
    a = log("q", "a", provider="acme", model="m1")
    b = log("q", "b", provider="acme", model="m2")
    c = log("q", "c", provider="other", model="m1", conversation_id=a.conversation_id)
    assert ids(run("--json", "-m", "m1")) == [c.id, a.id]
    assert ids(run("--json", "-p", "acme")) == [b.id, a.id]
    assert ids(run("--json", "-p", "acme", "-m", "m1")) == [a.id]
    assert ids(run("--json", "--cid", a.conversation_id)) == [c.id, a.id]


def test_logs_since_leaves_out_older_exchanges(log: Log, recorder: Recorder) -> None:
    old = recorder.begin("old")
    old.created_at = "2020-01-01T00:00:00.000Z"
    recorder.write(old.finish(text="old"))
    new = log("new", "new")
    assert ids(run("--json", "--since", "1d")) == [new.id]
    assert len(ids(run("--json", "--since", "2019-12-31"))) == 2


def test_logs_refuses_a_since_it_cannot_read(db_path: Path) -> None:
    result = run("--since", "last tuesday")
    assert result.exit_code == 2
    assert "not a period" in result.output


def test_logs_q_searches_prompts_and_answers_best_first(log: Log) -> None:
    log("unrelated", "nothing here")
    once = log("herbs?", "Parsley is one, among a long list of other herbs and spices.")
    twice = log("parsley or not?", "Parsley.")
    assert ids(run("--json", "-q", "parsley")) == [twice.id, once.id]


def test_logs_show_prints_one_exchange_in_full(log: Log) -> None:
    record = log(
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "hello there",
        provider="acme",
        model="m1",
        options={"temperature": 0.2, "api_key": "sk-secret"},
        usage={"input_tokens": 5, "output_tokens": 2},
        finish_reason="stop",
    )
    result = run("show", record.id)
    assert result.exit_code == 0
    assert f"id:           {record.id}" in result.output
    assert "system: be brief\nuser: hi" in result.output
    assert "--- answer\nhello there" in result.output
    assert "usage:        5 in, 2 out" in result.output and "finish:       stop" in result.output
    assert '"api_key": "***"' in result.output and "sk-secret" not in result.output


def test_logs_show_labels_a_failed_exchanges_partial_answer(log: Log) -> None:
    record = log("tell me", "Once upon", error=TimeoutError("idle for 60 s"))
    result = run("show", record.id)
    assert "error:        TimeoutError: idle for 60 s" in result.output
    assert "--- partial answer\nOnce upon" in result.output


def test_logs_show_json(log: Log) -> None:
    record = log("hi", "hello")
    assert json.loads(run("show", record.id, "--json").stdout)["answer"] == "hello"


def test_logs_show_an_unknown_id_is_an_error(db_path: Path) -> None:
    result = run("show", "01NOSUCHID")
    assert isinstance(result.exception, LogsError)
    assert "01NOSUCHID" in str(result.exception)


def test_logs_stats_prints_a_table_with_totals(log: Log) -> None:
    log("a", "1", provider="acme", model="m1", usage={"input_tokens": 1000, "output_tokens": 20})
    log("b", "2", provider="acme", model="m1", usage={"input_tokens": 500, "output_tokens": 30})
    log("c", "3", provider="other", model="m2", error=TimeoutError())
    result = run("stats")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "PROVIDER",
        "MODEL",
        "EXCHANGES",
        "ERRORS",
        "INPUT",
        "OUTPUT",
        "CACHED",
        "REASONING",
    ]
    assert lines[1].split() == ["acme", "m1", "2", "0", "1,500", "50", "0", "0"]
    assert lines[2].split() == ["other", "m2", "1", "1", "0", "0", "0", "0"]
    assert lines[3].split() == ["total", "3", "1", "1,500", "50", "0", "0"]
    assert "1 exchange(s) without usage" in result.output


def test_logs_stats_json_and_since(log: Log, recorder: Recorder) -> None:
    old = recorder.begin("old", provider="acme", model="m1")
    old.created_at = "2020-01-01T00:00:00.000Z"
    recorder.write(old.finish(usage={"input_tokens": 9, "output_tokens": 9}))
    log("new", "ok", provider="acme", model="m1", usage={"input_tokens": 1, "output_tokens": 1})
    (row,) = json.loads(run("stats", "--since", "1w", "--json").stdout)
    assert (row["exchanges"], row["input_tokens"]) == (1, 1)


def test_logs_stats_on_an_empty_database(db_path: Path) -> None:
    assert run("stats").output == "No exchanges logged yet.\n"


def test_logs_path_prints_the_database_path_without_creating_it(db_path: Path) -> None:
    result = run("path")
    assert result.output == f"{db_path}\n"
    assert not db_path.exists()


def test_logs_off_and_on_switch_logging(db_path: Path) -> None:
    assert run("off").output == f"Logging is off ({db_path}).\n"
    with LogStore(db_path) as store:
        assert not store.enabled
    assert run("on").output == f"Logging is on ({db_path}).\n"
    with LogStore(db_path) as store:
        assert store.enabled


def test_logs_says_on_stderr_when_logging_is_off(log: Log) -> None:
    log("hi", "hello")
    run("off")
    result = run("--json")
    assert "Logging is off" in result.stderr
    assert len(json.loads(result.stdout)) == 1


def test_logs_on_an_empty_database_says_so(db_path: Path) -> None:
    assert run().stdout == "No exchanges logged yet.\n"
    assert run("--json").stdout == "[]\n"


def test_logs_q_without_a_match_says_nothing_was_found(log: Log) -> None:
    log("hi", "hello")
    assert run("-q", "zebra").stdout == "Nothing found.\n"


def test_logs_names_the_tool_calls_of_an_answer_without_text(log: Log) -> None:
    call = {"id": "c_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    record = log("weather?", "", tool_calls=[call], finish_reason="tool_calls")
    assert "< tool calls: get_weather" in run().output
    shown = run("show", record.id).output
    assert "--- tool calls" in shown and '"name": "get_weather"' in shown
    assert "--- answer" not in shown
