"""Live exam core (Qt-free): frame sources, the recorder, landmarks that never hold the display
back, and a session that records and then processes the recording like a dropped file.

The window's camera (Qt Multimedia) is one more frame source and is not built yet; the file and
synthetic sources serve `main.py live --source FILE` and the tests.
"""
