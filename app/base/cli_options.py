"""Command-line options that several commands share (`process`, `measures`, `live`): written once
here, at the bottom layer, so each command's module can add its own sub-parser with them."""
from __future__ import annotations

import argparse


def subject_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--patient", default=None, metavar="ID",
                        help="patient ID for the report and the summary (use a study code, not a name)")
    parser.add_argument("--visit", default=None, metavar="LABEL", help="visit label or date, e.g. V2 or 2026-12-03")


def visit_date(text: str) -> str:
    """--visit-date: an ISO date (or date and time), kept as given; argparse's one-line error otherwise."""
    import datetime as dt

    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-03-15") from None
    if when.year < 1990:
        raise argparse.ArgumentTypeError(f"{text!r} is before 1990; write the visit's date as YYYY-MM-DD")
    return text.strip()


def visit_date_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--visit-date", type=visit_date, default=None, metavar="YYYY-MM-DD",
                        help="the visit's date, for recordings that carry no date of their own (`compare` orders "
                             "visits by it; a date in the recording itself still wins)")


def folder_subject_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subject-from-folders", action="store_true",
                        help="videos laid out as PATIENT/VISIT/recording.mp4: take the patient ID and the visit "
                             "label from the two folder names (--patient / --visit still win)")
