"""`--self-test`: backend proof, H.264 through both FFmpeg copies, plots, the window (`run`); the media checks
(`media`)."""
