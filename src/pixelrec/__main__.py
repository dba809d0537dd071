"""`python -m pixelrec` == the `pixelrec` console command."""

from pixelrec.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
