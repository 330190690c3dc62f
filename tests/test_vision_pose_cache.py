"""The on-disk cache of a video's MediaPipe poses used for re-analysis."""

from __future__ import annotations

import numpy as np

from tests.helpers import shared_data
from vision.pose_cache import cache_path, estimator_settings, video_poses

PUSHUP = "kaiakol_computervision/data/videos/pushup_correct_001.mp4"  # 61 frames


def test_cache_key_follows_the_video_bytes(tmp_path):
    a = tmp_path / "clip.mp4"
    a.write_bytes(b"first version of the clip")
    key_a = cache_path(a, tmp_path)
    assert key_a == cache_path(a, tmp_path)  # stable
    a.write_bytes(b"second version of the clip")
    assert cache_path(a, tmp_path) != key_a  # a changed video is estimated again
    settings = estimator_settings()
    assert settings["model_complexity"] == 1
    assert settings["estimator"] == {"video": True, "min_detection": 0.5, "min_tracking": 0.5}


def test_poses_are_estimated_once_then_read_back_unchanged(tmp_path):
    video = shared_data(PUSHUP)
    first = video_poses(video, tmp_path)
    assert not first.from_cache and len(first.poses) == 61
    assert first.size == (640, 360) and first.fps == 25.0
    files = list(tmp_path.glob("*.npz"))
    assert [f.name for f in files] == [cache_path(video, tmp_path).name]
    again = video_poses(video, tmp_path)
    assert again.from_cache and again.aspect == first.aspect
    for p, q in zip(first.poses, again.poses, strict=True):
        assert p.timestamp == q.timestamp and p.detected == q.detected
        np.testing.assert_array_equal(p.image, q.image)
        np.testing.assert_array_equal(p.world, q.world)
    assert [p.timestamp for p in first.poses][:3] == [0.0, 0.04, 0.08]  # media time


def test_a_damaged_cache_file_is_estimated_again(tmp_path):
    video = shared_data(PUSHUP)
    target = cache_path(video, tmp_path)
    target.write_bytes(b"not an npz file")
    result = video_poses(video, tmp_path)
    assert not result.from_cache and len(result.poses) == 61
    assert video_poses(video, tmp_path).from_cache
