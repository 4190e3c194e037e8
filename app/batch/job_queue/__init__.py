"""The queue of videos and its batch, without Qt: shared by the window and the `process` CLI.

- `jobs`: one queued video (`Job`) and its `Status`.
- `queue`: `JobQueue`, the ordered jobs and the run's state machine (`QueueState`): what runs
  next, stop and cancel requests, which rows belong to this batch, the batch's notices (by code).
- `summary`: `FileRow` (one input's line of a `process` run), `BatchSummary` (the batch's counts)
  and the one end-of-batch summary text, in the window's and the terminal's words.

The window (app.gui) only shows this state and forwards the user's actions; app.batch.process runs its
plain loop through the same queue; app.cluster uses the rows and the summary.
"""
