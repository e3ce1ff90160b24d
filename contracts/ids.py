"""Id and locality patterns every service and partner shares (a child's pseudonymous id is
the Kafka key and the stream id of every child-level stream)."""

from string import ascii_uppercase

# The marker of a field naming the council's reference data (a locality, a school, a team, a
# social worker): declared in the kernel, which checks it; published here with the ids.
from shared.commands import Referenced as Referenced

CHILD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$"
LOCALITY_PATTERN = r"^[A-Za-z][A-Za-z &'-]{0,62}[A-Za-z]$"
# A recording system's id for a record (a plan, a placement, an escalation...).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
URN_PATTERN = r"^[0-9]{6}$"
# Ids of the council's own workforce and teams (pseudonymous: never a name).
WORKER_ID_PATTERN = ID_PATTERN
# A postcode's outward code (district), as precise as the returns need a place to be.
POSTCODE_DISTRICT_PATTERN = r"^[A-Z]{1,2}[0-9][A-Z0-9]?$"
# An Ofsted unique reference number (SSDA903's URN): a children's social care provider's SC and
# six digits, or seven digits; XXXXXXX where Ofsted has none (a regional adoption agency).
OFSTED_URN_PATTERN = r"^(SC[0-9]{6}|[0-9]{7}|XXXXXXX)$"
# A local authority's DfE code (three digits), e.g. 878 for Devon.
LA_CODE_PATTERN = r"^[0-9]{3}$"

# The Unique Pupil Number: a check letter, then 12 characters (the last a letter in a
# temporary UPN). DfE "A guide to the unique pupil number": weights 2..13 on characters
# 2..13, the sum modulo 23 indexes this alphabet (which also values a 13th-character letter):
# the 26 capitals without I, O and S, which read as digits.
UPN_PATTERN = r"^[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$"
UPN_LETTERS = "".join(c for c in ascii_uppercase if c not in "IOS")


def upn_check_letter(upn: str) -> str:
    """The check letter a UPN's last 12 characters give (its first character must be this)."""
    total = 0
    for weight, char in enumerate(upn[1:13], start=2):
        total += weight * (int(char) if char.isdigit() else UPN_LETTERS.index(char))
    return UPN_LETTERS[total % 23]
