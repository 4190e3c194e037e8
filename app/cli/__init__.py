"""The command line: `main` (the parser and each command's dispatch), `doctor`. Qt only through the window's
launcher, lazily."""
