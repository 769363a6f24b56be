"""Instructions of bench/transitions.py's timed runs alone, under callgrind (issue 18): the
clock on a shared machine moves with others' load; instruction counts do not.

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python bench/callgrind_timed.py [SOURCE] -- --lifecycles 30 --rounds 1 \\
        --databases sqlite --only service,baseline
    callgrind_annotate /tmp/cg.out.1 | grep TOTALS     # one file per timed run, in run order

Setup, migrations, seeding and the warm-up run uninstrumented; each timed run is counted from
zero and dumped on its own (``.1``, ``.2``, … in the order the runs are made). SOURCE is the
checkout whose ``reflections`` and ``bench/transitions.py`` are measured (this one by default:
``git archive`` another commit into a folder to measure it beside). Needs a C compiler and
valgrind's headers (Debian: valgrind), for the three client requests it makes.
"""

import ctypes
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

_REQUESTS = """
#include <valgrind/callgrind.h>
void start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT("timed run"); }
"""


def _requests(folder: Path) -> ctypes.CDLL:
    source, library = folder / "requests.c", folder / "requests.so"
    source.write_text(_REQUESTS)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return ctypes.CDLL(str(library))


def main() -> None:
    split = sys.argv.index("--") if "--" in sys.argv else len(sys.argv)
    given = sys.argv[1:split]
    checkout = Path(given[0] if given else Path(__file__).resolve().parents[1]).resolve()
    sys.path.insert(0, str(checkout))
    spec = importlib.util.spec_from_file_location("transitions", checkout / "bench/transitions.py")
    assert spec is not None and spec.loader is not None
    transitions = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(transitions)
    timed = getattr(transitions, "timed")  # noqa: B009  (a module loaded from its file)
    with tempfile.TemporaryDirectory() as folder:
        requests = _requests(Path(folder))

        def counted(*args: object) -> tuple[float, float]:
            requests.start()
            try:
                return timed(*args)  # type: ignore[no-any-return]
            finally:
                requests.stop()

        setattr(transitions, "timed", counted)  # noqa: B010  (the runs call it by name)
        sys.argv = [str(checkout / "bench/transitions.py"), *sys.argv[split + 1 :]]
        transitions.main()


if __name__ == "__main__":
    main()
