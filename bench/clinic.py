"""One clinic on one PostgreSQL server: stations writing at once while the dashboard is open,
and the server stopped for a while in the middle.

    python bench/clinic.py [--seconds 120] [--sim-stations 5] [--replay-stations 15]
                           [--outage 10] [--recording FILE]

Starts its own server (the system's initdb and pg_ctl, in a temporary folder), the dashboard
(``main.py dashboard``) with a signed-in event-stream client, and the stations: headless
sessions on the machine simulator (``main.py --device sim:lumbar_extension``) and on a Kinect
landmark recording played at its own speed, again and again, each play a stored session (a
worker of this file, like a kiosk's demo loop). Half-way it stops the server (``pg_ctl stop
-m fast``) for ``--outage`` seconds and starts it again.

Prints: reps the sessions finished against reps stored (lost, duplicated), sessions, status
events the dashboard received and their publish-to-receipt latency (p50 / p95 / max), and
what the outage cost. Exits 1 when a rep was lost or duplicated or the p95 is 1 s or more.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RECORDING = ROOT.parent / "shared/testdata/kimore_leowei31/JointPositionExercise5.csv"
THERAPIST, PASSWORD = "bench", "clinic bench password"


# -- the server ---------------------------------------------------------------------------
class Server:
    def __init__(self, root: Path) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not bins:
            sys.exit("bench/clinic.py: no PostgreSQL server binaries (apt-get install postgresql)")
        self.bin = bins[-1].parent
        self.root, self.data = root, root / "data"
        self.as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(root, "nobody", "nogroup")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]

    def _run(self, *argv: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / argv[0]), *argv[1:]], check=True,
                       capture_output=True, cwd=self.root)  # fmt: skip

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-instructions")  # fmt: skip

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o",
                  f"-k {self.root} -p {self.port} -c listen_addresses=127.0.0.1 "
                  "-c max_connections=200", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, db: str = "clinic") -> str:
        return f"postgresql://postgres@/{db}?host={self.root}&port={self.port}"


# -- a replay station (a worker process of this file) -------------------------------------
def replay_worker(a: argparse.Namespace) -> int:
    """Plays the recording at its own speed until ``--seconds`` is up, each play a stored
    session; prints one JSON line: reps finished per session."""
    from app.inputs import choose_input, peek_replay
    from app.loop import Runner, RunOptions
    from exercises.library import get_exercise
    from session.events import HoldDone, RepDone
    from storage import EndReason, StorageError, open_store

    store = open_store(a.db)
    choice = choose_input(a.source)
    opts = RunOptions(choice=choice, exercise=get_exercise("squat"), headless=False,
                      store=store, patient=a.patient, station=a.station)  # fmt: skip
    runner = Runner(opts, replay=peek_replay(choice, "front"))
    finished: dict[str, int] = {}
    waited = 0

    def count(ev) -> None:
        if isinstance(ev, RepDone | HoldDone):
            key = str(runner.sink.writer.session_id) if runner.sink is not None else "unstored"
            finished[key] = finished.get(key, 0) + 1

    runner.printer = count
    end = time.monotonic() + a.seconds
    runner.opts.seconds = end - runner.stats.started  # the loop's own limit: the same end
    while True:
        runner._run_loop(progress=False)
        runner.printer = count
        if time.monotonic() >= end:
            break
        # A kiosk's next patient: a session starts stored only while the server answers
        # (docs/storage.md), so the next play waits for it as a kiosk's next patient would.
        while time.monotonic() < end:
            try:
                store.list_patients()
                break
            except StorageError:
                waited += 1
                time.sleep(0.5)
        runner.restart()
        runner.printer = count
    runner.close()
    # Writes that waited in the journal: give them the time a kiosk would have.
    deadline = time.monotonic() + 60
    while runner.sink is not None and not runner.sink.writer.write_status().ok:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    runner.finish_storage(EndReason.TIME_LIMIT)
    store.close()
    print(json.dumps({"station": a.station, "finished": finished, "waited_restarts": waited}))
    return 0


# -- the dashboard's event stream ----------------------------------------------------------
class StreamClient(threading.Thread):
    """Signs in and reads /events; keeps (receipt - publish) for every change it hears."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        u = urlsplit(base)
        self.host, self.port, self.base = u.hostname, u.port, base
        self.latencies: list[float] = []
        self.events = 0
        self.connects = 0
        self.stop = threading.Event()

    def _req(self, method: str, path: str, cookies: dict, form: dict | None = None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers |= {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.base}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read().decode()
        for h in resp.headers.get_all("Set-Cookie") or []:
            k, v = h.split(";")[0].split("=", 1)
            cookies[k] = v
        return resp, data

    def run(self) -> None:
        cookies: dict[str, str] = {}
        _, page = self._req("GET", "/login", cookies)
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        self._req("POST", "/login", cookies, {"csrf": token, "name": THERAPIST,
                                                "password": PASSWORD})  # fmt: skip
        while not self.stop.is_set():
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                conn.request("GET", "/events",
                             headers={"Cookie": f"sc_session={cookies['sc_session']}"})  # fmt: skip
                resp = conn.getresponse()
                self.connects += 1
                while not self.stop.is_set():
                    line = resp.fp.readline()
                    if not line:
                        break
                    if line.startswith(b"data: "):
                        now = time.time()
                        ev = json.loads(line[6:])
                        self.events += 1
                        if ev["type"] == "change":
                            self.latencies += [now - s["published_unix"] for s in ev["stations"]]
                conn.close()
            except OSError:
                time.sleep(0.5)


# -- the run ---------------------------------------------------------------------------------
def _count_stored(url: str) -> dict[int, int]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT s.session_id, count(*) FROM reps r JOIN sets s ON s.id = r.set_id "
            "GROUP BY s.session_id"
        ).fetchall()
    return {int(sid): int(n) for sid, n in rows}


