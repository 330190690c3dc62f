"""The per-frame loop: poses and machine samples in, session engine, screen and recorder out.

Stage order every display frame: inputs (pose results, machine samples, safety events) ->
engine -> snapshot -> screen update, events, draw -> recording. Headless runs the same loop
without the screen, as fast as the pose stream allows (or paced when a machine is attached,
so both clocks agree).
"""

from __future__ import annotations

import logging
import math
import statistics
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from app.inputs import InputChoice, open_stream
from app.outputs import create_private
from app.progress import ProgressLine
from app.session_replay import replay_session
from app.storage_sink import StorageSink, profile_from_store
from app.streams import PoseResult, PoseStream, ReplayPoseStream
from exercises.schema import ExerciseDef
from recording.events import input_record, machine_frame, output_record
from recording.format import RecordingWriter
from recording.replay import is_full_session
from session.engine import SessionConfig, SessionEngine
from session.events import (
    Command,
    CommandInput,
    EndInput,
    MachineBatch,
    PoseInput,
    RepDone,
    SafetyKind,
    SafetyReport,
    SessionEvent,
    SessionInput,
    TargetChange,
    TargetKey,
)
from session.phases import Phase, Trigger
from session.snapshot import Snapshot, SourceState, SourceStatus
from session.targets import PatientProfile
from storage import EndReason, StorageError
from vision.replay import PoseReplay

DISPLAY_FPS = 60.0
# A machine answers the hello within a fraction of a second; the simulator is already running
# when it is handed over, but shares the processor with everything else.
HANDSHAKE_S = 5.0
SIM_HANDSHAKE_S = 20.0
log = logging.getLogger(__name__)
_NO_SAMPLES = frozenset({"not_responding", "faulty", "reconnecting"})
_MACHINE_STATES = {
    "ok": SourceState.OK,
    "connecting": SourceState.RECONNECTING,
    "reconnecting": SourceState.RECONNECTING,
    "not_responding": SourceState.LOST,
    "closed": SourceState.LOST,
}
# Who ended a session, as the screens' EndSession intent says it.
_ENDED_BY = {"therapist": EndReason.STOPPED_BY_THERAPIST, "idle": EndReason.STOPPED_BY_PATIENT}


@dataclass
class RunOptions:
    choice: InputChoice
    exercise: ExerciseDef
    headless: bool = False
    max_frames: int | None = None
    seconds: float | None = None
    device: str | None = None
    simulator_args: tuple[str, ...] = ()
    profile: PatientProfile | None = None
    record: Path | None = None
    record_video: Path | None = None
    kiosk: bool = False
    lang: str = "en"
    mute: bool = False
    loop_replay: bool = False
    store: object | None = None  # storage.Store for --db (and the kiosk)
    calibration: Path | None = None  # the machines' calibration file (None: the default one)
    split_video: bool = True  # a headless analysis may run a pose model per core
    patient: str = ""
    station: str = ""  # --station: publish the live status under this name ("" none)
    # The kiosk offers this exercise to a patient without a programme (--exercise was given);
    # without it such a patient is told there is no programme and offered nothing.
    station_exercise: bool = True


# Timing figures keep the most recent values only: a kiosk runs for weeks, and a median of the
# last minutes says what the machine does now.
STATS_WINDOW = 2048


def _recent() -> deque[float]:
    return deque(maxlen=STATS_WINDOW)


@dataclass
class RunStats:
    started: float = field(default_factory=time.monotonic)
    poses: int = 0
    latencies_s: deque[float] = field(default_factory=_recent)
    inference_s: deque[float] = field(default_factory=_recent)
    ui_frames: int = 0
    ui_frame_s: deque[float] = field(default_factory=_recent)
    device_samples: int = 0


