"""One video in, a complete output set out: `run` (Settings, Progress, Result, the pipeline) over its `stages`
(reader, analysis, post, bounded channels). Qt-free."""
