"""The admin command line `ehealth-auth`."""
