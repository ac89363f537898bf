"""The browser pages of the authorization-code flow: sign in, consent, back to the MIS."""
