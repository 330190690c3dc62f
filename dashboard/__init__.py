"""The therapist dashboard: a small web app on the clinic's database (``main.py dashboard``).

Server-rendered pages, every asset shipped in ``dashboard/static``; the station grid updates
live through Server-Sent Events fed by the stations' status (``storage.station_status``).
"""
