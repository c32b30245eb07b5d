"""The archive: every signed consent, the staff who may see it, and the audit trail of who did.

Plain Python on SQLAlchemy 2; the web app, the CLI and the tests share it. `Archive` (in
`service`) is the one entry point, for the consent's lifecycle and as the facade of the rest:
`search` finds consents, `retention` says how long each is kept, `sealing` makes a consent's
sealed PDF, `errors` holds what the archive raises and how a storage failure is worded. `models`
holds the tables, `blobs` where PDF bytes live, `audit` the hash-chained event log, `staff`
the rules of accounts, logins and sessions, and `accounts` the service the staff pages and the
CLI call for them; `setup` the first admin's one-time link. `export` and `backup` (with
`database_copy` and `manifest`) copy the archive out, `verify` compares a file with it.
"""
