"""Features built on the shared core: one package each.

A feature imports the core and its own modules. Another feature is reached
only through that feature's package (`from chalicelib.features.orders import
LineItem`), which names what it offers; never through its modules.
"""
