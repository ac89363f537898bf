"""Operator actions (admin CLI and admin API): the service and the listings' query parameters."""

from ehealth_auth.protocol.admin.service import SECRET_BYTES, AdminService

__all__ = ["SECRET_BYTES", "AdminService"]
