"""Generated documents (certificate packs): pure rendering, no AWS and no HTTP.

Modules here take core data and return bytes. The PDF libraries they use are
imported inside functions, so importing `app` never loads them.
"""
