"""Convert a KERAAL BlazePose JSON file into a ``.screc`` recording.

python -m recording.convert IN.json OUT.screc [--exercise ID]
"""

from __future__ import annotations

import argparse
import sys

from recording.format import RecordingWriter
from vision.errors import VisionError
from vision.replay import KERAAL_FPS, load_keraal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recording.convert", description=__doc__)
    parser.add_argument("source", help="KERAAL BlazePose .json file")
    parser.add_argument("out", help="output .screc file")
    parser.add_argument("--exercise", default="", help="exercise id stored in the header")
    args = parser.parse_args(argv)
    try:
        poses = load_keraal(args.source)
    except VisionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    header = {"fps": KERAAL_FPS, "source": "KERAAL BlazePose", "exercise": args.exercise}
    try:
        with RecordingWriter(args.out, header) as w:
            for pose in poses:
                w.pose(pose.timestamp, pose)
    except OSError as exc:  # a missing or read-only folder, a full disk, a name too long
        print(f"error: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"wrote {len(poses)} frames to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
