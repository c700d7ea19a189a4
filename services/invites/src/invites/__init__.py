"""invites: Invitation links, email invitations, redemptions, seat reservations."""
