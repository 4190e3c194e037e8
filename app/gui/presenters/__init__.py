"""The main window's decisions without Qt (issue 34: a thin view over tested presenters).

- `actions`: the window's busy state as one value (`Busy`) and `enabled_actions(state)`, which
  actions and options are usable in a state.
- `adding`: the rules for added files (added, queued again, already finished, duplicate, refused)
  and the notes said about them; the notes of Retry.

Nothing here imports Qt (an import-linter contract and tests/test_presenters.py hold it), so each
rule is tested on its own, fast, without a display.
"""
