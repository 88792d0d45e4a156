"""Everything that speaks to the Tanmarket CRM open API."""
