"""Everything drawn or played: patient view, therapist view, kiosk, audio.

pygame is imported only inside this package. The screens read an immutable
``session.snapshot.Snapshot`` and turn input into ``feedback.intents`` values; they never
change session state themselves.
"""
