"""Hypothesis: random chunk splits and random fault positions against the scripted upstream.

The invariants, whatever the split or the fault:
- a complete answer is exactly the text the upstream meant to send;
- an error carries ``partial_length`` equal to the characters received, and those characters
  are a prefix of the intended text (checked in ``collect``);
- nothing hangs, and no connection stays checked out of the pool.
"""

from __future__ import annotations

import asyncio
from typing import List

import pytest
from chatplug import Timeout
from chatplug.testing import Reply, ScriptedUpstream
from faultkit import (
    LAST_CHUNK,
    Outcome,
    chunk,
    collect,
    make_client,
    ndjson_body,
    raw_chunked,
    settle,
    sse_body,
    stream,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.timeout(60)

TIMEOUT = Timeout(connect=2.0, first_byte=2.0, idle=0.3)  # idle: how long a "stall" takes
pieces = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6)
cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=8)
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def split(data: bytes, points: List[int]) -> List[bytes]:
    edges = [0, *sorted({point % (len(data) + 1) for point in points}), len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:]) if b > a]


def body_for(kind: str, texts: List[str]) -> bytes:
    return sse_body(texts) if kind == "sse" else ndjson_body(texts)


async def run_once(kind: str, script: Reply) -> Outcome:
    async with ScriptedUpstream(script) as up:
        async with make_client({"a": (kind, up.url)}, timeout=TIMEOUT) as client:
            outcome = await collect(client)
            assert await settle(client) == 0
            return outcome


@SETTINGS
@given(texts=pieces, points=cuts, kind=st.sampled_from(["sse", "ndjson"]))
def test_any_chunk_split_gives_exactly_the_text(
    texts: List[str], points: List[int], kind: str
) -> None:
    body = body_for(kind, texts)
    script = stream(*split(body, points), delay=0.001, end_delay=0.001)  # separate reads
    outcome = asyncio.run(run_once(kind, script))
    assert outcome.error is None, outcome.error
    assert outcome.text == "".join(texts)


@SETTINGS
@given(
    texts=pieces,
    position=st.integers(min_value=0, max_value=10_000),
    fault=st.sampled_from(["close", "reset", "stall"]),
    kind=st.sampled_from(["sse", "ndjson"]),
)
def test_a_fault_at_any_position_never_passes_for_a_complete_answer(
    texts: List[str], position: int, fault: str, kind: str
) -> None:
    body = body_for(kind, texts)
    cut = position % (len(body) + 1)
    intended = "".join(texts)
    # delimited by closing: only the protocol can tell where the body was meant to end
    frames = [body[:cut]] if cut else []
    end = {"close": "close", "reset": "reset", "stall": "hang"}[fault]
    script = stream(*frames, framing="eof", end_delay=0.01, end=end)
    outcome = asyncio.run(run_once(kind, script))
    assert intended.startswith(outcome.text)
    if outcome.error is None:
        if kind == "sse":  # "complete" only once [DONE] arrived, hence every character
            assert outcome.text == intended
            assert cut >= len(body) - 1
        else:
            # NDJSON has no end marker, and this body is delimited by closing: a connection
            # lost at a line end looks like the end (aiohttp reads even a reset there as the
            # end of such a body).  A last line without its newline counts when it parses.
            ends = {len(body_for(kind, texts[:n])): "".join(texts[:n]) for n in range(1, 7)}
            assert fault in ("close", "reset")
            assert outcome.text in (ends.get(cut), ends.get(cut + 1))
    elif cut == len(body) and kind == "sse":
        pytest.fail(f"the whole SSE body arrived but the stream failed: {outcome.error!r}")


@SETTINGS
@given(texts=pieces, position=st.integers(min_value=0, max_value=10_000))
def test_a_chunked_plain_text_body_cut_anywhere_is_never_complete(
    texts: List[str], position: int
) -> None:
    intended = "".join(texts)
    framed = chunk(intended.encode()) + LAST_CHUNK
    cut = position % len(framed)  # strictly inside the framing: the body never finishes
    script = raw_chunked(framed[:cut], content_type="text/plain", end_delay=0.01, end="close")
    outcome = asyncio.run(run_once("text", script))
    assert intended.startswith(outcome.text)
    assert outcome.error is not None, "a cut-off body was reported as a complete answer"
