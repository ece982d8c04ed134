"""RESP encoding/parsing of the tiny Redis client (no server needed)."""

import io

import pytest

from harness.targets.redis_client import RedisClient, RespError, encode, parse


def test_encode_bulk_array():
    assert encode("SADD", "k", 3) == b"*3\r\n$4\r\nSADD\r\n$1\r\nk\r\n$1\r\n3\r\n"


def test_parse_each_reply_kind():
    assert parse(io.BytesIO(b"+OK\r\n")) == "OK"
    assert parse(io.BytesIO(b":42\r\n")) == 42
    assert parse(io.BytesIO(b"$-1\r\n")) is None
    assert parse(io.BytesIO(b"*2\r\n$1\r\n1\r\n$2\r\n10\r\n")) == [b"1", b"10"]
    with pytest.raises(RespError, match="READONLY"):
        parse(io.BytesIO(b"-READONLY You can't write against a read only replica.\r\n"))
    with pytest.raises(ConnectionError):
        parse(io.BytesIO(b"$5\r\nab"))


def test_refused_connection_is_a_definite_fail():
    c = RedisClient("127.0.0.1", 1, key="x:set", timeout_s=0.5)  # nothing listens on port 1
    assert c.invoke({"f": "add", "value": 1})["type"] == "fail"
    assert c.invoke({"f": "read", "value": None})["type"] == "fail"
