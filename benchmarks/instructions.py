"""Translate the first N of 300 generated v1 orders one way, for counting instructions with callgrind.

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python benchmarks/instructions.py 100 bytes
    (and 300): instructions per order = (I(300) - I(100)) / 200

Ways: ``plain`` (json.loads + json.dumps), ``dict`` (jsonutil.loads, to_canonical,
from_canonical, jsonutil.dumps: the pipeline before the strict schema), ``bytes``
(``decode_record_bytes``, from_canonical, jsonutil.dumpb) and ``pages`` (the same
through ``iter_records`` from in-memory list pages of 100). Start-up and the
generation of all 300 orders are the same for every N, so the difference is the
translation alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import orderbridge as ob
from orderbridge import jsonutil

sys.path.insert(0, str(Path(__file__).parent))
from run import _PageTransport


def main() -> None:
    from orderbridge_webinone.generator import generate_documents

    n, way = int(sys.argv[1]), sys.argv[2]
    raw = [jsonutil.dumpb(doc) for doc in generate_documents(300, version="v1", seed=1)][:n]
    v1, v2 = ob.get_backend("webinone-v1"), ob.get_backend("webinone-v2")
    source = ob.connect("webinone-v1", base_url="https://bench.example.com", token="benchmark")
    lister = ob.connect("webinone-v1", transport=_PageTransport(raw))
    if way == "plain":
        for data in raw:
            json.dumps(json.loads(data))
    elif way == "dict":
        for data in raw:
            jsonutil.dumps(v2.from_canonical(v1.to_canonical(jsonutil.loads(data))))
    elif way == "bytes":
        for data in raw:
            jsonutil.dumpb(v2.from_canonical(source.decode_record_bytes(data)))  # type: ignore[arg-type]
    elif way == "pages":
        for record in lister.iter_records():
            jsonutil.dumpb(v2.from_canonical(record))  # type: ignore[arg-type]
    else:
        raise SystemExit(f"unknown way {way!r}: plain, dict, bytes or pages")


if __name__ == "__main__":
    main()
