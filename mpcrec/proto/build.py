"""Generate the gRPC/protobuf Python stubs for every ``.proto`` file in this folder.

Run by the Makefile after installing (``python -m mpcrec.proto.build``); the generated
``*_pb2.py`` / ``*_pb2_grpc.py`` files are not committed. Generator: ``grpcio-tools``.
"""

from __future__ import annotations

import sys
from pathlib import Path


def build(folder: Path | None = None) -> list[Path]:
    """Compile each ``.proto`` in ``folder`` and return the generated files."""
    from grpc_tools import protoc

    folder = folder or Path(__file__).resolve().parent
    root = folder.parent.parent
    made: list[Path] = []
    for proto in sorted(folder.glob("*.proto")):
        rel = proto.relative_to(root)
        args = [
            "protoc",
            f"-I{root}",
            f"--python_out={root}",
            f"--grpc_python_out={root}",
            str(rel),
        ]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {rel}")
        stem = proto.with_suffix("")
        made += [Path(f"{stem}_pb2.py"), Path(f"{stem}_pb2_grpc.py")]
    return made


if __name__ == "__main__":
    for path in build():
        print(path, file=sys.stderr)
