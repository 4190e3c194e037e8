# PyInstaller run-time hook (FaceMirror.spec): matplotlib's config and font cache in the user's
# cache folder (macOS ~/Library/Caches/FaceMirror/matplotlib), so the font list is built once,
# not at every start as with PyInstaller's own hook (which the spec leaves out). matplotlib
# stores its bundled fonts' paths relative to its data folder, so moving the app keeps the cache
# valid. An MPLCONFIGDIR set by the user wins; an unusable folder leaves matplotlib's own fallback.
def _facemirror_mplconfig():
    import os

    if os.environ.get("MPLCONFIGDIR"):
        return
    from app.base import paths

    folder = paths.user_cache_dir() / "matplotlib"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    os.environ["MPLCONFIGDIR"] = str(folder)


_facemirror_mplconfig()
del _facemirror_mplconfig
