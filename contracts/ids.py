"""Id and locality patterns every service and partner shares (a child's pseudonymous id is
the Kafka key and the stream id of every child-level stream)."""

CHILD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$"
LOCALITY_PATTERN = r"^[A-Za-z][A-Za-z &'-]{0,62}[A-Za-z]$"
# A recording system's id for a record (a plan, a placement, an escalation...).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
URN_PATTERN = r"^[0-9]{6}$"
