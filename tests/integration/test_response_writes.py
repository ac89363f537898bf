"""A response's head and body reach the socket in one write (web/server.py `OneWritePerTurn`).

uvicorn's own protocol code runs here on a transport that records what reaches it, so the test
sees the writes the socket would get; a real server then shows the bytes arrive whole.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.server import ServerState

from ehealth_auth.web.server import HeaderDeadlineProtocol, OneWritePerTurn, ServerConfig
from tests.servers import serving_in_process


class RecordingTransport(asyncio.Transport):
    """What a socket transport would be asked to do, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, bytes]] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closing, "written after close"
        self.calls.append(("write", bytes(data)))

    def close(self) -> None:
        self.calls.append(("close", b""))
        self.closing = True

    def abort(self) -> None:
        self.calls.append(("abort", b""))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def writes(self) -> list[bytes]:
        return [data for call, data in self.calls if call == "write"]


async def _answer_ok(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"content-length", b"2"), (b"x-kind", b"plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


async def _answer_in_two_turns(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"content-length", b"4")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": b"ab", "more_body": True})
    await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": b"cd"})


def _protocol(app: Any) -> tuple[HeaderDeadlineProtocol, RecordingTransport]:
    config = ServerConfig(app, header_timeout=5.0, lifespan="off", log_level="warning")
    protocol = HeaderDeadlineProtocol(config, ServerState(), {}, asyncio.get_running_loop())
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_response_s_head_and_body_are_one_write() -> None:
    protocol, transport = _protocol(_answer_ok)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await _settle()
    [write] = transport.writes()
    assert write.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"x-kind: plain\r\n" in write
    assert write.endswith(b"\r\n\r\nok")
    protocol.connection_lost(None)


async def test_writes_in_separate_turns_all_arrive_in_order() -> None:
    protocol, transport = _protocol(_answer_in_two_turns)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    for _ in range(100):
        await asyncio.sleep(0.01)
        if b"".join(transport.writes()).endswith(b"abcd"):
            break
    writes = transport.writes()
    assert len(writes) == 3  # head, then each part of the body as it comes
    assert writes[0].startswith(b"HTTP/1.1 200 ")
    assert writes[1:] == [b"ab", b"cd"]
    protocol.connection_lost(None)


async def test_a_closing_connection_gets_its_answer_before_it_closes() -> None:
    protocol, transport = _protocol(_answer_ok)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    await _settle()
    assert [call for call, _ in transport.calls] == ["write", "close"]
    assert transport.calls[0][1].endswith(b"\r\n\r\nok")


async def test_close_and_write_eof_flush_what_is_pending_and_abort_drops_it() -> None:
    loop = asyncio.get_running_loop()
    recording = RecordingTransport()
    transport = OneWritePerTurn(recording, loop)
    transport.write(b"a")
    transport.writelines([b"b", b"c"])
    assert transport.get_write_buffer_size() == 3
    assert recording.calls == []  # nothing yet: the turn has not ended
    transport.close()
    assert recording.calls == [("write", b"abc"), ("close", b"")]
    await _settle()  # the scheduled flush finds nothing left to write
    assert recording.writes() == [b"abc"]

    recording = RecordingTransport()
    transport = OneWritePerTurn(recording, loop)
    transport.write(b"lost")
    transport.abort()
    await _settle()
    assert recording.calls == [("abort", b"")]


async def test_a_real_server_answers_whole_responses_on_a_kept_alive_connection() -> None:
    app = _answer_ok
    async with serving_in_process(app, header_timeout=5.0) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # Three requests at once (pipelined): three whole answers, in order.
        writer.write(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        for _ in range(3):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert await asyncio.wait_for(reader.readexactly(2), timeout=5) == b"ok"
        writer.close()
