"""Who may use the kiosk: PIN hashes, lock-outs that grow, patient sign-in, access alerts.

No pygame and no SQL here: the kiosk screens (``feedback/``) and the store (``storage/``)
call in; the patient CLI (``main.py patient ...``) is how a therapist creates patients.
"""
