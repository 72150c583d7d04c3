"""The demo door: the whole product on this machine, and a scripted phone that drives it over HTTP."""
