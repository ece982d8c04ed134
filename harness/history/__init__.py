"""Operations and histories: reading, writing and pairing (docs/architecture.md).

Public API::

    OP_TYPES, validate_op(op, where, require=("type", "process", "f")) -> dict
    HistoryWriter(path, fsync_interval=1.0, clock=time.monotonic)   # .append(op) -> op, .sync(), .close()
    read_jsonl(path, allow_truncated_tail=False) -> list[dict]
    read_jsonl_with_report(path, allow_truncated_tail=False) -> JsonlResult(ops, dropped_lines)
    encode_op(op) -> str
    parse_edn(text, name="<edn>") -> value;  read_edn_history(path) -> list[dict]
    read_porcupine_etcd(path), read_porcupine_kv(path) -> list[dict]
    FORMATS, read_history(path, fmt=None, allow_truncated_tail=False), detect_format(path)
    read_json_history(path) -> list[dict]
    pair_ops(history, open_as_info=False) -> list[tuple[dict, dict]]
"""

from .edn import loads as parse_edn
from .edn import parse_forms as parse_edn_forms
from .edn import read_edn_history
from .formats import FORMATS, detect_format, read_history, read_json_history
from .jsonl import HistoryWriter, JsonlResult, encode_op, read_jsonl, read_jsonl_with_report
from .op import COMPLETION_TYPES, NEMESIS, OP_TYPES, validate_op
from .pairing import pair_ops
from .porcupine import read_porcupine_etcd, read_porcupine_kv

__all__ = [
    "COMPLETION_TYPES",
    "FORMATS",
    "HistoryWriter",
    "JsonlResult",
    "NEMESIS",
    "OP_TYPES",
    "detect_format",
    "encode_op",
    "pair_ops",
    "parse_edn",
    "parse_edn_forms",
    "read_edn_history",
    "read_history",
    "read_json_history",
    "read_jsonl",
    "read_jsonl_with_report",
    "read_porcupine_etcd",
    "read_porcupine_kv",
    "validate_op",
]
