"""Flight delays: will a flight from the feed's airports arrive more than 15 minutes late?"""
