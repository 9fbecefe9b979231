"""Import jobs: the chunked CSV import loop, its cells, and the registry of import kinds."""
