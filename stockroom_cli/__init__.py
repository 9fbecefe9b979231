"""`stockroom`: the command-line client of the Stockroom API (not part of the Lambda package)."""
