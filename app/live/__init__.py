"""Live exam core (Qt-free): frame sources, the recorder (and its own-thread variant for the
window; never over a kept interrupted recording; a full disk in one sentence), landmarks that never
hold the display back, the rest capture's window, the recording's length against the time it ran
(`timing`: frames missing), and a session that records and then processes the recording like a
dropped file.

The file and synthetic sources serve `main.py live --source FILE` and the tests; the window's
camera (Qt Multimedia) is app/gui/camera_source.py and the live exam window app/gui/live_window.py.
"""
