"""Camera and recording sources, pose estimation. MediaPipe types never leave this package."""
