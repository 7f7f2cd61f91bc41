"""Messages for the owner: taken from each ended call, delivered by e-mail, Telegram and SMS."""