class Runner:
    """Owns the sources, the engine and (optionally) the screen for one session."""

    def __init__(self, opts: RunOptions, replay: PoseReplay | None = None) -> None:
        self.stream: PoseStream | None = None
        self.bridge = None
        self.recorder: RecordingWriter | None = None
        self.video_out = None
        self.publisher = None  # app.station_publisher.StationPublisher with --station
        try:
            self._open(opts, replay)
        except BaseException:
            self._release()  # a source opened before the failure must not be left running
            raise

    def _release(self) -> None:
        for thing in (self.stream, self.bridge, self.recorder, self.video_out, self.publisher):
            if thing is not None:
                thing.close()

    def _open(self, opts: RunOptions, replay: PoseReplay | None) -> None:
        self.opts = opts
        live = opts.choice.kind == "camera"
        paced = (not opts.headless) or opts.device is not None
        self.open_ended = opts.choice.kind in ("video", "replay") and opts.device is None
        config = SessionConfig(
            setup_s=0.0 if self.open_ended else 1.0,
            countdown_s=0.0 if self.open_ended else 3.0,
            open_ended=self.open_ended,
            lang=opts.lang,
        )
        self.replay = replay
        if replay is not None and "session" in replay.header:
            # Replaying a recorded session: the phases it had (set-up, countdown, sets).
            config = replace(config, **replay.header["session"])
        self._config = config
        self.engine = SessionEngine(opts.exercise, opts.profile, config)
        # A headless analysis that keeps no frame may run a pose model per core.
        split = opts.split_video and opts.headless and not paced and opts.record_video is None
        self.stream = open_stream(
            opts.choice, lossless=opts.headless and not live, paced=paced, replay=replay,
            split=split,
        )  # fmt: skip
        if opts.device:
            from calibration import CalibrationStore
            from device_bridge import open_device
            from device_bridge.factory import AUTO_FALLBACK_MODEL

            # The machine's zero and scale, by its serial number, from the one calibration
            # file (``python -m device_bridge calibration``); none stored: as the machine says.
            self.bridge = open_device(
                opts.device,
                limits=self._limits(),
                simulator_args=opts.simulator_args,
                calibration_store=CalibrationStore(opts.calibration),
                # ``auto`` with no machine on any port: the simulator of this exercise's.
                fallback_model=opts.exercise.machine or AUTO_FALLBACK_MODEL,
            )
            self.bridge.start()
            if not opts.kiosk:  # the kiosk shows the machine's state and waits for it
                self._await_handshake()
        self.t0 = time.monotonic()
        self.stats = RunStats(started=self.t0)
        self._machine_quiet = False  # the machine's samples stopped, and that was said
        if opts.record:
            self.recorder = RecordingWriter(
                opts.record,
                {
                    "fps": self.stream.fps if self.stream else 0.0,
                    "aspect": self.stream.aspect if self.stream else math.nan,
                    "exercise": opts.exercise.id,
                    "source": opts.choice.spec,
                    "session": {
                        "setup_s": config.setup_s,
                        "countdown_s": config.countdown_s,
                        "open_ended": config.open_ended,
                    },
                },
            )
        if opts.record_video:
            from vision.video_out import OverlayVideoWriter

            create_private(opts.record_video)  # patient images: owner-only from the start
            self.video_out = OverlayVideoWriter(
                opts.record_video, self.stream.fps if self.stream else 30.0
            )
        self._last_frame: np.ndarray | None = None
        if self.stream is not None and math.isfinite(self.stream.aspect):
            self.engine.set_aspect(self.stream.aspect)
        self._end_phase = ""
        self.printer = None  # called with every event (the --verbose rep lines)
        # The latest events for the screens and the audio; bounded, a headless run never
        # takes them.
        self.recent_events: deque[SessionEvent] = deque(maxlen=512)
        self.sink: StorageSink | None = None
        # An assessment run at this station (app.kiosk_visit): it takes the poses and machine
        # samples while it runs; no session is analysed or stored meanwhile.
        self.tap = None
        self.storage_problem: SourceStatus | None = None
        self.source_ended = False  # a whole recorded session was replayed to its end
        self.engine.patient_code = opts.patient
        # A kiosk with nobody signed in runs no session: poses are drained, never analysed.
        self.waiting = opts.kiosk and not opts.patient
        if opts.store is not None and opts.patient:
            self.sink = StorageSink.begin(opts.store, opts.patient, self.engine, opts.choice.spec)
        self.pain_flag: bool | None = None  # None: pain not asked at this station
        self.visit_patient = ""  # the patient whose kiosk visit runs (app.kiosk_visit)
        if opts.store is not None and opts.station:
            from app.station_publisher import StationPublisher

            self.publisher = StationPublisher(opts.store.status_link(), opts.station)

    # -- one frame ---------------------------------------------------------------------------

    def clock(self) -> float:
        return time.monotonic() - self.t0

    def pump(self, wait_s: float = 0.0) -> list[PoseResult]:
        """Feed the engine everything that arrived; returns the pose results fed."""
        results = self.stream.poll(wait_s) if self.stream else []
        if not self.stream and wait_s:
            time.sleep(wait_s)
        self._pump_machine()
        if self.tap is not None:  # an assessment reads the inputs, not the session engine
            for r in results:
                t = r.captured_at - self.t0 if self.stream.live else r.media_time
                self.tap.feed_pose(t, r.pose)
            return []
        if self.waiting:
            return []
        for r in results:
            # A camera's poses go on the session clock; files keep their own media time.
            t = r.captured_at - self.t0 if self.stream.live else r.media_time
            self.feed(PoseInput(t, r.pose))
            self.stats.poses += 1
            if math.isfinite(r.inference_s):
                self.stats.inference_s.append(r.inference_s)
            self.stats.latencies_s.append(r.done_at - r.captured_at)
            if r.image is not None:
                self._last_frame = r.image
                if self.video_out is not None:
                    self._write_video(r)
            if self.opts.max_frames and self.stats.poses >= self.opts.max_frames:
                break
        self.dispatch()
        return results

    def _write_video(self, r: PoseResult) -> None:
        eng = self.engine
        label, value = eng.exercise.signal.label, eng.signal
        text = f"{eng.exercise.name}  reps {eng.rep_count}  {label} {value:.0f} deg"
        self.video_out.write(r.image, eng.landmarks, eng.segment_status(), text)

    def _pump_machine(self) -> None:
        if self.bridge is None:
            return
        if self.tap is not None:
            self._tap_machine()
            return
        eng = self.engine
        samples = self.bridge.drain()
        self._say_when_samples_stop()
        if eng.exercise.signal.source == "machine" and eng.phases.phase == Phase.WORKING:
            # No samples means no load check: a set cannot go on without the machine. The
            # bridge says so (faulty, lost, heartbeats only) and so does the engine, which
            # has had no sample for MACHINE_LOST_S (judged only when none is waiting).
            silent = not samples and eng.machine_silent(self.clock())
            if self.bridge.status().state != "ok" or silent:
                self.safety(self.clock(), SafetyKind.MACHINE_LOST, math.nan, math.nan)
        for ev in self.bridge.safety_events():
            self.safety(ev.host_time_s - self.t0, SafetyKind.named(ev.kind), ev.value, ev.limit)
        if not samples:
            return
        self.stats.device_samples += len(samples)
        from device_bridge.samples import sample_arrays  # with a machine only: no import at start

        ts, angles, forces = sample_arrays(samples, self.t0)
        if self.recorder:
            for s, t in zip(samples, ts, strict=True):
                self.recorder.device(t, s.seq, s.device_time_s, s.angle_deg, s.force_n)
        self.feed(MachineBatch(ts, angles, forces))

    def _say_when_samples_stop(self) -> None:
        """One line on stderr when the machine's samples stop (or never start), again only
        after they came back: the screen shows it, a console or a log must too."""
        st = self.bridge.status()
        quiet = st.state in _NO_SAMPLES
        if quiet and not self._machine_quiet:
            message = " ".join(st.message.split())
            print(f"main.py: warning: the machine sends no samples: {message}", file=sys.stderr)
        self._machine_quiet = quiet

    def _tap_machine(self) -> None:
        """An assessment takes the machine's samples and the bridge's own safety reports."""
        for ev in self.bridge.safety_events():
            self.tap.safety(ev.host_time_s - self.t0, f"machine {ev.kind}: {ev.value:.0f}")
        from device_bridge.samples import sample_arrays

        samples = self.bridge.drain()
        if samples:
            self.tap.feed_machine(*sample_arrays(samples, self.t0))

    def feed(self, inp: SessionInput) -> None:
        """One input to the engine, recorded first (a replay feeds the same inputs in the
        same order)."""
        if self.recorder:
            if isinstance(inp, PoseInput):
                self.recorder.pose(inp.t, inp.pose)
            elif isinstance(inp, MachineBatch):
                # The batch boundary, so a replay feeds the engine the same display frames.
                self.recorder.event(inp.t, machine_frame(inp.ts.shape[0]))
            else:
                self.recorder.event(inp.t, input_record(inp))
        self.engine.feed(inp)

    def safety(self, t: float, kind: SafetyKind, value: float, limit: float) -> None:
        """A safety report from outside the engine (the bridge, a lost link)."""
        self.feed(SafetyReport(t, kind, value, limit))

    def command(self, command: Command | str) -> bool:
        """A patient's or therapist's command; returns whether the session took it."""
        command = Command(command)
        t = self.clock() if not self.open_ended else self.engine.now
        taken = self.engine.accepts(command)
        if taken:
            self.feed(CommandInput(t, command))
        return taken

    def adjust(self, key: TargetKey | str, delta: float) -> None:
        """A therapist's live target change."""
        t = self.clock() if not self.open_ended else self.engine.now
        self.feed(TargetChange(t, TargetKey(key), delta))

    def dispatch(self) -> list[SessionEvent]:
        """Hand the engine's new events, in order, to storage, the recording and the
        printer; returns them (the screens and the audio take them too)."""
        events = self.engine.take_events()
        if not events:
            return events
        for ev in events:
            if self.sink is not None:
                self.sink.on_event(ev)
            if self.recorder:
                rec = output_record(ev)
                if rec is not None:
                    self.recorder.event(ev.t, rec)
            if self.printer is not None:
                self.printer(ev)
        if self.sink is not None:
            self.sink.keep_traces()
        if self.recorder and any(isinstance(ev, RepDone) for ev in events):
            self.recorder.flush()
        self.recent_events.extend(events)
        return events

    def _await_handshake(self) -> None:
        """A port with no machine behind it, a machine of another model than the exercise's,
        or (for a machine exercise) one that says hello but sends no samples is refused now,
        not run as a session that gets no samples and says nothing."""
        from device_bridge import DeviceError, DeviceNotFound

        bridge, spec = self.bridge, self.opts.device or ""
        sim = bridge.simulator is not None  # sim:MODEL, or the fallback of auto
        limit = SIM_HANDSHAKE_S if sim else HANDSHAKE_S
        end = time.monotonic() + limit
        while bridge.hello is None and time.monotonic() < end:
            if bridge.status().state == "faulty":  # a refused hello or calibration: final
                raise DeviceError(f"{spec}: {bridge.status().message}")
            time.sleep(0.02)
        hello = bridge.hello
        if hello is None:
            raise DeviceNotFound(
                spec, f"no hello from a machine within {limit:g} s ({bridge.status().message})"
            )
        ex = self.opts.exercise
        if ex.machine and hello.model != ex.machine:
            raise DeviceError(
                f"{spec}: this is a {hello.model} machine (serial {hello.serial}); the exercise "
                f"{ex.id} needs the {ex.machine} machine"
            )
        if ex.signal.source != "machine":
            return
        # The hello is not enough: a set's load is checked on samples, so none, no set.
        end = time.monotonic() + limit
        while bridge.status().samples == 0 and time.monotonic() < end:
            time.sleep(0.02)
        if bridge.status().samples == 0:
            raise DeviceError(
                f"{spec}: the {hello.model} machine (serial {hello.serial}) said hello but sent "
                f"no samples within {limit:g} s; a machine set cannot start without them "
                f"({bridge.status().message})"
            )

    def _limits(self):
        """This patient's load limit for the machine's own check (and its firmware)."""
        from device_bridge import SafetyLimits

        tg = self.engine.targets
        return SafetyLimits(max_force_n=tg.load_limit_n) if math.isfinite(tg.load_limit_n) else None

    def _send_limits(self) -> None:
        if self.bridge is None:
            return
        # The machine acknowledges within half a second; the display must not wait for it.
        threading.Thread(target=self._set_limits_quietly, daemon=True).start()

    def _set_limits_quietly(self) -> None:
        from device_bridge import DeviceError

        try:
            self.bridge.set_limits(self._limits())
        except DeviceError as exc:  # the engine's own per-sample check still applies
            log.warning("machine did not take the new limits: %s", exc)

    def new_session(
        self,
        patient: str,
        *,
        exercise: ExerciseDef | None = None,
        profile: PatientProfile | None = None,
        programme_item_id: int | None = None,
    ) -> None:
        """The kiosk's next patient: a fresh engine and, with storage, a new stored session.
        An empty ``patient`` (the kiosk back at its welcome screen, or between the items of a
        visit) stores nothing and keeps nothing of the last session. ``exercise`` and
        ``profile``: a programme item's dose and targets (``clinic.dose.session_plan``)
        instead of the exercise named on the command line and the stored assessment."""
        self.finish_storage()
        exercise = exercise or self.opts.exercise
        if profile is None:
            profile = self.opts.profile
            if self.opts.store is not None and patient:
                profile = profile_from_store(self.opts.store, patient, exercise)
        self.engine = SessionEngine(exercise, profile, self._config)
        if self.stream is not None and math.isfinite(self.stream.aspect):
            self.engine.set_aspect(self.stream.aspect)
        self.engine.patient_code = patient
        self.waiting = self.opts.kiosk and not patient
        self._last_frame = None  # the last patient's camera image must not reach the next
        self._send_limits()
        self.t0 = time.monotonic()
        self.recent_events.clear()
        self.storage_problem = None
        if self.opts.store is not None and patient:
            try:
                self.sink = StorageSink.begin(
                    self.opts.store, patient, self.engine, self.opts.choice.spec,
                    programme_item_id=programme_item_id,
                )  # fmt: skip
            except StorageError as exc:
                # The kiosk goes on, and says on screen and console that this is not stored.
                log.error("session not stored: %s", exc)
                self.storage_problem = SourceStatus("storage", "lost", message="not recording")

    def machine_model(self) -> str | None:
        """The model of the machine at this station: the simulator's, or the one that said
        hello; None without a machine (or before it answers)."""
        if self.opts.device and self.opts.device.startswith("sim:"):
            return self.opts.device[4:]
        hello = self.bridge.hello if self.bridge is not None else None
        return hello.model if hello is not None else None

    def finish_storage(self, reason: EndReason | None = None, *, ended_by: str = "") -> None:
        """End the stored session with the true reason: ``reason`` if given (a crash), else
        what the session shows (a safety stop, the dose done), else who ended it
        (``ended_by``: the screen's "therapist" or "idle"), else what the runner saw."""
        if self.sink is None:
            return
        if reason is None:
            reason = self.end_reason(ended_by)
        sink, self.sink = self.sink, None
        sink.finish(reason)

    def end_reason(self, ended_by: str = "") -> EndReason:
        eng = self.engine
        done = next((tr for tr in eng.phases.log if tr.target == Phase.DONE), None)
        last_phase = done.source if done is not None else eng.phases.phase
        if last_phase == Phase.STOPPED:
            return EndReason.SAFETY_STOP
        if done is not None and done.trigger == Trigger.LAST_SET_COMPLETE:
            return EndReason.COMPLETED
        if ended_by:
            return _ENDED_BY.get(ended_by, EndReason.STOPPED_BY_PATIENT)
        if self.limit_reached:
            return EndReason.TIME_LIMIT
        if self.source_ended or (self.stream is not None and self.stream.exhausted):
            return EndReason.END_OF_SOURCE
        # Nothing in the session ended it: the window was closed or the console interrupted.
        return EndReason.STOPPED_BY_THERAPIST

    def status(self) -> tuple[SourceStatus, SourceStatus | None]:
        cam = SourceStatus("camera", SourceState.OFF)
        if self.stream is not None:
            kind = self.opts.choice.kind
            state = SourceState.REPLAY if kind == "replay" else SourceState.OK
            msg = ""
            if self.stream.error is not None:
                state, msg = SourceState.LOST, str(self.stream.error)
            cam = SourceStatus("camera", state, self.pose_fps(), self.stream.dropped, 0, msg)
        machine = None
        if self.bridge is not None:
            st = self.bridge.status()
            state = _MACHINE_STATES.get(st.state, SourceState.LOST)
            if state == SourceState.OK and self.bridge.simulator is not None:
                state = SourceState.SIMULATED  # sim:MODEL, or auto with no machine on a port
            machine = SourceStatus(
                "machine", state, st.rate_hz, st.seq_gaps, st.crc_errors, st.message
            )
        return cam, machine

    def pose_fps(self) -> float:
        elapsed = time.monotonic() - self.stats.started
        return self.stats.poses / elapsed if elapsed > 0 else math.nan

    def snapshot(self) -> Snapshot:
        cam, machine = self.status()
        snap = self.engine.snapshot(
            self.clock() if not self.open_ended else None,
            frame=self._last_frame,
            camera=cam,
            machine=machine,
            pose_fps=self.pose_fps(),
        )
        storage = self.sink.status() if self.sink is not None else self.storage_problem
        snap = snap if storage is None else replace(snap, storage=storage)
        if self.publisher is not None:
            self._offer_status(snap)
        return snap

    def _offer_status(self, snap: Snapshot) -> None:
        from app.station_publisher import Offer

        events = self.engine.safety_events
        self.publisher.offer(
            Offer(
                snap,
                waiting=self.waiting,
                session_id=self.sink.writer.session_id if self.sink is not None else None,
                safety_kind=str(events[-1].kind) if snap.safety_stop and events else "",
                pain_flag=self.pain_flag,
                visit_patient=self.visit_patient,
            )
        )

    @property
    def limit_reached(self) -> bool:
        """The --max-frames or --seconds limit the user set."""
        if self.opts.max_frames and self.stats.poses >= self.opts.max_frames:
            return True
        secs = self.opts.seconds
        return secs is not None and time.monotonic() - self.stats.started >= secs

    @property
    def finished(self) -> bool:
        if self.limit_reached or self.engine.phases.phase == Phase.DONE:
            return True
        # With a machine attached the session runs on after a recording ends.
        return self.stream is not None and self.stream.exhausted and self.bridge is None

    def restart(self) -> None:
        """Play a landmark replay again from the start as a fresh session (the demo loop)."""
        if not isinstance(self.stream, ReplayPoseStream):
            raise RuntimeError("only a replay can restart")
        replay = self.stream.replay
        self.finish_storage(EndReason.END_OF_SOURCE)  # before the new stream hides that
        self.stream.close()
        replay.rewind()
        self.stream = ReplayPoseStream(replay, paced=self.stream.paced).start()
        self.new_session(self.engine.patient_code)  # stored as a session of its own

    def close(self) -> None:
        self._end_phase = str(self.engine.phases.phase)  # before the end makes it "done"
        end_t = self.engine.now if (self.open_ended or self.replay is not None) else self.clock()
        if self.engine.phases.phase != Phase.DONE:
            self.feed(EndInput(end_t))
        self.dispatch()
        if self.publisher is not None:
            self.snapshot()  # offers the session's last state to the station's status
        if self.stream:
            self.stream.close()
        if self.bridge:
            self.bridge.close()
        if self.video_out is not None:
            self.video_out.close()
        if self.recorder:
            self.recorder.close()
        if self.publisher is not None:
            self.publisher.close()  # publishes the final state offered above

    # -- loops -------------------------------------------------------------------------------

    def run_headless(self, progress: bool = False) -> None:
        if self.replay is not None and is_full_session(self.replay):
            replay_session(self, self.replay)  # machine data and commands, in record order
            self.source_ended = True
            return
        self._run_loop(progress)

    def _run_loop(self, progress: bool) -> None:
        """``progress``: print a line per finished rep (for the clinic's IT person and the
        crash test, which compares them with what storage kept)."""
        period = 1.0 / DISPLAY_FPS
        if progress:
            self.printer = print_rep
        line = ProgressLine(self.opts.choice.spec, self._frames_declared())
        while not self.finished:
            wait = 0.2 if (self.stream is not None and self.bridge is None) else period
            self.pump(wait)
            self.snapshot()
            # Frames estimated so far: a later part of a split video is ahead of the engine.
            line.update(max(self.stats.poses, self.stream.frames_in if self.stream else 0))
            if self.stream is not None and self.stream.error is not None and self.stream.exhausted:
                break
        line.close(self.stats.poses)

    def _frames_declared(self) -> int:
        """The frames the source says it has (0: unknown, or a camera)."""
        stream = self.stream
        if stream is None or stream.live:
            return 0
        count = getattr(stream, "frame_count", 0) or getattr(
            getattr(stream, "source", None), "frame_count", 0
        )
        replay = self.replay or getattr(stream, "replay", None)
        if not count and replay is not None:
            count = len(replay.poses)
        return int(count or 0)


