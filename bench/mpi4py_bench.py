"""mpi4py_bench: the mpi4py.futures side of spawnpool's benchmarks, measured the same way and printed
in the same row format (`row name=... impl=mpi4py key=value ...`, see bench_util.hpp).

Runs with Debian's python3-mpi4py (built against Debian's Open MPI), never the pyenv python:
  spawn mode : /usr/bin/python3 bench/mpi4py_bench.py <kind> spawn <workers> <size> [extra]
               MPIPoolExecutor(max_workers=W) spawns its workers with MPI_Comm_spawn from a singleton.
  static mode: mpiexec.openmpi -n 2 /usr/bin/python3 -m mpi4py.futures bench/mpi4py_bench.py
               latency static 1 <size>          (rank 0 runs this script, rank 1 is the worker)

  kind     size            extra       what
  latency  round trips                 ex.submit(noop, i).result() one after the other: median, p99
  submit   tasks                       N x ex.submit(noop, i), then every result (unchunked)
  map      tasks           chunksize   list(ex.map(noop, range(N), chunksize=C))
  echo     MiB             reps        a float64 numpy array (array('d') without numpy) there and back
  startup  (ignored)                   MPIPoolExecutor() to the first result
  idle     seconds                     CPU of the idle manager, workers and orted over the window
  primes   N               pieces      seed 001's MPIpool.py: ex.map(calc_primes, subranges)
"""
import math
import os
import statistics
import sys
import time

# Open MPI as root, and more processes than cores, without the caller having to know.
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
os.environ.setdefault("OMPI_MCA_rmaps_base_oversubscribe", "1")

from mpi4py.futures import MPIPoolExecutor  # noqa: E402


def noop(x):
    return x


def echo(a):
    return a


def getpid(_):
    return os.getpid()


def calc_primes(range_tuple):
    """Calculate all the prime numbers in the given range (seed 001, verbatim)."""
    low, high = range_tuple
    if low <= 2 < high:
        primes = [2]
    else:
        primes = []
    start = max(3, low)  # Don't start below 3
    if start % 2 == 0:  # Make sure start is odd, i.e. skip evens
        start += 1
    for num in range(start, high, 2):  # increment by 2's, i.e. skip evens
        if all(num % i != 0 for i in range(3, int(math.sqrt(num)) + 1, 2)):
            primes.append(num)
    return primes


