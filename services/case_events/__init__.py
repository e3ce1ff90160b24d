"""Case events: the child's statutory journey, from referral to leaving care."""