def print_rep(ev: SessionEvent) -> None:
    """One line per finished rep on stdout (--verbose; the crash test reads them)."""
    if isinstance(ev, RepDone):
        rep = ev.rep
        kind = "rep" if rep.counted else "partial"
        print(f"{kind} {rep.index} {rep.start_s:.3f} {rep.end_s:.3f}", flush=True)


def _score(score: float) -> float | None:
    """A form score (0-100) for the JSON summary: one decimal, null without a reference."""
    return round(score, 1) if math.isfinite(score) else None


def summarize(runner: Runner) -> dict:
    eng, st = runner.engine, runner.stats
    wall = time.monotonic() - st.started
    reps = [
        {
            "index": r.index,
            "start_s": round(r.start_s, 3),
            "end_s": round(r.end_s, 3),
            "min_angle_deg": round(r.min_angle_deg, 1),
            "max_angle_deg": round(r.max_angle_deg, 1),
            "range_fraction": round(r.range_fraction, 3),
            "duration_s": round(r.duration_s, 3),
            "tempo_ok": r.tempo_ok,
            "counted": r.counted,
            "faults": list(r.faults),
            "form_score": _score(r.form_score),
        }
        for r in eng.reps
    ]
    med = lambda xs: round(statistics.median(xs) * 1000, 2) if xs else None  # noqa: E731
    p95 = lambda xs: round(float(np.percentile(xs, 95)) * 1000, 2) if xs else None  # noqa: E731
    return {
        "exercise": eng.exercise.id,
        "source": runner.opts.choice.spec,
        "frames": eng.counts.frames,
        "frames_with_pose": eng.counts.frames_with_pose,
        "pose_fps": round(st.poses / wall, 2) if wall > 0 else None,
        "rep_count": eng.rep_count,
        "partial_reps": sum(1 for r in eng.reps if not r.counted),
        "reps": [r for r in reps if r["counted"]],
        "partials": [r for r in reps if not r["counted"]],
        "holds": [
            {
                "start_s": round(h.start_s, 3),
                "end_s": round(h.end_s, 3),
                "hold_s": round(h.hold_s, 3),
                "completed": h.completed,
                "form_score": _score(h.form_score),
            }
            for h in eng.holds
        ],
        "hold_s": round(sum(h.hold_s for h in eng.holds), 3),
        "faults": [{"t": round(t, 3), "key": k, "level": lvl} for t, k, lvl in eng.fault_log],
        "cues": [
            {"t": round(c.t, 3), "key": c.key, "text": c.text, "severity": c.severity.name.lower()}
            for c in eng.cues.log
        ],
        "transitions": [
            {"t": round(tr.t, 3), "from": str(tr.source), "to": str(tr.target), "reason": tr.reason}
            for tr in eng.phases.log
        ],
        "safety_events": [
            {"t": round(e.t, 3), "kind": e.kind, "value": e.value, "limit": e.limit}
            for e in eng.safety_events
        ],
        "targets": {
            "start": eng.targets.start,
            "target": eng.targets.target,
            "pain_free_limit": eng.targets.pain_free_limit,
            "source": eng.targets.source,
        },
        "loading": [
            {
                "tut_s": round(lr.tut_s, 3),
                "in_band_share": round(lr.in_band_share, 3),
                "peak_force_n": round(lr.peak_force_n, 1),
                "mean_force_n": round(lr.mean_force_n, 1),
                "peak_rate_n_s": round(lr.peak_rate_n_s, 1),
                "smoothness_sparc": round(lr.smoothness_sparc, 3),
            }
            for lr in eng.load_reps
        ],
        "fusion_difference_deg_median": (
            round(statistics.median(eng.fusion_differences), 2) if eng.fusion_differences else None
        ),
        "device_samples": st.device_samples,
        "dropped_frames": runner.stream.dropped if runner.stream else 0,
        # A damaged recording or a video that ended early: said here and on stderr.
        "damaged_records_skipped": runner.replay.damaged if runner.replay is not None else 0,
        "source_warnings": [
            w
            for w in (
                runner.replay.damage_note if runner.replay is not None else "",
                runner.stream.warning if runner.stream is not None else "",
            )
            if w
        ],
        "inference_ms_median": med(st.inference_s),
        "latency_ms_median": med(st.latencies_s),
        "latency_ms_p95": p95(st.latencies_s),
        "wall_s": round(wall, 3),
    }
