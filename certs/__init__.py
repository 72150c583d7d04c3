"""The certificate registry (持证上岗, issue #7): what each role needs, who holds what, and the checks."""
