"""The standard OAuth 2.0 dialect's own endpoints: client authentication (RFC 6749 §2.3.1),
revocation (RFC 7009) and introspection (RFC 7662). The token endpoint's grants are shared
with the eHealth dialect (protocol/grants/)."""