def determine_subranges(fullrange, num_subranges):
    subranges = []
    inc = max(1, fullrange[1] // num_subranges)
    for i in range(fullrange[0], fullrange[1], inc):
        subranges.append((i, min(i + inc, fullrange[1])))
    return subranges


def row(name, **fields):
    text = " ".join(f"{k}={v}" for k, v in fields.items())
    print(f"row name={name} impl=mpi4py {text}", flush=True)


def quantile(samples, q):
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


# ---- /proc -------------------------------------------------------------------------------------
def proc_table():
    """pid -> (ppid, comm, cpu seconds) for every process."""
    table = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                line = f.read()
        except OSError:
            continue
        comm = line[line.index("(") + 1:line.rindex(")")]
        fields = line[line.rindex(")") + 2:].split()
        table[int(entry)] = (int(fields[1]), comm, (int(fields[11]) + int(fields[12])) / tick)
    return table


def descendants(root, table):
    found, frontier = set(), {root}
    while frontier:
        children = {pid for pid, (ppid, _, _) in table.items() if ppid in frontier} - found
        found |= children
        frontier = children
    return found


# ---- benchmarks ----------------------------------------------------------------------------------
def executor(mode, workers):
    return MPIPoolExecutor() if mode == "static" else MPIPoolExecutor(max_workers=workers)


def latency(mode, workers, iterations):
    with executor(mode, workers) as ex:
        for i in range(200):
            ex.submit(noop, i).result()
        samples = []
        for i in range(iterations):
            t0 = time.perf_counter()
            if ex.submit(noop, i).result() != i:
                raise SystemExit("wrong result")
            samples.append((time.perf_counter() - t0) * 1e6)
    row(f"latency_{mode}", workers=workers, median_us=f"{quantile(samples, 0.5):.3f}",
        p99_us=f"{quantile(samples, 0.99):.3f}", iterations=iterations)


def submit(mode, workers, tasks):
    with executor(mode, workers) as ex:
        for f in [ex.submit(noop, i) for i in range(min(tasks, 500))]:
            f.result()
        t0 = time.perf_counter()
        futures = [ex.submit(noop, i) for i in range(tasks)]
        total = sum(f.result() for f in futures)
        elapsed = time.perf_counter() - t0
    assert total == tasks * (tasks - 1) // 2
    row("submit_throughput", workers=workers, tasks=tasks, tasks_per_s=f"{tasks / elapsed:.0f}")


def map_(mode, workers, tasks, chunk):
    with executor(mode, workers) as ex:
        list(ex.map(noop, range(2000), chunksize=chunk))
        t0 = time.perf_counter()
        total = sum(ex.map(noop, range(tasks), chunksize=chunk))
        elapsed = time.perf_counter() - t0
    assert total == tasks * (tasks - 1) // 2
    row("map_throughput", workers=workers, tasks=tasks, chunk=chunk,
        tasks_per_s=f"{tasks / elapsed:.0f}")


def echo_(mode, mib, reps):
    n = int(mib * (1 << 20)) // 8
    try:
        import numpy
        data, kind = numpy.full(n, 1.5), "numpy"
    except ImportError:
        from array import array
        data, kind = array("d", [1.5]) * n, "array"
    seconds = []
    with executor(mode, 1) as ex:
        for r in range(reps + 1):
            t0 = time.perf_counter()
            back = ex.submit(echo, data).result()
            if r > 0:
                seconds.append(time.perf_counter() - t0)
            assert len(back) == n and (n == 0 or back[n // 2] == 1.5)
    median = statistics.median(seconds)
    row("echo", workers=1, size_mib=f"{mib:g}", gib_per_s=f"{2 * mib / 1024 / median:.3f}",
        median_ms=f"{median * 1e3:.3f}", reps=reps, data=kind)


def startup(mode, workers):
    t0 = time.perf_counter()
    with executor(mode, workers) as ex:
        ex.submit(noop, 1).result()
        first = time.perf_counter() - t0
    row("startup", workers=workers, first_result_ms=f"{first * 1e3:.1f}")


def idle(mode, workers, seconds):
    me = os.getpid()
    with executor(mode, workers) as ex:
        ex.bootup(wait=True)
        list(ex.map(getpid, range(4 * workers)))
        time.sleep(1)
        before = proc_table()
        family = descendants(me, before) | {me}
        time.sleep(seconds)
        after = proc_table()
        pct = {pid: (after[pid][2] - before[pid][2]) / seconds * 100
               for pid in family if pid in after}
        python = [pid for pid in pct if before[pid][1].startswith("python")]
        launchers = [pid for pid in pct if pid not in python]
        total = sum(pct.values())
        manager = pct[me]
        worker_pcts = [pct[p] for p in python if p != me]
    row("idle_cpu", workers=len(worker_pcts), seconds=f"{seconds:.1f}", total_pct=f"{total:.2f}",
        manager_pct=f"{manager:.2f}",
        per_worker_pct=f"{sum(worker_pcts) / max(1, len(worker_pcts)):.2f}",
        max_process_pct=f"{max([manager] + worker_pcts):.2f}",
        launcher_pct=f"{sum(pct[p] for p in launchers):.2f}")


def primes(mode, workers, high, pieces):
    t0 = time.perf_counter()
    with executor(mode, workers) as ex:
        count = sum(len(p) for p in ex.map(calc_primes, determine_subranges((0, high), pieces)))
    row("primes", workers=workers, n=high, pieces=pieces, primes=count,
        seconds=f"{time.perf_counter() - t0:.3f}")


def main(argv):
    if len(argv) < 5:
        raise SystemExit(__doc__)
    kind, mode, workers, size = argv[1], argv[2], int(argv[3]), float(argv[4])
    extra = int(argv[5]) if len(argv) > 5 else 0
    if kind == "latency":
        latency(mode, workers, int(size))
    elif kind == "submit":
        submit(mode, workers, int(size))
    elif kind == "map":
        map_(mode, workers, int(size), extra or 1024)
    elif kind == "echo":
        echo_(mode, size, max(1, extra))
    elif kind == "startup":
        startup(mode, workers)
    elif kind == "idle":
        idle(mode, workers, size)
    elif kind == "primes":
        primes(mode, workers, int(size), max(1, extra))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
