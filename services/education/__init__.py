"""Education: enrolments, attendance, Year 11 destinations, EET activity for 16-25."""
