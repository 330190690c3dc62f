"""The assessment in a window: the therapist's screen for ``main.py assess``.

Once a display frame: the session takes what the machine or camera delivered, the screen draws
the runner's view; the buttons and keys become the runner's commands. At the end the summary
(every result against its norm, asymmetries and ratios) stays up until Close.
"""

from __future__ import annotations

import time
from typing import Any

from app.assess import DISPLAY_FPS, AssessmentSession, apply_action


def run_window(session: AssessmentSession, store: Any, patient_code: str) -> None:
    import pygame

    from assessment.norms import load_norms
    from assessment.results import compare_results, norm_note
    from clinic.assessments import facts
    from feedback import assessment_view as av
    from feedback.app_window import open_display

    norms = load_norms()
    who = facts(store.get_patient(patient_code))
    protocol = session.runner.protocol

    def note(result):  # the norm of one finished test, for the result screen
        test = protocol.test(result.test_id)
        return norm_note(test.norm_test, test.no_norm, result.value, norms, who)

    pygame.init()
    surface = open_display()
    screen = av.AssessmentScreen(patient_code, note)
    runner = session.runner
    clock = pygame.time.Clock()
    try:
        while True:
            session.pump()
            screen.update(runner.view())
            if runner.finished and screen.compared is None:
                screen.compared = compare_results(protocol, runner.results, norms, who)
            actions: list[str] = []
            for event in pygame.event.get():
                if event.type == pygame.QUIT:
                    actions.append(av.END if not runner.finished else av.CLOSE)
                actions += screen.handle_event(event)
            for action in actions:
                apply_action(runner, action)
            if av.CLOSE in actions and runner.finished:
                return
            screen.draw(surface)
            pygame.display.flip()
            clock.tick(DISPLAY_FPS)
            time.sleep(0)
    finally:
        pygame.quit()
