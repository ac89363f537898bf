"""ehealth-auth: the OAuth 2.0 token service of the eHealth system."""

__version__ = "0.1.0"
