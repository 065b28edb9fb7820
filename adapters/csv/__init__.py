"""The CSV input files: reading and validating them, and read-only repositories over a folder."""