def _wait_all_up(url: str, n: int, timeout_s: float) -> int:
    """Waits until ``n`` stations publish a stored session; returns how many did."""
    import psycopg

    end, up = time.monotonic() + timeout_s, 0
    while time.monotonic() < end:
        with psycopg.connect(url) as conn:
            up = conn.execute(
                "SELECT count(*) FROM station_status WHERE session_id IS NOT NULL"
            ).fetchone()[0]
        if up >= n:
            break
        time.sleep(0.5)
    return up


def run(a: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="spinecoach-clinic-"))
    server = Server(tmp)
    server.init()
    server.start()
    py = [sys.executable, str(ROOT / "main.py")]
    procs: list[tuple[str, subprocess.Popen, Path]] = []
    dash = None
    try:
        subprocess.run([*server.as_user, str(server.bin / "createdb"), "-h", str(tmp), "-p",
                        str(server.port), "-U", "postgres", "clinic"], check=True)  # fmt: skip
        url = server.url()
        env0 = {**os.environ, "XDG_DATA_HOME": str(tmp / "office")}
        subprocess.run([*py, "therapist", "add", THERAPIST, "--db", url, "--password-stdin"],
                       input=PASSWORD + "\n", text=True, env=env0, check=True,
                       capture_output=True)  # fmt: skip
        dash = subprocess.Popen(
            [*py, "dashboard", "--db", url, "--port", "0"],
            env=env0, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        base = dash.stdout.readline().split()[2].rstrip("/")
        client = StreamClient(base)
        client.start()

        n = a.sim_stations + a.replay_stations
        for i in range(n):
            station, patient = f"S{i + 1:02d}", f"BENCH-{i + 1:02d}"
            env = {**os.environ, "XDG_DATA_HOME": str(tmp / station)}
            out = tmp / f"{station}.out"
            if i < a.sim_stations:
                cmd = [*py, "--exercise", "lumbar_extension", "--device", "sim:lumbar_extension",
                       "--headless", "--verbose", "--db", url, "--patient", patient,
                       "--station", station, "--seconds", str(a.seconds)]  # fmt: skip
            else:
                cmd = [sys.executable, __file__, "--worker", "--db", url, "--patient", patient,
                       "--station", station, "--source", str(a.recording),
                       "--seconds", str(a.seconds)]  # fmt: skip
            with open(out, "w") as f:
                procs.append((station, subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                                        env=env), out))  # fmt: skip
        # The clock starts when every station runs a stored session: on a loaded machine the
        # start-up of twenty processes can take longer than half the run.
        launched = time.monotonic()
        up = _wait_all_up(url, n, timeout_s=300.0)
        started = time.monotonic()
        startup_s = started - launched
        load0 = os.getloadavg()[0]
        time.sleep(max(0.0, a.seconds / 2 - a.outage / 2 - startup_s / 2))
        events_before = client.events
        t_stop = time.monotonic()
        server.stop("fast")
        time.sleep(a.outage)
        server.start()
        outage_s = time.monotonic() - t_stop
        events_during = client.events - events_before
        load_mid = os.getloadavg()[0]
        for _, p, _ in procs:
            p.wait(timeout=a.seconds + 300)
        wall = time.monotonic() - started
        time.sleep(1.0)
        client.stop.set()

        finished: dict[int, int] = {}
        unstored = waited = journaled = journaling = 0
        for station, _p, out in procs:
            text = out.read_text()
            later = [int(x) for x in re.findall(r"(\d+) waiting write\(s\) are stored", text)]
            journaled += sum(later)
            journaling += bool(later)
            if station <= f"S{a.sim_stations:02d}":
                reps = len(re.findall(r"^(?:rep|partial) \d+ ", text, re.M))
                import psycopg

                with psycopg.connect(url) as conn:
                    sid = conn.execute(
                        "SELECT s.id FROM sessions s JOIN patients p ON p.id = s.patient_id "
                        "WHERE p.code = %s", (f"BENCH-{station[1:]}",)).fetchall()  # fmt: skip
                if len(sid) == 1:
                    finished[int(sid[0][0])] = reps
                else:
                    print(f"{station}: {len(sid)} sessions stored; expected 1\n{text[-800:]}")
            else:
                line = [ln for ln in text.splitlines() if ln.startswith('{"station"')]
                if not line:
                    print(f"{station}: worker failed\n{text[-1500:]}")
                    continue
                res = json.loads(line[-1])
                unstored += res["finished"].pop("unstored", 0)
                waited += res["waited_restarts"]
                finished |= {int(k): v for k, v in res["finished"].items()}
        stored = _count_stored(url)
        lost = sum(max(0, finished.get(s, 0) - stored.get(s, 0)) for s in finished)
        dup = sum(max(0, stored.get(s, 0) - finished.get(s, 0)) for s in stored)
        lat = np.array(client.latencies)
        p50, p95, pmax = (np.percentile(lat, q) * 1000 for q in (50, 95, 100)) if lat.size else (
            np.nan, np.nan, np.nan)  # fmt: skip
        print(f"stations               {n} ({a.sim_stations} machine simulator, "
              f"{a.replay_stations} Kinect recording {a.recording.name})")  # fmt: skip
        print(f"start-up               {up} of {n} stations running a stored session after "
              f"{startup_s:.0f} s")  # fmt: skip
        print(
            f"run                    {a.seconds:g} s asked, {wall:.0f} s from all up until the "
            f"last station ended; load average {load0:.1f} when all were up, {load_mid:.1f} "
            "after the outage"
        )
        print(
            f"outage                 server stopped {outage_s:.1f} s (pg_ctl stop -m fast, start)"
        )
        print(
            f"sessions stored        {len(stored)} with reps; {len(finished)} finished by stations"
        )
        print(f"reps finished/stored   {sum(finished.values())} / {sum(stored.values())}")
        print(f"reps lost / duplicated {lost} / {dup}")
        print(f"reps not stored        {unstored} (sessions started while the server was down)")
        print(f"writes via the journal {journaled} waited out the outage on {journaling} "
              "station(s) and went in after it")  # fmt: skip
        print(f"next plays that waited {waited} half-second waits for the server")
        print(
            f"status events heard    {client.events} ({events_during} during the outage), "
            f"{lat.size} changes; stream reconnects {client.connects - 1}"
        )
        print(f"status to screen       p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {pmax:.0f} ms")
        ok = lost == 0 and dup == 0 and unstored == 0 and p95 < 1000
        print("goals                  " + ("met" if ok else "NOT met"))
        return 0 if ok else 1
    finally:
        for _, p, _ in procs:
            if p.poll() is None:
                p.kill()
        if dash is not None:
            dash.terminate()
            dash.wait(10)
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop("immediate")
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--sim-stations", type=int, default=5)
    ap.add_argument("--replay-stations", type=int, default=15)
    ap.add_argument("--outage", type=float, default=10.0)
    ap.add_argument("--recording", type=Path, default=RECORDING)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for name in ("--db", "--patient", "--station", "--source"):
        ap.add_argument(name, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    return replay_worker(a) if a.worker else run(a)


if __name__ == "__main__":
    sys.exit(main())
