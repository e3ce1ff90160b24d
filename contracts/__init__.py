"""The published language of the platform: what services and partner agencies share.

Every topic's event types and versions (`<service>/events.py`), the national code lists
(`<service>/codes.py`), the id and locality patterns (`ids.py`) and the topic map
(`topics.py`). A service imports only the kernel (`shared`), these contracts and its own
modules; the contracts import nothing but the kernel's envelope and provisioning types.
"""
