"""The pipeline's stages (docs/ARCHITECTURE.md, "Threads"): a reader thread, the inference loop on
the calling thread and a post thread, joined by bounded channels. Qt-free."""
