"""The patient view's panels: each lays out and draws one region of the window.

The patient view (``feedback.patient_view``) draws them in a fixed order, each into its own
rectangle of ``feedback.patient_layout.PatientLayout``:

1. ``top_bar``: the exercise's name, the sound control and the pause button;
2. ``camera``: the camera image (or the landmark canvas), the ghost and the skeleton;
3. ``phase_overlay``: over the image, the countdown, the pause notice, the rest and the end
   with the set summary;
4. ``side``: the counter boxes (reps, range, load, tempo, hold) or, in a rest, an education
   card;
5. ``messages``: the cue bar, the source banner and, over everything, the safety stop.
"""
