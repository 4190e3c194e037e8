"""The leaves every layer uses: where things live (paths), output names and the all-or-nothing publish
(outputs), model files, logs, cancel requests, notices, the build's facts, the session journal, the
diagnostic text. Qt-free, stdlib only (plus each other)."""
