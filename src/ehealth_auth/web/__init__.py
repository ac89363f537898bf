"""The ASGI app: parses requests, calls the protocol, renders the eHealth envelope."""
