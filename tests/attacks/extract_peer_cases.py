"""Write ``peer_cases.py`` from the peers' repositories at the pinned commits (a dev tool).

Run once with git snapshots of picklescan and fickling at the commits in
``peers.PINS``::

    python tests/attacks/extract_peer_cases.py PICKLESCAN_GIT_DIR FICKLING_GIT_DIR

picklescan's committed test files (``tests/data*``) are disassembled with
``pickletools.genops`` (which reads opcodes, never runs them) into opcode
programs; a program our assembler does not rebuild byte for byte, and bytes
that are no pickle, are kept raw. fickling's ``Pickled([...])`` programs are read
from ``test/test_bypasses.py`` with ``ast`` (never imported); arguments that are
not literals there are left out with their case. Nothing of either is run.
"""

from __future__ import annotations

import ast
import io
import pickletools
import pprint
import re
import subprocess
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from attacks.peers import PINS, assemble

OUT = Path(__file__).with_name("peer_cases.py")
_SAFE_PICKLESCAN = ("benign0_v0.pkl", "benign0_v3.pkl", "benign0_v4.pkl", "new_pytorch_model.bin")
_ERROR_PICKLESCAN = ("not_a_pickle.bin", "bad_pytorch.pt", "broken_model.pkl")
_NAMES = {
    "TupleOne": "TUPLE1", "TupleTwo": "TUPLE2", "TupleThree": "TUPLE3", "Memoize": "MEMOIZE",
    "NoneOpcode": "NONE", "BinInt1": "BININT1", "BinInt2": "BININT2", "PopMark": "POP_MARK",
}  # fmt: skip


def git(repo: Path, *args: str) -> bytes:
    return subprocess.check_output(["git", "-C", str(repo), *args])


def segments(data: bytes) -> list[tuple[str, object]]:
    """The file as opcode programs, with raw bytes where it stops being a pickle."""
    out: list[tuple[str, object]] = []
    pos = 0
    while pos < len(data):
        stream = io.BytesIO(data[pos:])
        ops: list[tuple[str, object]] = []
        try:
            for op, arg, _ in pickletools.genops(stream):
                ops.append((op.name, arg))
                if op.name == "STOP":
                    break
            else:
                raise ValueError("no STOP")
        except Exception:
            return [*out, ("raw", data[pos:])]
        end = pos + stream.tell()
        if assemble(ops) != data[pos:end]:
            out.append(("raw", data[pos:end]))
        else:
            out.append(("pickle", ops))
        pos = end
    return out


def picklescan(repo: Path) -> list[tuple[str, str, str, tuple[object, ...]]]:
    names = git(repo, "ls-tree", "-r", "--name-only", "HEAD", "tests/data", "tests/data2")
    cases = []
    for path in names.decode().split():
        if not path.endswith((".pkl", ".pickle", ".bin", ".pt", ".zip")):
            continue
        data = git(repo, "show", f"HEAD:{path}")
        name = path.rsplit("/", 1)[1]
        if len(data) > 5000:
            continue  # a real model (pytorch_model.bin): nothing a payload
        verdict = (
            "safe"
            if name in _SAFE_PICKLESCAN
            else "error"
            if name in _ERROR_PICKLESCAN
            else "dangerous"
        )
        if data.startswith(b"PK"):
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    for info in archive.infolist():
                        if info.filename.endswith((".pkl", ".txt")):
                            member = tuple(segments(archive.read(info)))
                            cases.append((f"{name}:{info.filename}", path, verdict, member))
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError):
                continue  # encrypted or damaged on purpose: a zip test, not a payload
            continue
        cases.append((name, path, verdict, tuple(segments(data))))
    return cases


def _op_name(cls: str) -> str:
    return _NAMES.get(cls) or re.sub(r"(?<!^)(?=[A-Z])", "_", cls).upper().replace("BIN_", "BIN")


def fickling(repo: Path) -> list[tuple[str, str, str, tuple[object, ...]]]:
    path = "test/test_bypasses.py"
    tree = ast.parse(git(repo, "show", f"HEAD:{path}").decode())
    known = {op.name for op in pickletools.opcodes}
    cases = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef) or not fn.name.startswith("test_"):
            continue
        programs = [
            call.args[0]
            for call in ast.walk(fn)
            if isinstance(call, ast.Call)
            and getattr(call.func, "id", None) == "Pickled"
            and call.args
            and isinstance(call.args[0], ast.List)
        ]
        for number, program in enumerate(programs, start=1):
            ops = _program(program, known)
            if ops is None:
                continue
            safe = "not_flagged" in fn.name or "allowlist" in fn.name
            label = fn.name if len(programs) == 1 else f"{fn.name}#{number}"
            where = f"{path}#L{program.lineno}"
            cases.append((label, where, "safe" if safe else "dangerous", (("pickle", ops),)))
    return cases


def _program(node: ast.List, known: set[str]) -> list[tuple[str, object]] | None:
    ops: list[tuple[str, object]] = []
    for element in node.elts:
        if not isinstance(element, ast.Call):
            return None
        func = element.func
        if isinstance(func, ast.Attribute) and func.attr == "create":
            func = func.value
        if not isinstance(func, ast.Attribute):
            return None
        name = _op_name(func.attr)
        if name not in known:
            return None
        arg: object = None
        if element.args:
            try:
                values = [ast.literal_eval(a) for a in element.args]
            except ValueError:
                return None  # built at run time in the test: left out
            # Global.create("module", "name"): the pair GLOBAL's argument names.
            arg = " ".join(values) if len(values) == 2 else values[0]
        ops.append((name, arg))
    return ops


def main() -> None:
    picklescan_repo, fickling_repo = map(Path, sys.argv[1:3])
    for peer, repo in (("picklescan", picklescan_repo), ("fickling", fickling_repo)):
        have = git(repo, "rev-parse", "HEAD").decode().strip()
        if have != PINS[peer][1]:
            raise SystemExit(f"{peer} snapshot is at {have}, not the pinned {PINS[peer][1]}")
    kind = "list[tuple[str, str, str, tuple[object, ...]]]"
    lines = [
        '"""Opcode programs of the peers\' test material (written by extract_peer_cases.py)."""',
        "",
        "# ruff: noqa: E501",
        f"PICKLESCAN: {kind} = {pprint.pformat(picklescan(picklescan_repo), width=99)}",
        f"FICKLING: {kind} = {pprint.pformat(fickling(fickling_repo), width=99)}",
        "",
    ]
    OUT.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
