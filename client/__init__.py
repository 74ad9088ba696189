"""Client library and command-line tools for the tokend daemon."""
