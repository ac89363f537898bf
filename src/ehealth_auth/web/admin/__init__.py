"""The admin API (CONTRACT §4): the admin-key guard, the routes of each resource, and the
parsing and rendering they share."""
