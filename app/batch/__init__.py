"""`process` (`process`: plan, run, per-file lines, exit codes) with the queue it shares with the window
(`job_queue`) and its scaling aids (`scale`: shards, resume). Qt-free."""
