"""The body model every part shares: the pose type, the 33 landmark names and the skeleton.

It depends on nothing else in the project, so cameras, recordings, kernels, exercises, the
session and the screens can all speak of a pose without importing each other.
"""
