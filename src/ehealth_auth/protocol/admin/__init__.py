"""Operator actions (admin CLI and admin API): the service, its field checks, listing queries."""

from ehealth_auth.protocol.admin.service import SECRET_BYTES, AdminService, NewClient, NewSecret
from ehealth_auth.protocol.approvals import SCOPE_NOT_ALLOWED

__all__ = ["SCOPE_NOT_ALLOWED", "SECRET_BYTES", "AdminService", "NewClient", "NewSecret"]
