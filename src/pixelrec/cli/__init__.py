"""The `pixelrec` command line: one thin module per subcommand over the package's entry functions."""
