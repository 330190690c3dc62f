"""Both cores for a recorded video: the parts' poses come out in frame order, every frame
once, the first part exactly as one model alone gives it; the real model on a real video."""

from __future__ import annotations

import numpy as np

from app.split_stream import MIN_FRAMES_PER_PART, SplitVideoPoseStream, parts_for
from tests.helpers import shared_data
from vision.estimator import PoseEstimator
from vision.sources import VideoFileSource

SQUAT = "wissem_gym_rom/videos/squat.mp4"  # 787 frames, 7 reps


def test_parts_need_enough_frames_and_cores():
    assert parts_for(MIN_FRAMES_PER_PART * 2 - 1, cores=2) == 1
    assert parts_for(787, cores=2) == 2
    assert parts_for(787, cores=1) == 1
    assert parts_for(100_000, cores=16) == 4


def test_split_video_gives_every_frame_in_order():
    path = shared_data(SQUAT)
    stream = SplitVideoPoseStream(str(path), 2).start()
    results = []
    try:
        while not stream.exhausted:
            results += stream.poll(0.2)
    finally:
        stream.close()
    assert stream.error is None
    assert [r.index for r in results] == list(range(787))
    assert all(r.image is None for r in results)  # no frame is held while a part waits
    times = np.array([r.media_time for r in results])
    assert np.allclose(np.diff(times), 1 / 60)
    assert all(r.pose.detected for r in results)
    # The first part is what one model alone gives, frame for frame.
    source = VideoFileSource(path)
    with PoseEstimator(video=True) as est:
        for r in results[:40]:
            frame = source.read()
            alone = est.estimate(frame.image, frame.media_time)
            assert np.array_equal(alone.image, r.pose.image)
    source.close()


def test_skip_lands_on_the_frame_asked_for():
    path = shared_data(SQUAT)
    ahead = VideoFileSource(path)
    for _ in range(300):
        ahead.read()
    expected = ahead.read()
    ahead.close()
    skipped = VideoFileSource(path)
    assert skipped.skip(300)
    frame = skipped.read()
    skipped.close()
    assert frame.index == 300 and np.array_equal(frame.image, expected.image)
