"""The peers' test material (picklescan, modelscan, fickling): nothing they call dangerous passes.

Every case (``attacks/peers.py``) is read three ways: as the plain file, as
``archive/data.pkl`` of a torch zip and as the main pickle of a legacy file,
both of which ``torch.load`` runs. A case a peer calls dangerous must be refused
(an input error, exit 3) or flagged (a global neither safe nor known benign,
exit 1), never pass; every case ends in a manifest or a weightfit error; and a
child process watching Python's audit events proves none of them runs anything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import weightfit
from attacks import peers
from weightfit import security
from weightfit.errors import InputError

CASES = peers.all_cases()
WRAPPERS = ("plain", "zip", "legacy")


def outcome(path: Path) -> str:
    """``refused`` (a weightfit input error), ``flagged`` (exit 1) or ``passed`` (exit 0)."""
    try:
        manifest = weightfit.read(path)
    except InputError:
        return "refused"
    return "passed" if all(security.accepted(g) for g in manifest.globals) else "flagged"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_no_case_a_peer_calls_dangerous_passes(case: peers.Case, tmp_path: Path) -> None:
    for wrapper, path in peers.wrapped(case, tmp_path).items():
        result = outcome(path)
        if case.verdict == "dangerous":
            assert result != "passed", f"{case.source} as {wrapper} passed"


def test_the_corpus_covers_the_three_peers() -> None:
    counts = {peer: sum(c.peer == peer for c in CASES) for peer in peers.PINS}
    assert counts["picklescan"] >= 80
    assert counts["modelscan"] >= 25
    assert counts["fickling"] >= 20
    assert sum(c.verdict == "dangerous" for c in CASES) >= 130


def test_the_cli_exit_code_of_every_dangerous_case_is_not_0(tmp_path: Path, run_cli) -> None:
    for case in CASES:
        if case.verdict != "dangerous":
            continue
        path = peers.wrapped(case, tmp_path)["zip"]
        assert run_cli("inspect", path).code in (1, 3), case.source


_WATCH = """
import json, sys
from pathlib import Path
import weightfit, weightfit.formats
from weightfit.errors import InputError
for name in (*weightfit.formats.FILE_FORMATS, *weightfit.formats.FOLDER_FORMATS):
    __import__("weightfit.formats." + name)
for codec in ("cp437", "raw_unicode_escape", "unicode_escape", "latin_1", "ascii", "utf_8"):
    __import__("encodings." + codec)  # imported lazily by zipfile and the VM otherwise
WATCHED = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
           "subprocess.Popen", "exec", "compile", "socket.connect", "socket.bind",
           "ctypes.dlopen", "webbrowser.open", "pty.spawn", "shutil.rmtree", "os.remove")
seen = []
def hook(event, args):
    writes = event == "open" and len(args) > 1 and args[1] not in (None, "r", "rb")
    if event.startswith(WATCHED) or writes:
        seen.append(event)
sys.addaudithook(hook)
for path in sys.argv[1:]:
    try:
        weightfit.read(path)
    except InputError:
        pass
print(json.dumps(seen))
"""


def test_nothing_runs_while_the_corpus_is_read(tmp_path: Path) -> None:
    # Python's audit hooks see every process start, exec/compile, socket and write.
    paths = [str(p) for case in CASES for p in peers.wrapped(case, tmp_path).values()]
    src = Path(__file__).resolve().parents[1] / "src"
    result = subprocess.run(
        [sys.executable, "-c", _WATCH, *paths],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
    )
    assert json.loads(result.stdout) == []
