"""Sample workbooks and the scripts that build them."""
