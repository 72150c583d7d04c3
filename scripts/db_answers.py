"""Exit 0 when the database at the URL given accepts a connection within two seconds."""
import sys

from playhouse.db_url import connect

try:
    db = connect(sys.argv[1], connect_timeout=2)
    db.connect()
    db.execute_sql("SELECT 1")
except Exception as exc:  # any failure to connect means "does not answer"
    print(f"   ({exc.__class__.__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''})")
    sys.exit(1)
sys.exit(0)
