"""The certificate registry (持证上岗): what each role needs, who holds what, and the checks."""
