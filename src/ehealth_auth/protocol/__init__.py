"""Pure OAuth 2.0 / eHealth protocol logic. Imports no web framework and no database library."""
